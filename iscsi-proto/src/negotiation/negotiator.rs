//! The initiator's side of the operational negotiation stage, without I/O: it produces the keys
//! to offer, digests the target's key=value pairs and yields the session's parameters.

use std::collections::{BTreeMap, BTreeSet};

use super::config::{OperationalConfig, SessionType};
use super::error::{NegotiationError, Refusal};
use super::keys::{self, Key, KeyDef, NegotiationKind, Senders, Stage, ValueType};
use super::params::SessionParams;
use super::rules::{check_answer, fallback, respond, result_without_answer, Reply};
use super::value::{parse_list, parse_value, Special, Value, ValueProblem};

/// The keys we offer in a normal session, in the order we send them (that of open-iscsi).
/// Discovery sessions leave out those that are irrelevant to them.
const OFFERED_KEYS: [Key; 14] = [
    Key::HeaderDigest,
    Key::DataDigest,
    Key::DefaultTime2Wait,
    Key::DefaultTime2Retain,
    Key::ErrorRecoveryLevel,
    Key::InitialR2T,
    Key::ImmediateData,
    Key::MaxBurstLength,
    Key::FirstBurstLength,
    Key::MaxOutstandingR2T,
    Key::MaxConnections,
    Key::DataPduInOrder,
    Key::DataSequenceInOrder,
    Key::MaxRecvDataSegmentLength,
];

/// The only TaskReporting we implement: plain RFC 3720 semantics.
const TASK_REPORTING: &str = "RFC3720";
/// The iSCSIProtocolLevel of an RFC 7143 implementation (RFC 7143 §13.24).
const PROTOCOL_LEVEL: &str = "1";

/// Negotiates the operational parameters of one login.
///
/// Send `offers` in the first operational-stage Login Request, feed every target response's
/// pairs to [`handle_target_pairs`](Self::handle_target_pairs) and send back what it returns;
/// request the transit once `is_complete` holds (the returned answers may ride in that same
/// PDU), then call [`finish`](Self::finish).
#[derive(Debug, Clone)]
pub struct Negotiator {
    config: OperationalConfig,
    session_type: SessionType,
    /// What we offered, in wire syntax.
    offers: Vec<(Key, String)>,
    /// Results of negotiated keys: answers to our offers and our answers to the target's.
    outcomes: BTreeMap<Key, Value>,
    /// What the target declared about itself (TargetAlias, TargetPortalGroupTag, ...).
    declared: BTreeMap<Key, Value>,
    /// Names of the non-declarative keys the target has sent, to catch repeats.
    received: BTreeSet<String>,
}

impl Negotiator {
    /// Prepares a negotiation, checking that every value we would offer is valid and that
    /// FirstBurstLength does not exceed MaxBurstLength.
    pub fn new(
        config: OperationalConfig,
        session_type: SessionType,
    ) -> Result<Self, NegotiationError> {
        let offers = OFFERED_KEYS
            .iter()
            .filter(|key| session_type == SessionType::Normal || !key.def().irrelevant_in_discovery)
            .map(|&key| {
                let value = local_value(&config, key).unwrap_or_default();
                check_local_value(key.def(), &value)?;
                Ok((key, value))
            })
            .collect::<Result<Vec<_>, NegotiationError>>()?;
        let offers_first_burst = offers.iter().any(|(key, _)| *key == Key::FirstBurstLength);
        if offers_first_burst && config.first_burst_length > config.max_burst_length {
            return Err(NegotiationError::InvalidConfig {
                key: Key::FirstBurstLength.name().into(),
                value: config.first_burst_length.to_string(),
                problem: ValueProblem::OutOfRange {
                    min: 512,
                    max: u64::from(config.max_burst_length),
                },
            });
        }
        Ok(Self {
            config,
            session_type,
            offers,
            outcomes: BTreeMap::new(),
            declared: BTreeMap::new(),
            received: BTreeSet::new(),
        })
    }

