//! The target side of a plain login (no authentication), with the two login misbehaviours.

use std::io;
use std::net::TcpStream;

use iscsi_proto::pdu::{Header, LoginRequest, LoginResponse, Stage};
use iscsi_proto::text;

use super::wire::{read_header, send};
use super::{Scenario, Shared, BAD_STATUS_CLASS, BAD_STATUS_DETAIL, SLOW_LOGIN_DELAY, TSIH};

/// The MaxRecvDataSegmentLength the hostile target declares.
pub const TARGET_MAX_RECV_DATA_SEGMENT: u32 = 262_144;
/// Its MaxBurstLength and FirstBurstLength at most.
const MAX_BURST: u64 = 262_144;
const FIRST_BURST: u64 = 65_536;
/// The target's first StatSN.
const FIRST_STATSN: u32 = 0x100;
/// The command window it opens.
pub(super) const WINDOW: u32 = 32;

/// Where the login left the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LoggedIn {
    /// The StatSN of the next status.
    pub statsn: u32,
    /// The next CmdSN expected.
    pub expcmdsn: u32,
}

/// Our answer to one operational key the initiator offered; `None` for declarative keys (we
/// declare our own values instead).
fn answer(key: &str, value: &str) -> Option<String> {
    let capped = |cap: u64| {
        value
            .parse::<u64>()
            .map_or(value.to_owned(), |offer| offer.min(cap).to_string())
    };
    Some(match key {
        "HeaderDigest" | "DataDigest" => "None".into(),
        // Every write waits for an R2T, so R2T scenarios see no unsolicited data.
        "InitialR2T" => "Yes".into(),
        "ImmediateData" => "No".into(),
        "MaxBurstLength" => capped(MAX_BURST),
        "FirstBurstLength" => capped(FIRST_BURST),
        "ErrorRecoveryLevel" => "0".into(),
        "MaxConnections" | "MaxOutstandingR2T" => "1".into(),
        "MaxRecvDataSegmentLength" => return None,
        _ => value.to_owned(),
    })
}

fn operational_answers(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let mut answers: Vec<(String, String)> = pairs
        .iter()
        .filter_map(|(key, value)| answer(key, value).map(|a| (key.clone(), a)))
        .collect();
    answers.push((
        "MaxRecvDataSegmentLength".into(),
        TARGET_MAX_RECV_DATA_SEGMENT.to_string(),
    ));
    answers
}

/// Answers Login Requests until the initiator reaches full-feature phase (`Some`), or the
/// scenario's login misbehaviour ends it (`None`, once the initiator has gone).
pub(super) fn serve_login(
    stream: &mut TcpStream,
    scenario: Scenario,
    shared: &Shared,
) -> io::Result<Option<LoggedIn>> {
    let mut statsn = FIRST_STATSN;
    let mut first_security_answer = true;
    loop {
        let Some((header, data)) = read_header(stream)? else {
            return Ok(None);
        };
        let Header::LoginRequest(request) = header else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected a Login Request, got {:?}", header.opcode()),
            ));
        };
        shared.update(|r| r.login_rounds += 1);
        let pairs = text::parse(&data).unwrap_or_default();
        let mut response = response_to(&request, statsn);
        statsn = statsn.wrapping_add(1);
        match scenario {
            Scenario::BadLoginStatus => {
                response.status_class = BAD_STATUS_CLASS;
                response.status_detail = BAD_STATUS_DETAIL;
                shared.update(|r| r.misbehaved = true);
                send(stream, Header::LoginResponse(response), &[])?;
                return Ok(None);
            }
            Scenario::EndlessLogin | Scenario::SlowLogin => {
                // Never consent to the transit, never say anything: the initiator can only
                // ask again.
                shared.update(|r| r.misbehaved = true);
                if scenario == Scenario::SlowLogin {
                    std::thread::sleep(SLOW_LOGIN_DELAY);
                }
                send(stream, Header::LoginResponse(response), &[])?;
                continue;
            }
            _ => {}
        }
        let answers = match request.csg {
            Stage::Security if first_security_answer => {
                first_security_answer = false;
                vec![
                    ("AuthMethod".to_owned(), "None".to_owned()),
                    ("TargetPortalGroupTag".to_owned(), "1".to_owned()),
                ]
            }
            Stage::Security => Vec::new(),
            _ => operational_answers(&pairs),
        };
        let full_feature = request.transit && request.nsg == Stage::FullFeature;
        if request.transit {
            response.transit = true;
            response.nsg = request.nsg;
        }
        if full_feature {
            response.tsih = TSIH;
        }
        let data = text::encode(&answers)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        send(stream, Header::LoginResponse(response), &data)?;
        if full_feature {
            shared.update(|r| r.logged_in = true);
            return Ok(Some(LoggedIn {
                statsn,
                expcmdsn: request.cmdsn,
            }));
        }
    }
}

/// A success response in the request's stage, without transit.
pub(super) fn response_to(request: &LoginRequest, statsn: u32) -> LoginResponse {
    LoginResponse {
        transit: false,
        cont: false,
        csg: request.csg,
        nsg: Stage::Security,
        version_max: 0,
        version_active: 0,
        isid: request.isid,
        tsih: 0,
        itt: request.itt,
        statsn,
        expcmdsn: request.cmdsn,
        maxcmdsn: request.cmdsn.wrapping_add(WINDOW - 1),
        status_class: 0,
        status_detail: 0,
    }
}
