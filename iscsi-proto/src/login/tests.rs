//! Login against a scripted target.

use super::*;
use crate::chap::binary::{decode_binary_value, encode_hex};
use crate::chap::response::chap_md5_response;
use crate::negotiation::DigestPreference;
use rand::rngs::mock::StepRng;

const ISID: [u8; 6] = [0x80, 1, 2, 3, 0, 0];
const TARGET: &str = "iqn.2026-11.test:disk";

fn config() -> LoginConfig {
    LoginConfig {
        itt: 0x1000,
        ..LoginConfig::normal("iqn.2026-11.test:initiator", TARGET, ISID)
    }
}

fn rng() -> StepRng {
    StepRng::new(7, 13)
}

fn pairs_of(pdu: &Pdu) -> Vec<(String, String)> {
    text::parse(&pdu.data).unwrap()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    find(pairs, key)
}

fn request_of(pdu: &Pdu) -> &LoginRequest {
    match &pdu.header {
        Header::LoginRequest(r) => r,
        other => panic!("not a login request: {other:?}"),
    }
}

/// The target's answer to `req` with these pairs; `transit` grants `req.nsg`.
fn answer(req: &LoginRequest, transit: bool, pairs: &[(&str, &str)], tsih: u16) -> Pdu {
    Pdu::new(
        Header::LoginResponse(LoginResponse {
            transit,
            cont: false,
            csg: req.csg,
            nsg: if transit { req.nsg } else { Stage::Security },
            isid: req.isid,
            tsih,
            itt: req.itt,
            statsn: 41,
            expcmdsn: req.cmdsn,
            maxcmdsn: req.cmdsn + 31,
            ..Default::default()
        }),
        text::encode(pairs).unwrap(),
    )
}

fn refusal(req: &LoginRequest, class: u8, detail: u8, pairs: &[(&str, &str)]) -> Pdu {
    let mut pdu = answer(req, false, pairs, 0);
    if let Header::LoginResponse(r) = &mut pdu.header {
        r.status_class = class;
        r.status_detail = detail;
    }
    pdu
}

const OPERATIONAL_ANSWERS: [(&str, &str); 14] = [
    ("HeaderDigest", "None"),
    ("DataDigest", "None"),
    ("DefaultTime2Wait", "2"),
    ("DefaultTime2Retain", "0"),
    ("ErrorRecoveryLevel", "0"),
    ("InitialR2T", "Yes"),
    ("ImmediateData", "Yes"),
    ("MaxBurstLength", "262144"),
    ("FirstBurstLength", "65536"),
    ("MaxOutstandingR2T", "1"),
    ("MaxConnections", "1"),
    ("DataPDUInOrder", "Yes"),
    ("DataSequenceInOrder", "Yes"),
    ("MaxRecvDataSegmentLength", "8192"),
];

fn finish_operational(login: &mut Login, pdu: &Pdu) -> LoginOutcome {
    let req = request_of(pdu);
    assert_eq!(
        (req.csg, req.nsg, req.transit),
        (Stage::Operational, Stage::FullFeature, true)
    );
    let offers = pairs_of(pdu);
    assert_eq!(get(&offers, "InitialR2T"), Some("No"));
    assert_eq!(get(&offers, "MaxRecvDataSegmentLength"), Some("262144"));
    match login
        .handle(&answer(req, true, &OPERATIONAL_ANSWERS, 0x22), &mut rng())
        .unwrap()
    {
        LoginStep::Complete(outcome) => outcome,
        LoginStep::Send(p) => panic!("unexpected request {p:?}"),
    }
}