    /// The key=value pairs to send in the operational stage.
    pub(crate) fn offers(&self) -> Vec<(String, String)> {
        self.offers
            .iter()
            .map(|(key, value)| (key.name().to_owned(), value.clone()))
            .collect()
    }

    /// Digests the pairs of one target Login Response (operational stage): records answers to
    /// our offers and target declarations, and returns the answers we owe to keys the target
    /// offered — `NotUnderstood` for unknown keys (including unknown `X-` extensions),
    /// `Irrelevant` for keys that mean nothing in a discovery session, `Reject` for the obsolete
    /// marker keys (RFC 7143 §13.25) and for offers we cannot accept.
    pub fn handle_target_pairs(
        &mut self,
        pairs: &[(String, String)],
    ) -> Result<Vec<(String, String)>, NegotiationError> {
        let mut answers = Vec::new();
        for (name, value) in pairs {
            if let Some(answer) = self.handle_target_pair(name, value)? {
                answers.push((name.clone(), answer));
            }
        }
        Ok(answers)
    }

    /// Records what the target declares about itself in a security-stage Login Response
    /// (typically TargetPortalGroupTag and TargetAlias). Every other key there belongs to the
    /// authentication exchange and is left to it.
    pub(crate) fn record_target_declarations(
        &mut self,
        pairs: &[(String, String)],
    ) -> Result<(), NegotiationError> {
        for (name, value) in pairs {
            let Some(def) = keys::lookup(name) else {
                continue;
            };
            let declares = def.kind == NegotiationKind::Declarative
                && def.senders != Senders::Initiator
                && def.phase.allows(Stage::SecurityNegotiation)
                && Special::parse(value).is_none();
            if !declares {
                continue;
            }
            if let Reply::Declared(declared) = respond(def, value, "")? {
                self.record_declaration(def, declared)?;
            }
        }
        Ok(())
    }

    /// True once every offer that needs an answer has one. Declarations and the Boolean offers
    /// whose result is already fixed (AND offered No, OR offered Yes) need none.
    pub(crate) fn is_complete(&self) -> bool {
        self.offers.iter().all(|(key, offered)| {
            let def = key.def();
            !def.kind.is_negotiated()
                || self.outcomes.contains_key(key)
                || result_without_answer(def, offered).is_some()
        })
    }

    /// The negotiated parameters. Keys never negotiated take their RFC default; an offer left
    /// unanswered takes it only if it would have been an acceptable answer. FirstBurstLength is
    /// capped at MaxBurstLength (RFC 7143 §13.14).
    pub fn finish(self) -> Result<SessionParams, NegotiationError> {
        let max_burst_length = self.number(Key::MaxBurstLength)?;
        let first_burst_length = self
            .number::<u32>(Key::FirstBurstLength)?
            .min(max_burst_length);
        let target_max_recv = match self.declared.get(&Key::MaxRecvDataSegmentLength) {
            Some(declared) => declared.clone(),
            None => default_value(Key::MaxRecvDataSegmentLength.def())?,
        };
        let max_xmit_data_segment_length = narrow(Key::MaxRecvDataSegmentLength, target_max_recv)?;
        let target_portal_group_tag = self
            .declared
            .get(&Key::TargetPortalGroupTag)
            .map(|tag| narrow(Key::TargetPortalGroupTag, tag.clone()))
            .transpose()?;
        let target_alias = self.declared.get(&Key::TargetAlias).map(Value::to_string);
        Ok(SessionParams {
            header_digest: self.digest(Key::HeaderDigest)?,
            data_digest: self.digest(Key::DataDigest)?,
            initial_r2t: self.boolean(Key::InitialR2T)?,
            immediate_data: self.boolean(Key::ImmediateData)?,
            max_recv_data_segment_length: self.config.max_recv_data_segment_length,
            max_xmit_data_segment_length,
            max_burst_length,
            first_burst_length,
            default_time2wait: self.number(Key::DefaultTime2Wait)?,
            default_time2retain: self.number(Key::DefaultTime2Retain)?,
            max_outstanding_r2t: self.number(Key::MaxOutstandingR2T)?,
            data_pdu_in_order: self.boolean(Key::DataPduInOrder)?,
            data_sequence_in_order: self.boolean(Key::DataSequenceInOrder)?,
            error_recovery_level: self.number(Key::ErrorRecoveryLevel)?,
            max_connections: self.number(Key::MaxConnections)?,
            target_alias,
            target_portal_group_tag,
        })
    }

