use super::*;
use crate::chap::response::verify_chap_md5_response;
use rand::rngs::mock::StepRng;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn value<'a>(list: &'a [(String, String)], key: &str) -> &'a str {
    &list.iter().find(|(name, _)| name == key).unwrap().1
}

fn target_challenge_pairs() -> Vec<(String, String)> {
    pairs(&[
        ("CHAP_A", "5"),
        ("CHAP_I", "1"),
        ("CHAP_C", "0x000102030405060708090a0b0c0d0e0f"),
    ])
}

fn alice() -> ChapCredentials {
    ChapCredentials::new("alice", "secretsecret")
}

fn target_identity() -> ChapCredentials {
    ChapCredentials::new("iqn.2024-01.example:tgt", "mutual-secret-2")
}

#[test]
fn offers_md5_only() {
    let chap = ChapInitiator::new(alice(), None).unwrap();
    assert_eq!(chap.algorithm_offer(), pairs(&[("CHAP_A", "5")]));
}

#[test]
fn one_way_response_matches_known_answer() {
    let mut chap = ChapInitiator::new(alice(), None).unwrap();
    let reply = chap
        .respond(&target_challenge_pairs(), &mut StepRng::new(0, 1))
        .unwrap();
    // Same vector as response::tests::md5_known_answer (python3 hashlib cross-check).
    assert_eq!(
        reply,
        pairs(&[
            ("CHAP_N", "alice"),
            ("CHAP_R", "0x226dc576c33f04ff9c3a200ffe35f442"),
        ])
    );
    assert!(!chap.awaits_target_proof());
    assert!(matches!(
        chap.verify_target(&[]),
        Err(ChapError::OutOfSequence { .. })
    ));
}

#[test]
fn accepts_base64_challenge_and_hex_identifier() {
    let mut chap = ChapInitiator::new(alice(), None).unwrap();
    let target = pairs(&[
        ("CHAP_A", "5"),
        ("CHAP_I", "0x01"),
        ("CHAP_C", "0bAAECAwQFBgcICQoLDA0ODw=="),
    ]);
    let reply = chap.respond(&target, &mut StepRng::new(0, 1)).unwrap();
    assert_eq!(
        value(&reply, "CHAP_R"),
        "0x226dc576c33f04ff9c3a200ffe35f442"
    );
}

/// Plays the target's side of mutual CHAP with the public helpers.
fn target_proof(reply: &[(String, String)], target: &ChapCredentials) -> Vec<(String, String)> {
    let identifier: u8 = value(reply, "CHAP_I").parse().unwrap();
    let challenge = decode_binary_value(value(reply, "CHAP_C")).unwrap();
    let response = chap_md5_response(identifier, target.secret.expose(), &challenge);
    vec![
        ("CHAP_N".to_owned(), target.user.clone()),
        ("CHAP_R".to_owned(), encode_hex(&response)),
    ]
}

#[test]
fn mutual_success() {
    let mut chap = ChapInitiator::new(alice(), Some(target_identity())).unwrap();
    let mut rng = StepRng::new(0xa7a7_a7a7_a7a7_a7a7, 0x0101_0101_0101_0101);
    let reply = chap.respond(&target_challenge_pairs(), &mut rng).unwrap();
    let keys: Vec<&str> = reply.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["CHAP_N", "CHAP_R", "CHAP_I", "CHAP_C"]);
    assert_eq!(value(&reply, "CHAP_C").len(), 2 + 2 * MUTUAL_CHALLENGE_LEN);
    // The target can check our response with the target-side helper.
    let target_challenge: Vec<u8> = (0u8..16).collect();
    let our_response = decode_binary_value(value(&reply, "CHAP_R")).unwrap();
    assert!(verify_chap_md5_response(
        1,
        b"secretsecret",
        &target_challenge,
        &our_response
    ));

    assert!(chap.awaits_target_proof());
    chap.verify_target(&target_proof(&reply, &target_identity()))
        .unwrap();
    assert!(!chap.awaits_target_proof());
}

#[test]
fn mutual_wrong_target_secret_fails() {
    let mut chap = ChapInitiator::new(alice(), Some(target_identity())).unwrap();
    let reply = chap
        .respond(&target_challenge_pairs(), &mut StepRng::new(3, 5))
        .unwrap();
    let impostor = ChapCredentials::new("iqn.2024-01.example:tgt", "not-the-secret");
    assert_eq!(
        chap.verify_target(&target_proof(&reply, &impostor)),
        Err(ChapError::TargetAuthFailed)
    );
    assert!(chap.awaits_target_proof());
}

#[test]
fn mutual_wrong_target_name_fails() {
    let mut chap = ChapInitiator::new(alice(), Some(target_identity())).unwrap();
    let reply = chap
        .respond(&target_challenge_pairs(), &mut StepRng::new(3, 5))
        .unwrap();
    let renamed = ChapCredentials::new("iqn.2024-01.example:other", "mutual-secret-2");
    assert_eq!(
        chap.verify_target(&target_proof(&reply, &renamed)),
        Err(ChapError::TargetNameMismatch {
            expected: "iqn.2024-01.example:tgt".into(),
            found: "iqn.2024-01.example:other".into(),
        })
    );
}

