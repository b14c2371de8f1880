//! The initiator's side of a CHAP exchange during the login security phase, as a small
//! sans-I/O state machine: the login layer feeds it the target's key=value pairs and sends
//! the pairs it returns.
//!
//! ```text
//! initiator                               target
//!   CHAP_A=5                 ───────────▶
//!                            ◀─────────── CHAP_A=5 CHAP_I=<id> CHAP_C=<challenge>
//!   CHAP_N CHAP_R [CHAP_I CHAP_C]  ─────▶                 (bracketed part: mutual only)
//!                            ◀─────────── CHAP_N CHAP_R  (mutual only)
//! ```

use rand::RngCore;

use super::binary::{decode_binary_value, encode_hex};
use super::credentials::{constant_time_eq, ChapCredentials};
use super::response::{chap_md5_response, MD5_RESPONSE_LEN};
use super::{keys, ChapError, CredentialRole, CHAP_ALGORITHM_MD5};

/// Length of the challenge we send when authenticating the target. 16 bytes matches the MD5
/// output size, which RFC 1994 recommends as a minimum, and every target accepts it.
pub(crate) const MUTUAL_CHALLENGE_LEN: usize = 16;

#[derive(Debug)]
enum Stage {
    AwaitingChallenge,
    AwaitingTargetProof {
        identifier: u8,
        challenge: [u8; MUTUAL_CHALLENGE_LEN],
    },
    Finished,
}

/// Initiator-side CHAP-MD5. Construct it, send [`ChapInitiator::algorithm_offer`], pass the
/// target's reply to [`ChapInitiator::respond`], and, when [`ChapInitiator::awaits_target_proof`]
/// says so, pass the target's final reply to [`ChapInitiator::verify_target`].
#[derive(Debug)]
pub(crate) struct ChapInitiator {
    initiator: ChapCredentials,
    mutual: Option<ChapCredentials>,
    stage: Stage,
}

type KeyValuePairs = Vec<(String, String)>;

impl ChapInitiator {
    /// `initiator` is who we are to the target; `mutual` is the name and secret we expect the
    /// target to prove, if we authenticate it too.
    pub(crate) fn new(
        initiator: ChapCredentials,
        mutual: Option<ChapCredentials>,
    ) -> Result<Self, ChapError> {
        check_credentials(&initiator, CredentialRole::Initiator)?;
        if let Some(target) = &mutual {
            check_credentials(target, CredentialRole::Target)?;
            // RFC 7143 §12.1.3: a secret used to authenticate initiators MUST NOT be used to
            // authenticate targets; with one secret a rogue target could reflect our challenge.
            if target.secret == initiator.secret {
                return Err(ChapError::SameSecretBothDirections);
            }
        }
        Ok(ChapInitiator {
            initiator,
            mutual,
            stage: Stage::AwaitingChallenge,
        })
    }

    /// Step 1: the keys that open CHAP: the list of algorithms we accept (MD5 only).
    pub(crate) fn algorithm_offer(&self) -> KeyValuePairs {
        vec![(keys::ALGORITHM.to_owned(), CHAP_ALGORITHM_MD5.to_string())]
    }

