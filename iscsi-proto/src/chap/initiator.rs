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
mod tests;
