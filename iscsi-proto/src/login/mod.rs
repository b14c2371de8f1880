//! The iSCSI login phase (RFC 7143 §6), initiator side, as a pure state machine.
//!
//! [`Login::start`] yields the first Login Request; every Login Response goes to
//! [`Login::handle`], which yields the next request or, once the target grants full-feature
//! phase, the negotiated [`SessionParams`] and the sequence numbers a [`Session`] starts from.
//!
//! Security stage: AuthMethod=None, or CHAP (CHAP_A=5, MD5) one-way or mutual. Operational
//! stage: the [`Negotiator`] offers and checks every key. Text split across responses with the C
//! bit is reassembled (bounded) before it is interpreted.
//!
//! [`Session`]: crate::session::Session

mod error;
#[cfg(test)]
mod tests;

pub use error::LoginError;

use rand::RngCore;

use crate::chap::{ChapCredentials, ChapInitiator};
use crate::negotiation::{Negotiator, OperationalConfig, SessionParams, SessionType};
use crate::pdu::{Header, LoginRequest, LoginResponse, Pdu, Stage};
use crate::serial::Sn;
use crate::session::SessionStart;
use crate::text::{self, TextAssembler};

/// Largest login text we send in one PDU: the RFC default MaxRecvDataSegmentLength, which
/// every target accepts before anything is negotiated.
const MAX_LOGIN_SEGMENT: usize = 8192;

/// Login Request / Login Response exchanges after which a login that has not reached
/// full-feature phase is given up ([`LoginError::TooManyExchanges`]).
///
/// A real login needs a handful: the security stage takes one exchange without
/// authentication and three or four with CHAP (AuthMethod, CHAP_A, CHAP_N/CHAP_R, perhaps
/// another request for the transit), the operational stage one to three (offers, answers to
/// the target's own keys, the transit), and a continued response one empty request per
/// further part. 32 is far above all of that together, and still stops a target that never
/// lets the login end (or feeds it text in tiny parts) after as many round trips, instead of
/// going round as fast as the network allows until the caller's timeout.
pub const MAX_LOGIN_EXCHANGES: u32 = 32;

/// Who logs in to what, and how.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    pub initiator_name: String,
    pub initiator_alias: Option<String>,
    /// Required for a normal session; absent for discovery.
    pub target_name: Option<String>,
    pub session_type: SessionType,
    pub isid: [u8; 6],
    /// 0 for a new session; the old TSIH to reinstate one.
    pub tsih: u16,
    pub cid: u16,
    pub itt: u32,
    /// CmdSN of the login requests; the first command after login uses it too.
    pub cmdsn: u32,
    /// Our CHAP name and secret, if the target must authenticate us.
    pub chap: Option<ChapCredentials>,
    /// The target's CHAP name and secret, if we authenticate the target too (mutual CHAP).
    pub mutual_chap: Option<ChapCredentials>,
    pub operational: OperationalConfig,
}

impl LoginConfig {
    /// A new normal session to `target` with default operational wishes and no CHAP; the
    /// first command after login takes CmdSN 1.
    pub fn normal(initiator_name: &str, target: &str, isid: [u8; 6]) -> LoginConfig {
        LoginConfig {
            target_name: Some(target.to_owned()),
            session_type: SessionType::Normal,
            ..LoginConfig::discovery(initiator_name, isid)
        }
    }

    /// A new discovery session (SendTargets) with default operational wishes and no CHAP.
    pub fn discovery(initiator_name: &str, isid: [u8; 6]) -> LoginConfig {
        LoginConfig {
            initiator_name: initiator_name.to_owned(),
            initiator_alias: None,
            target_name: None,
            session_type: SessionType::Discovery,
            isid,
            tsih: 0,
            cid: 0,
            itt: 0,
            cmdsn: 1,
            chap: None,
            mutual_chap: None,
            operational: OperationalConfig::default(),
        }
    }
}

/// An ISID of the "random" format (T = 10b): 24 random bits, then a qualifier that tells the
/// sessions of one initiator apart (we use the queue index).
pub fn random_isid(rng: &mut impl RngCore, qualifier: u16) -> [u8; 6] {
    let mut random = [0u8; 3];
    rng.fill_bytes(&mut random);
    let q = qualifier.to_be_bytes();
    [0x80, random[0], random[1], random[2], q[0], q[1]]
}