    /// Step 2: answer the target's `CHAP_A`, `CHAP_I` and `CHAP_C` with `CHAP_N` and `CHAP_R`,
    /// and, when authenticating the target, our own `CHAP_I` and `CHAP_C` drawn from `rng`.
    pub(crate) fn respond(
        &mut self,
        target_pairs: &[(String, String)],
        rng: &mut impl RngCore,
    ) -> Result<KeyValuePairs, ChapError> {
        if !matches!(self.stage, Stage::AwaitingChallenge) {
            return Err(ChapError::OutOfSequence {
                step: "respond to the target's challenge",
            });
        }
        let algorithm = required_value(target_pairs, keys::ALGORITHM)?;
        if algorithm != CHAP_ALGORITHM_MD5.to_string() {
            return Err(ChapError::UnsupportedAlgorithm {
                chosen: algorithm.to_owned(),
            });
        }
        let target_identifier = parse_identifier(required_value(target_pairs, keys::IDENTIFIER)?)?;
        let target_challenge = decode_key(target_pairs, keys::CHALLENGE)?;

        let response = chap_md5_response(
            target_identifier,
            self.initiator.secret.expose(),
            &target_challenge,
        );
        let mut reply = vec![
            (keys::NAME.to_owned(), self.initiator.user.clone()),
            (keys::RESPONSE.to_owned(), encode_hex(&response)),
        ];

        self.stage = match self.mutual {
            None => Stage::Finished,
            Some(_) => {
                let mut identifier = [0u8; 1];
                rng.fill_bytes(&mut identifier);
                let mut challenge = [0u8; MUTUAL_CHALLENGE_LEN];
                rng.fill_bytes(&mut challenge);
                // Answering a challenge equal to our own would let a rogue target replay our
                // response as its proof (RFC 7143 §12.1.3 forbids reusing the peer's challenge).
                if constant_time_eq(&challenge, &target_challenge) {
                    return Err(ChapError::ReflectedChallenge);
                }
                reply.push((keys::IDENTIFIER.to_owned(), identifier[0].to_string()));
                reply.push((keys::CHALLENGE.to_owned(), encode_hex(&challenge)));
                Stage::AwaitingTargetProof {
                    identifier: identifier[0],
                    challenge,
                }
            }
        };
        Ok(reply)
    }

    /// Whether the target still has to prove itself (mutual CHAP, after [`Self::respond`]).
    pub(crate) fn awaits_target_proof(&self) -> bool {
        matches!(self.stage, Stage::AwaitingTargetProof { .. })
    }

    /// Step 3 (mutual CHAP): check the target's `CHAP_N` and `CHAP_R` against the expected
    /// target name and secret.
    pub(crate) fn verify_target(
        &mut self,
        target_pairs: &[(String, String)],
    ) -> Result<(), ChapError> {
        let (
            Stage::AwaitingTargetProof {
                identifier,
                challenge,
            },
            Some(expected),
        ) = (&self.stage, &self.mutual)
        else {
            return Err(ChapError::OutOfSequence {
                step: "verify the target's proof",
            });
        };
        let name = required_value(target_pairs, keys::NAME)?;
        if name != expected.user {
            return Err(ChapError::TargetNameMismatch {
                expected: expected.user.clone(),
                found: name.to_owned(),
            });
        }
        let response = decode_key(target_pairs, keys::RESPONSE)?;
        if response.len() != MD5_RESPONSE_LEN {
            return Err(ChapError::BadResponseLength {
                found: response.len(),
            });
        }
        let expected_response = chap_md5_response(*identifier, expected.secret.expose(), challenge);
        if !constant_time_eq(&expected_response, &response) {
            return Err(ChapError::TargetAuthFailed);
        }
        self.stage = Stage::Finished;
        Ok(())
    }
}

fn check_credentials(credentials: &ChapCredentials, role: CredentialRole) -> Result<(), ChapError> {
    if credentials.user.is_empty() {
        return Err(ChapError::EmptyUser { role });
    }
    if credentials.secret.is_empty() {
        return Err(ChapError::EmptySecret { role });
    }
    Ok(())
}

/// The value of `key`, which must appear exactly once.
fn required_value<'a>(
    pairs: &'a [(String, String)],
    key: &'static str,
) -> Result<&'a str, ChapError> {
    let mut values = pairs.iter().filter(|(name, _)| name == key);
    let (_, value) = values.next().ok_or(ChapError::MissingKey { key })?;
    if values.next().is_some() {
        return Err(ChapError::DuplicateKey { key });
    }
    Ok(value)
}

fn decode_key(pairs: &[(String, String)], key: &'static str) -> Result<Vec<u8>, ChapError> {
    decode_binary_value(required_value(pairs, key)?)
        .map_err(|source| ChapError::BadBinaryValue { key, source })
}

/// `CHAP_I` is a numerical value (RFC 7143 §6.1): decimal or a `0x` hex-constant, 0..=255.
fn parse_identifier(text: &str) -> Result<u8, ChapError> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => text.parse::<u8>(),
    };
    // from_str_radix and parse accept a leading '+', which is not an iSCSI number.
    match parsed {
        Ok(identifier) if !text.contains('+') => Ok(identifier),
        _ => Err(ChapError::BadIdentifier {
            value: text.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
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
            ChapInitiator::new(alice(), Some(ChapCredentials::new("t", "secretsecret")))
                .unwrap_err(),
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
}