#[test]
fn mutual_short_response_is_typed() {
    let mut chap = ChapInitiator::new(alice(), Some(target_identity())).unwrap();
    chap.respond(&target_challenge_pairs(), &mut StepRng::new(3, 5))
        .unwrap();
    let short = pairs(&[("CHAP_N", "iqn.2024-01.example:tgt"), ("CHAP_R", "0x0102")]);
    assert_eq!(
        chap.verify_target(&short),
        Err(ChapError::BadResponseLength { found: 2 })
    );
}

#[test]
fn reflected_challenge_is_refused() {
    // A generator that hands out one identifier byte and then exactly the target's
    // challenge (00..0f), as a broken or replayed random source would.
    struct Replay(Vec<u8>);
    impl RngCore for Replay {
        fn next_u32(&mut self) -> u32 {
            unreachable!("only fill_bytes is used")
        }
        fn next_u64(&mut self) -> u64 {
            unreachable!("only fill_bytes is used")
        }
        fn fill_bytes(&mut self, destination: &mut [u8]) {
            let taken: Vec<u8> = self.0.drain(..destination.len()).collect();
            destination.copy_from_slice(&taken);
        }
        fn try_fill_bytes(&mut self, destination: &mut [u8]) -> Result<(), rand::Error> {
            self.fill_bytes(destination);
            Ok(())
        }
    }
    let mut replay = Replay(std::iter::once(9u8).chain(0u8..16).collect());
    let mut chap = ChapInitiator::new(alice(), Some(target_identity())).unwrap();
    assert_eq!(
        chap.respond(&target_challenge_pairs(), &mut replay),
        Err(ChapError::ReflectedChallenge)
    );
}

#[test]
fn rejects_other_algorithms() {
    let mut chap = ChapInitiator::new(alice(), None).unwrap();
    let target = pairs(&[("CHAP_A", "7"), ("CHAP_I", "1"), ("CHAP_C", "0x01")]);
    assert_eq!(
        chap.respond(&target, &mut StepRng::new(0, 1)),
        Err(ChapError::UnsupportedAlgorithm { chosen: "7".into() })
    );
}

#[test]
fn missing_duplicate_and_malformed_keys_are_typed() {
    let mut rng = StepRng::new(0, 1);
    let mut chap = ChapInitiator::new(alice(), None).unwrap();
    assert_eq!(
        chap.respond(&pairs(&[("CHAP_A", "5"), ("CHAP_C", "0x01")]), &mut rng),
        Err(ChapError::MissingKey { key: "CHAP_I" })
    );
    assert_eq!(
        chap.respond(&pairs(&[("CHAP_A", "5"), ("CHAP_I", "1")]), &mut rng),
        Err(ChapError::MissingKey { key: "CHAP_C" })
    );
    assert_eq!(
        chap.respond(
            &pairs(&[("CHAP_A", "5"), ("CHAP_A", "5"), ("CHAP_I", "1")]),
            &mut rng
        ),
        Err(ChapError::DuplicateKey { key: "CHAP_A" })
    );
    for bad_identifier in ["256", "-1", "+1", "", "0x100", "one"] {
        assert_eq!(
            chap.respond(
                &pairs(&[
                    ("CHAP_A", "5"),
                    ("CHAP_I", bad_identifier),
                    ("CHAP_C", "0x01")
                ]),
                &mut rng
            ),
            Err(ChapError::BadIdentifier {
                value: bad_identifier.into()
            })
        );
    }
    assert!(matches!(
        chap.respond(
            &pairs(&[("CHAP_A", "5"), ("CHAP_I", "1"), ("CHAP_C", "0x")]),
            &mut rng
        ),
        Err(ChapError::BadBinaryValue { key: "CHAP_C", .. })
    ));
    let too_long = format!("0x{}", "00".repeat(1025));
    assert!(matches!(
        chap.respond(
            &pairs(&[("CHAP_A", "5"), ("CHAP_I", "1"), ("CHAP_C", &too_long)]),
            &mut rng
        ),
        Err(ChapError::BadBinaryValue { key: "CHAP_C", .. })
    ));
    // Errors leave the exchange where it was, so a valid challenge still works.
    assert!(chap.respond(&target_challenge_pairs(), &mut rng).is_ok());
    assert!(matches!(
        chap.respond(&target_challenge_pairs(), &mut rng),
        Err(ChapError::OutOfSequence { .. })
    ));
}

#[test]
fn construction_checks_credentials() {
    assert_eq!(
        ChapInitiator::new(ChapCredentials::new("", "x"), None).unwrap_err(),
        ChapError::EmptyUser {
            role: CredentialRole::Initiator
        }
    );
    assert_eq!(
        ChapInitiator::new(alice(), Some(ChapCredentials::new("t", ""))).unwrap_err(),
        ChapError::EmptySecret {
            role: CredentialRole::Target
        }
    );
    assert_eq!(
        ChapInitiator::new(alice(), Some(ChapCredentials::new("t", "secretsecret"))).unwrap_err(),
        ChapError::SameSecretBothDirections
    );
}

#[test]
fn errors_and_debug_never_show_secrets() {
    let chap = ChapInitiator::new(alice(), Some(target_identity())).unwrap();
    let debug = format!("{chap:?}");
    assert!(
        !debug.contains("secretsecret") && !debug.contains("mutual-secret"),
        "{debug}"
    );
}