#[test]
fn login_without_authentication() {
    let (mut login, first) = Login::start(config()).unwrap();
    let req = request_of(&first);
    assert_eq!(
        (req.csg, req.nsg, req.transit),
        (Stage::Security, Stage::Operational, true)
    );
    assert_eq!(
        (req.isid, req.itt, req.cmdsn, req.tsih),
        (ISID, 0x1000, 1, 0)
    );
    let keys = pairs_of(&first);
    assert_eq!(
        get(&keys, "InitiatorName"),
        Some("iqn.2026-11.test:initiator")
    );
    assert_eq!(get(&keys, "TargetName"), Some(TARGET));
    assert_eq!(get(&keys, "SessionType"), Some("Normal"));
    assert_eq!(get(&keys, "AuthMethod"), Some("None"));

    let reply = answer(
        req,
        true,
        &[
            ("AuthMethod", "None"),
            ("TargetPortalGroupTag", "1"),
            ("TargetAlias", "disk"),
        ],
        0,
    );
    let LoginStep::Send(second) = login.handle(&reply, &mut rng()).unwrap() else {
        panic!("expected the operational request")
    };
    assert_eq!(request_of(&second).expstatsn, 42, "acknowledges StatSN 41");
    let outcome = finish_operational(&mut login, &second);
    assert_eq!(outcome.tsih, 0x22);
    assert_eq!(
        outcome.start,
        SessionStart {
            cmdsn: 1,
            statsn: 41,
            expcmdsn: 1,
            maxcmdsn: 32
        }
    );
    let p = outcome.params;
    assert!(p.initial_r2t && p.immediate_data && !p.header_digest);
    assert_eq!(
        (p.max_xmit_data_segment_length, p.first_burst_length),
        (8192, 65536)
    );
    assert_eq!(p.target_portal_group_tag, Some(1));
    assert_eq!(p.target_alias.as_deref(), Some("disk"));
}