/// What the owner does next.
#[derive(Debug)]
pub enum LoginStep {
    /// Send this Login Request and feed the response back.
    Send(Pdu),
    /// Full-feature phase reached.
    Complete(LoginOutcome),
}

/// The result of a successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    pub params: SessionParams,
    pub tsih: u16,
    pub start: SessionStart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// First security request sent, waiting for AuthMethod.
    AuthMethod,
    /// CHAP_A sent, waiting for CHAP_A / CHAP_I / CHAP_C.
    ChapChallenge,
    /// CHAP_N / CHAP_R sent with T=1, waiting for the transit (and the mutual proof).
    ChapProof,
    /// Operational keys sent, waiting for the transit to full-feature phase.
    Operational,
    Done,
}

/// One login, initiator side.
#[derive(Debug)]
pub struct Login {
    config: LoginConfig,
    phase: Phase,
    negotiator: Option<Negotiator>,
    chap: Option<ChapInitiator>,
    assembler: TextAssembler,
    /// The stage/transit of our last request, to check the response against.
    sent: (Stage, Stage, bool),
    expstatsn: Option<Sn>,
    expcmdsn: u32,
    maxcmdsn: u32,
    tsih: u16,
    /// Login Responses handled so far: one per finished request/response exchange.
    exchanges: u32,
}

impl Login {
    /// Checks the configuration and builds the first Login Request.
    pub fn start(config: LoginConfig) -> Result<(Login, Pdu), LoginError> {
        if config.session_type == SessionType::Normal && config.target_name.is_none() {
            return Err(LoginError::MissingTargetName);
        }
        let negotiator = Negotiator::new(config.operational.clone(), config.session_type)?;
        let chap = match &config.chap {
            Some(creds) => Some(ChapInitiator::new(
                creds.clone(),
                config.mutual_chap.clone(),
            )?),
            None if config.mutual_chap.is_some() => return Err(LoginError::MutualWithoutInitiator),
            None => None,
        };
        let mut pairs = vec![
            ("InitiatorName".to_owned(), config.initiator_name.clone()),
            (
                "SessionType".to_owned(),
                config.session_type.as_str().to_owned(),
            ),
        ];
        if let Some(alias) = &config.initiator_alias {
            pairs.push(("InitiatorAlias".to_owned(), alias.clone()));
        }
        if let Some(target) = &config.target_name {
            pairs.push(("TargetName".to_owned(), target.clone()));
        }
        let auth = if chap.is_some() { "CHAP" } else { "None" };
        pairs.push(("AuthMethod".to_owned(), auth.to_owned()));
        let mut login = Login {
            tsih: config.tsih,
            config,
            phase: Phase::AuthMethod,
            negotiator: Some(negotiator),
            chap,
            assembler: TextAssembler::new(),
            sent: (Stage::Security, Stage::Operational, false),
            expstatsn: None,
            expcmdsn: 0,
            maxcmdsn: 0,
            exchanges: 0,
        };
        // Without authentication the security stage is a single exchange: ask to move on now.
        let transit = login.chap.is_none();
        let pdu = login.request(Stage::Security, Stage::Operational, transit, &pairs)?;
        Ok((login, pdu))
    }

    fn request(
        &mut self,
        csg: Stage,
        nsg: Stage,
        transit: bool,
        pairs: &[(String, String)],
    ) -> Result<Pdu, LoginError> {
        let data = text::encode(pairs)?;
        if data.len() > MAX_LOGIN_SEGMENT {
            return Err(LoginError::Protocol(format!(
                "login text of {} bytes exceeds {MAX_LOGIN_SEGMENT}",
                data.len()
            )));
        }
        self.sent = (csg, nsg, transit);
        Ok(Pdu::new(
            Header::LoginRequest(LoginRequest {
                transit,
                cont: false,
                csg,
                nsg: if transit { nsg } else { Stage::Security },
                version_max: 0,
                version_min: 0,
                isid: self.config.isid,
                tsih: self.tsih,
                itt: self.config.itt,
                cid: self.config.cid,
                cmdsn: self.config.cmdsn,
                expstatsn: self.expstatsn.map_or(0, |s| s.0),
            }),
            data,
        ))
    }