    fn handle_target_pair(
        &mut self,
        name: &str,
        value: &str,
    ) -> Result<Option<String>, NegotiationError> {
        let is_special = Special::parse(value).is_some();
        let Some(def) = keys::lookup(name) else {
            self.note_received(name)?;
            // A special value is itself an answer, and answers are never answered.
            return Ok((!is_special).then(|| Special::NotUnderstood.as_str().to_owned()));
        };
        if def.senders == Senders::Initiator {
            return Err(NegotiationError::NotATargetKey { key: name.into() });
        }
        if !def.phase.allows(Stage::OperationalNegotiation) {
            return Err(NegotiationError::WrongStage {
                key: name.into(),
                stage: Stage::OperationalNegotiation,
            });
        }
        if def.kind != NegotiationKind::Declarative {
            self.note_received(name)?;
        }
        if def.kind.is_negotiated() {
            if let Some(offered) = self.offer(def.key) {
                let result = check_answer(def, offered, value)?;
                self.outcomes.insert(def.key, result);
                return Ok(None);
            }
        }
        if is_special {
            // Not an answer to anything we asked (declarations answered Irrelevant or Reject by a
            // confused peer included): there is nothing to record and nothing to reply.
            return Ok(None);
        }
        if self.session_type == SessionType::Discovery && def.irrelevant_in_discovery {
            return Ok(Some(Special::Irrelevant.as_str().to_owned()));
        }
        let ours = local_value(&self.config, def.key).unwrap_or_default();
        match respond(def, value, &ours)? {
            Reply::Answer(result) => {
                let answer = result.to_string();
                self.outcomes.insert(def.key, result);
                Ok(Some(answer))
            }
            Reply::Reject => Ok(Some(Special::Reject.as_str().to_owned())),
            Reply::Declared(declared) => {
                self.record_declaration(def, declared)?;
                Ok(None)
            }
        }
    }

    /// Notes that the target sent `name`; a key may be negotiated only once per login.
    fn note_received(&mut self, name: &str) -> Result<(), NegotiationError> {
        if self.received.insert(name.to_owned()) {
            Ok(())
        } else {
            Err(NegotiationError::Duplicate { key: name.into() })
        }
    }

    /// Stores a target declaration; repeating it is harmless, changing it is not.
    fn record_declaration(
        &mut self,
        def: &KeyDef,
        declared: Value,
    ) -> Result<(), NegotiationError> {
        match self.declared.get(&def.key) {
            Some(previous) if *previous != declared => Err(NegotiationError::Duplicate {
                key: def.name.into(),
            }),
            _ => {
                self.declared.insert(def.key, declared);
                Ok(())
            }
        }
    }

    fn offer(&self, key: Key) -> Option<&str> {
        self.offers
            .iter()
            .find(|(offered, _)| *offered == key)
            .map(|(_, value)| value.as_str())
    }

    /// The negotiated value of `key`, or what it falls back to.
    fn result(&self, key: Key) -> Result<Value, NegotiationError> {
        if let Some(result) = self.outcomes.get(&key) {
            return Ok(result.clone());
        }
        let def = key.def();
        match self.offer(key) {
            Some(offered) if def.kind.is_negotiated() => {
                match result_without_answer(def, offered) {
                    Some(implied) => Ok(implied),
                    None => fallback(def, offered, Refusal::NoAnswer),
                }
            }
            _ => default_value(def),
        }
    }