/// Runs CHAP to the point where the target checks our response; returns the login, the
/// request carrying CHAP_N/CHAP_R, and the challenge the target sent.
fn chap_until_response(mutual: bool) -> (Login, Pdu, Vec<u8>) {
    let mut cfg = config();
    cfg.chap = Some(ChapCredentials::new("alice", "alice-secret-12"));
    if mutual {
        cfg.mutual_chap = Some(ChapCredentials::new("target-bob", "bob-secret-1234"));
    }
    let (mut login, first) = Login::start(cfg).unwrap();
    let req = request_of(&first);
    assert!(!req.transit, "CHAP needs more rounds");
    assert_eq!(get(&pairs_of(&first), "AuthMethod"), Some("CHAP"));
    let LoginStep::Send(alg) = login
        .handle(
            &answer(req, false, &[("AuthMethod", "CHAP")], 0),
            &mut rng(),
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(get(&pairs_of(&alg), "CHAP_A"), Some("5"));
    let challenge: Vec<u8> = (0u8..16).collect();
    let challenge_hex = encode_hex(&challenge);
    let LoginStep::Send(resp) = login
        .handle(
            &answer(
                request_of(&alg),
                false,
                &[("CHAP_A", "5"), ("CHAP_I", "9"), ("CHAP_C", &challenge_hex)],
                0,
            ),
            &mut rng(),
        )
        .unwrap()
    else {
        panic!()
    };
    (login, resp, challenge)
}

#[test]
fn one_way_chap() {
    let (mut login, resp, challenge) = chap_until_response(false);
    let req = request_of(&resp);
    assert!(req.transit && req.nsg == Stage::Operational);
    let keys = pairs_of(&resp);
    assert_eq!(get(&keys, "CHAP_N"), Some("alice"));
    let expected = chap_md5_response(9, b"alice-secret-12", &challenge);
    let sent = decode_binary_value(get(&keys, "CHAP_R").unwrap()).unwrap();
    assert_eq!(sent, expected.to_vec());
    assert!(
        get(&keys, "CHAP_C").is_none(),
        "no challenge without mutual CHAP"
    );
    let LoginStep::Send(op) = login
        .handle(&answer(req, true, &[], 0), &mut rng())
        .unwrap()
    else {
        panic!()
    };
    finish_operational(&mut login, &op);
}

fn target_proof(resp: &Pdu, secret: &[u8]) -> (String, String) {
    let keys = pairs_of(resp);
    let id: u8 = get(&keys, "CHAP_I").unwrap().parse().unwrap();
    let challenge = decode_binary_value(get(&keys, "CHAP_C").unwrap()).unwrap();
    (
        "target-bob".to_owned(),
        encode_hex(&chap_md5_response(id, secret, &challenge)),
    )
}

#[test]
fn mutual_chap_verifies_the_target() {
    let (mut login, resp, _) = chap_until_response(true);
    let (name, proof) = target_proof(&resp, b"bob-secret-1234");
    let reply = answer(
        request_of(&resp),
        true,
        &[("CHAP_N", &name), ("CHAP_R", &proof)],
        0,
    );
    let LoginStep::Send(op) = login.handle(&reply, &mut rng()).unwrap() else {
        panic!()
    };
    finish_operational(&mut login, &op);
}

#[test]
fn mutual_chap_refuses_a_target_with_the_wrong_secret() {
    let (mut login, resp, _) = chap_until_response(true);
    let (name, proof) = target_proof(&resp, b"not-the-secret!");
    let reply = answer(
        request_of(&resp),
        true,
        &[("CHAP_N", &name), ("CHAP_R", &proof)],
        0,
    );
    let err = login.handle(&reply, &mut rng()).unwrap_err();
    assert!(matches!(err, LoginError::Chap(_)), "{err}");
}

#[test]
fn target_status_classes_become_clear_errors() {
    let (mut login, first) = Login::start(config()).unwrap();
    let err = login
        .handle(&refusal(request_of(&first), 2, 1, &[]), &mut rng())
        .unwrap_err();
    assert_eq!(
        err,
        LoginError::Refused {
            class: 2,
            detail: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "login refused: authentication failed (status class 0x02, detail 0x01)"
    );
    let (mut login, first) = Login::start(config()).unwrap();
    let err = login
        .handle(&refusal(request_of(&first), 2, 3, &[]), &mut rng())
        .unwrap_err();
    assert_eq!(
        err,
        LoginError::Refused {
            class: 2,
            detail: 3
        }
    );
    let (mut login, first) = Login::start(config()).unwrap();
    let err = login
        .handle(
            &refusal(
                request_of(&first),
                1,
                1,
                &[("TargetAddress", "10.0.0.2:3260,1")],
            ),
            &mut rng(),
        )
        .unwrap_err();
    assert_eq!(
        err,
        LoginError::Redirected {
            temporary: true,
            addresses: vec!["10.0.0.2:3260,1".into()]
        }
    );
}

#[test]
fn target_demanding_chap_when_we_have_no_secret() {
    let (mut login, first) = Login::start(config()).unwrap();
    let err = login
        .handle(
            &answer(request_of(&first), false, &[("AuthMethod", "Reject")], 0),
            &mut rng(),
        )
        .unwrap_err();
    assert!(matches!(err, LoginError::AuthMethod { .. }), "{err}");
}

#[test]
fn continued_response_is_reassembled() {
    let (mut login, first) = Login::start(config()).unwrap();
    let req = request_of(&first).clone();
    let full = text::encode(&[("AuthMethod", "None"), ("TargetAlias", "split-alias")]).unwrap();
    let (a, b) = full.split_at(7);
    let mut part1 = answer(&req, false, &[], 0);
    if let Header::LoginResponse(r) = &mut part1.header {
        r.cont = true;
    }
    part1.data = a.to_vec();
    let LoginStep::Send(more) = login.handle(&part1, &mut rng()).unwrap() else {
        panic!()
    };
    assert!(more.data.is_empty() && !request_of(&more).transit);
    let mut part2 = answer(&req, true, &[], 0);
    part2.data = b.to_vec();
    let LoginStep::Send(op) = login.handle(&part2, &mut rng()).unwrap() else {
        panic!()
    };
    let outcome = finish_operational(&mut login, &op);
    assert_eq!(outcome.params.target_alias.as_deref(), Some("split-alias"));
}

#[test]
fn protocol_violations_are_refused() {
    // Wrong ITT.
    let (mut login, first) = Login::start(config()).unwrap();
    let mut reply = answer(request_of(&first), true, &[("AuthMethod", "None")], 0);
    if let Header::LoginResponse(r) = &mut reply.header {
        r.itt = 5;
    }
    assert!(matches!(
        login.handle(&reply, &mut rng()),
        Err(LoginError::Protocol(_))
    ));
    // Transit to full feature while we only asked for the operational stage is fine only as
    // a grant of what we asked; jumping further is refused.
    let (mut login, first) = Login::start(config()).unwrap();
    let mut reply = answer(request_of(&first), true, &[("AuthMethod", "None")], 0);
    if let Header::LoginResponse(r) = &mut reply.header {
        r.nsg = Stage::FullFeature;
    }
    assert!(matches!(
        login.handle(&reply, &mut rng()),
        Err(LoginError::Protocol(_))
    ));
    // Operational transit without a TSIH.
    let (mut login, first) = Login::start(config()).unwrap();
    let LoginStep::Send(op) = login
        .handle(
            &answer(request_of(&first), true, &[("AuthMethod", "None")], 0),
            &mut rng(),
        )
        .unwrap()
    else {
        panic!()
    };
    let err = login
        .handle(
            &answer(request_of(&op), true, &OPERATIONAL_ANSWERS, 0),
            &mut rng(),
        )
        .unwrap_err();
    assert!(matches!(err, LoginError::Protocol(_)));
    // A Login Response is the only PDU a login accepts.
    let (mut login, _) = Login::start(config()).unwrap();
    let nop = Pdu::new(Header::NopIn(Default::default()), vec![]);
    assert!(matches!(
        login.handle(&nop, &mut rng()),
        Err(LoginError::Protocol(_))
    ));
}

#[test]
fn required_digest_refused_by_target_fails_login() {
    let mut cfg = config();
    cfg.operational.header_digest = DigestPreference::Crc32cRequired;
    let (mut login, first) = Login::start(cfg).unwrap();
    let LoginStep::Send(op) = login
        .handle(
            &answer(request_of(&first), true, &[("AuthMethod", "None")], 0),
            &mut rng(),
        )
        .unwrap()
    else {
        panic!()
    };
    let mut answers = OPERATIONAL_ANSWERS.to_vec();
    answers[0] = ("HeaderDigest", "Reject");
    let err = login
        .handle(&answer(request_of(&op), true, &answers, 9), &mut rng())
        .unwrap_err();
    assert!(matches!(err, LoginError::Negotiation(_)), "{err}");
}

#[test]
fn discovery_login_needs_no_target_name() {
    let mut cfg = config();
    cfg.target_name = None;
    cfg.session_type = SessionType::Discovery;
    let (_, first) = Login::start(cfg).unwrap();
    let keys = pairs_of(&first);
    assert_eq!(get(&keys, "SessionType"), Some("Discovery"));
    assert!(get(&keys, "TargetName").is_none());
    let mut cfg = config();
    cfg.target_name = None;
    assert!(matches!(
        Login::start(cfg),
        Err(LoginError::MissingTargetName)
    ));
}

#[test]
fn isid_is_random_format_with_qualifier() {
    let isid = random_isid(&mut rng(), 0x0102);
    assert_eq!(isid[0], 0x80);
    assert_eq!(&isid[4..], &[1, 2]);
}

/// The target's answer that neither grants the transit nor says anything.
fn stall(req: &LoginRequest) -> Pdu {
    answer(req, false, &[], 0)
}

#[test]
fn a_login_that_never_ends_is_given_up() {
    let (mut login, mut pdu) = Login::start(config()).unwrap();
    for exchange in 1..MAX_LOGIN_EXCHANGES {
        match login.handle(&stall(request_of(&pdu)), &mut rng()) {
            Ok(LoginStep::Send(next)) => pdu = next,
            other => panic!("exchange {exchange}: {other:?}"),
        }
        let req = request_of(&pdu);
        assert_eq!((req.csg, req.transit), (Stage::Security, true));
    }
    let err = login
        .handle(&stall(request_of(&pdu)), &mut rng())
        .unwrap_err();
    assert_eq!(err, LoginError::TooManyExchanges(MAX_LOGIN_EXCHANGES));
    assert!(
        err.to_string().contains(&MAX_LOGIN_EXCHANGES.to_string()),
        "{err}"
    );
}

#[test]
fn a_login_completing_in_the_last_allowed_exchange_completes() {
    let (mut login, mut pdu) = Login::start(config()).unwrap();
    // All but two exchanges stall in the security stage; the last two move on and finish.
    for _ in 0..MAX_LOGIN_EXCHANGES - 2 {
        let LoginStep::Send(next) = login.handle(&stall(request_of(&pdu)), &mut rng()).unwrap()
        else {
            panic!("login completed early")
        };
        pdu = next;
    }
    let grant = answer(request_of(&pdu), true, &[("AuthMethod", "None")], 0);
    let LoginStep::Send(op) = login.handle(&grant, &mut rng()).unwrap() else {
        panic!("no operational request")
    };
    let outcome = finish_operational(&mut login, &op);
    assert_eq!(outcome.tsih, 0x22);
}