    /// Handles one Login Response.
    ///
    /// After [`MAX_LOGIN_EXCHANGES`] exchanges it fails with [`LoginError::TooManyExchanges`]
    /// instead of sending yet another request (a response that completes the login still
    /// completes it).
    pub fn handle(&mut self, pdu: &Pdu, rng: &mut impl RngCore) -> Result<LoginStep, LoginError> {
        self.exchanges = self.exchanges.saturating_add(1);
        let step = self.handle_response(pdu, rng)?;
        if matches!(step, LoginStep::Send(_)) && self.exchanges >= MAX_LOGIN_EXCHANGES {
            return Err(LoginError::TooManyExchanges(self.exchanges));
        }
        Ok(step)
    }

    fn handle_response(
        &mut self,
        pdu: &Pdu,
        rng: &mut impl RngCore,
    ) -> Result<LoginStep, LoginError> {
        let Header::LoginResponse(resp) = &pdu.header else {
            return Err(LoginError::Protocol(format!(
                "expected a Login Response, got {:?}",
                pdu.header.opcode()
            )));
        };
        self.check_response(resp, &pdu.data)?;
        let Some(pairs) = self.assembler.push(&pdu.data, resp.cont)? else {
            // More text follows: ask for it with an empty request in the same stage. The
            // transit we asked for before still stands for the response that ends the text.
            let (csg, nsg, transit) = self.sent;
            let more = self.request(csg, nsg, false, &[])?;
            self.sent.2 = transit;
            return Ok(LoginStep::Send(more));
        };
        match self.phase {
            Phase::AuthMethod => self.on_auth_method(resp, &pairs),
            Phase::ChapChallenge => self.on_chap_challenge(resp, &pairs, rng),
            Phase::ChapProof => self.on_chap_proof(resp, &pairs),
            Phase::Operational => self.on_operational(resp, &pairs),
            Phase::Done => Err(LoginError::Protocol(
                "response after login completed".into(),
            )),
        }
    }