    fn number<T: TryFrom<u64>>(&self, key: Key) -> Result<T, NegotiationError> {
        narrow(key, self.result(key)?)
    }

    fn boolean(&self, key: Key) -> Result<bool, NegotiationError> {
        match self.result(key)? {
            Value::Boolean(result) => Ok(result),
            other => Err(unexpected(key, &other, ValueProblem::NotBoolean)),
        }
    }

    fn digest(&self, key: Key) -> Result<bool, NegotiationError> {
        Ok(self.result(key)?.to_string() == "CRC32C")
    }
}

/// Our own value for a key, in wire syntax: what we offer, and what we accept when the target
/// offers it. `None` for keys we have no stake in.
fn local_value(config: &OperationalConfig, key: Key) -> Option<String> {
    let yes_no = |flag: bool| Value::Boolean(flag).to_string();
    Some(match key {
        Key::HeaderDigest => config.header_digest.offer().to_owned(),
        Key::DataDigest => config.data_digest.offer().to_owned(),
        Key::MaxConnections => config.max_connections.to_string(),
        Key::InitialR2T => yes_no(config.initial_r2t),
        Key::ImmediateData => yes_no(config.immediate_data),
        Key::MaxRecvDataSegmentLength => config.max_recv_data_segment_length.to_string(),
        Key::MaxBurstLength => config.max_burst_length.to_string(),
        Key::FirstBurstLength => config.first_burst_length.to_string(),
        Key::DefaultTime2Wait => config.default_time2wait.to_string(),
        Key::DefaultTime2Retain => config.default_time2retain.to_string(),
        Key::MaxOutstandingR2T => config.max_outstanding_r2t.to_string(),
        Key::DataPduInOrder => yes_no(config.data_pdu_in_order),
        Key::DataSequenceInOrder => yes_no(config.data_sequence_in_order),
        Key::ErrorRecoveryLevel => config.error_recovery_level.to_string(),
        Key::TaskReporting => TASK_REPORTING.to_owned(),
        Key::IscsiProtocolLevel => PROTOCOL_LEVEL.to_owned(),
        _ => return None,
    })
}

/// Checks a value we are about to offer: in range, and for lists, only values we know.
fn check_local_value(def: &KeyDef, value: &str) -> Result<(), NegotiationError> {
    let checked = if def.kind == NegotiationKind::List {
        parse_list(value).and_then(|elements| {
            elements
                .iter()
                .try_for_each(|element| parse_value(&def.value_type, element).map(drop))
        })
    } else {
        parse_value(&def.value_type, value).map(drop)
    };
    checked.map_err(|problem| NegotiationError::InvalidConfig {
        key: def.name.into(),
        value: value.into(),
        problem,
    })
}

fn default_value(def: &KeyDef) -> Result<Value, NegotiationError> {
    let default = def.default.unwrap_or_default();
    parse_value(&def.value_type, default).map_err(|problem| NegotiationError::InvalidValue {
        key: def.name.into(),
        value: default.into(),
        problem,
    })
}

/// Converts a numeric result to the width the session stores it in.
fn narrow<T: TryFrom<u64>>(key: Key, value: Value) -> Result<T, NegotiationError> {
    let range = match key.def().value_type {
        ValueType::Number { min, max } => ValueProblem::OutOfRange { min, max },
        _ => ValueProblem::NotANumber,
    };
    match value {
        Value::Number(number) => T::try_from(number).map_err(|_| unexpected(key, &value, range)),
        other => Err(unexpected(key, &other, ValueProblem::NotANumber)),
    }
}

fn unexpected(key: Key, value: &Value, problem: ValueProblem) -> NegotiationError {
    NegotiationError::InvalidValue {
        key: key.name().into(),
        value: value.to_string(),
        problem,
    }
}