    /// Status, tags and stages of a response; sequence numbers are taken from it.
    fn check_response(&mut self, resp: &LoginResponse, data: &[u8]) -> Result<(), LoginError> {
        if resp.status_class == 1 {
            let addresses = text::parse(data)
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| k == "TargetAddress")
                .map(|(_, v)| v)
                .collect();
            return Err(LoginError::Redirected {
                temporary: resp.status_detail == 1,
                addresses,
            });
        }
        if resp.status_class != 0 {
            return Err(LoginError::Refused {
                class: resp.status_class,
                detail: resp.status_detail,
            });
        }
        if resp.itt != self.config.itt {
            return Err(LoginError::Protocol(format!(
                "response ITT 0x{:08x}, ours is 0x{:08x}",
                resp.itt, self.config.itt
            )));
        }
        if resp.isid != self.config.isid {
            return Err(LoginError::Protocol("response carries another ISID".into()));
        }
        if resp.version_active != 0 {
            return Err(LoginError::Protocol(format!(
                "unsupported iSCSI version {}",
                resp.version_active
            )));
        }
        let (csg, nsg, transit) = self.sent;
        if resp.csg != csg {
            return Err(LoginError::Protocol(format!(
                "response in stage {:?}, we are in {:?}",
                resp.csg, csg
            )));
        }
        if resp.transit && (!transit || resp.nsg as u8 > nsg as u8 || resp.cont) {
            return Err(LoginError::Protocol(format!(
                "target transits to {:?} without our consent",
                resp.nsg
            )));
        }
        self.expstatsn = Some(Sn(resp.statsn).next());
        self.expcmdsn = resp.expcmdsn;
        self.maxcmdsn = resp.maxcmdsn;
        if resp.tsih != 0 {
            self.tsih = resp.tsih;
        }
        Ok(())
    }

    /// An empty security-stage request that asks again for the move to the operational stage.
    fn ask_transit(&mut self) -> Result<LoginStep, LoginError> {
        Ok(LoginStep::Send(self.request(
            Stage::Security,
            Stage::Operational,
            true,
            &[],
        )?))
    }

    fn negotiator(&mut self) -> Result<&mut Negotiator, LoginError> {
        self.negotiator
            .as_mut()
            .ok_or_else(|| LoginError::Protocol("negotiation already finished".into()))
    }

    fn on_auth_method(
        &mut self,
        resp: &LoginResponse,
        pairs: &[(String, String)],
    ) -> Result<LoginStep, LoginError> {
        self.negotiator()?.record_target_declarations(pairs)?;
        let offered = if self.chap.is_some() { "CHAP" } else { "None" };
        let answer = find(pairs, "AuthMethod");
        match answer {
            Some(a) if a == offered => {}
            // A target that needs no authentication may skip the key when we offered None.
            None if self.chap.is_none() => {}
            other => {
                return Err(LoginError::AuthMethod {
                    offered: offered.into(),
                    answer: other.unwrap_or("(nothing)").into(),
                })
            }
        }
        match &self.chap {
            Some(chap) => {
                let offer = chap.algorithm_offer();
                self.phase = Phase::ChapChallenge;
                Ok(LoginStep::Send(self.request(
                    Stage::Security,
                    Stage::Operational,
                    false,
                    &offer,
                )?))
            }
            None if resp.transit => self.begin_operational(resp.nsg),
            // The target wants another round before moving on: ask for the transit again.
            None => self.ask_transit(),
        }
    }

    fn on_chap_challenge(
        &mut self,
        _resp: &LoginResponse,
        pairs: &[(String, String)],
        rng: &mut impl RngCore,
    ) -> Result<LoginStep, LoginError> {
        self.negotiator()?.record_target_declarations(pairs)?;
        let chap = self
            .chap
            .as_mut()
            .ok_or_else(|| LoginError::Protocol("CHAP challenge without CHAP".into()))?;
        let answer = chap.respond(pairs, rng)?;
        self.phase = Phase::ChapProof;
        Ok(LoginStep::Send(self.request(
            Stage::Security,
            Stage::Operational,
            true,
            &answer,
        )?))
    }

    fn on_chap_proof(
        &mut self,
        resp: &LoginResponse,
        pairs: &[(String, String)],
    ) -> Result<LoginStep, LoginError> {
        if let Some(chap) = self.chap.as_mut() {
            if chap.awaits_target_proof() {
                if !resp.transit && find(pairs, "CHAP_R").is_none() {
                    // Not there yet: keep asking for the transit.
                    return self.ask_transit();
                }
                chap.verify_target(pairs)?;
            }
        }
        if !resp.transit {
            return self.ask_transit();
        }
        self.begin_operational(resp.nsg)
    }

    fn begin_operational(&mut self, granted: Stage) -> Result<LoginStep, LoginError> {
        if granted == Stage::FullFeature {
            // The target skipped the operational stage: every key takes its default.
            return self.complete();
        }
        let offers = self.negotiator()?.offers();
        self.phase = Phase::Operational;
        Ok(LoginStep::Send(self.request(
            Stage::Operational,
            Stage::FullFeature,
            true,
            &offers,
        )?))
    }

    fn on_operational(
        &mut self,
        resp: &LoginResponse,
        pairs: &[(String, String)],
    ) -> Result<LoginStep, LoginError> {
        let answers = self.negotiator()?.handle_target_pairs(pairs)?;
        if resp.transit {
            if !self.negotiator()?.is_complete() {
                return Err(LoginError::Protocol(
                    "target ended the operational stage with our offers unanswered".into(),
                ));
            }
            return self.complete();
        }
        Ok(LoginStep::Send(self.request(
            Stage::Operational,
            Stage::FullFeature,
            true,
            &answers,
        )?))
    }

    fn complete(&mut self) -> Result<LoginStep, LoginError> {
        let negotiator = self
            .negotiator
            .take()
            .ok_or_else(|| LoginError::Protocol("negotiation already finished".into()))?;
        let params = negotiator.finish()?;
        if self.tsih == 0 && self.config.session_type == SessionType::Normal {
            return Err(LoginError::Protocol(
                "target granted full-feature phase without a TSIH".into(),
            ));
        }
        self.phase = Phase::Done;
        let statsn = self.expstatsn.map_or(0, |s| s.0.wrapping_sub(1));
        Ok(LoginStep::Complete(LoginOutcome {
            params,
            tsih: self.tsih,
            start: SessionStart {
                cmdsn: self.config.cmdsn,
                statsn,
                expcmdsn: self.expcmdsn,
                maxcmdsn: self.maxcmdsn,
            },
        }))
    }
}

fn find<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}
