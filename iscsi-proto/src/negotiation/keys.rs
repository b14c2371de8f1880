//! The table of text keys defined by RFC 7143 §12-§13 (and RFC 7144 for iSCSIProtocolLevel):
//! how each is negotiated, which values it takes, where it may appear and its default.

use std::fmt;

use crate::text::MAX_VALUE_LEN;

/// Every key RFC 7143 defines, including the obsolete marker keys and the CHAP keys.
///
/// The discriminant indexes [`KEYS`]; `ChapR` must stay the last variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Key {
    HeaderDigest,
    DataDigest,
    MaxConnections,
    SendTargets,
    TargetName,
    InitiatorName,
    TargetAlias,
    InitiatorAlias,
    TargetAddress,
    TargetPortalGroupTag,
    InitialR2T,
    ImmediateData,
    MaxRecvDataSegmentLength,
    MaxBurstLength,
    FirstBurstLength,
    DefaultTime2Wait,
    DefaultTime2Retain,
    MaxOutstandingR2T,
    DataPduInOrder,
    DataSequenceInOrder,
    ErrorRecoveryLevel,
    SessionType,
    AuthMethod,
    TaskReporting,
    IscsiProtocolLevel,
    NodeArchitecture,
    OfMarker,
    IfMarker,
    OfMarkInt,
    IfMarkInt,
    ChapA,
    ChapI,
    ChapC,
    ChapN,
    ChapR,
}

/// How the value of a key is agreed (RFC 7143 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NegotiationKind {
    /// list-of-values: the responder answers with the first value, in the offerer's order, that
    /// it supports, or `Reject` if there is none.
    List,
    /// Numerical; the result is the smaller of the two values.
    NumericalMin,
    /// Numerical; the result is the larger of the two values.
    NumericalMax,
    /// Boolean; the result is Yes only if both sides say Yes.
    BooleanAnd,
    /// Boolean; the result is Yes if either side says Yes.
    BooleanOr,
    /// Each side states its own value; nothing is answered (e.g. MaxRecvDataSegmentLength).
    Declarative,
    /// Carried by an exchange handled elsewhere (authentication, SendTargets); not negotiated.
    Informational,
    /// Obsoleted by RFC 7143 §13.25: never offered, and answered with `Reject` when received.
    Obsolete,
}

impl NegotiationKind {
    /// True for the kinds whose offers expect an answer computed by a result function.
    pub(crate) fn is_negotiated(self) -> bool {
        matches!(
            self,
            Self::List
                | Self::NumericalMin
                | Self::NumericalMax
                | Self::BooleanAnd
                | Self::BooleanOr
        )
    }
}

/// The syntax of a key's value (RFC 7143 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    /// `Yes` or `No`.
    Boolean,
    /// An unsigned number (decimal or `0x` hex) within `min..=max`.
    Number { min: u64, max: u64 },
    /// One of a fixed vocabulary. For list keys, offers may also name values outside it (they
    /// are simply never chosen).
    Word(&'static [&'static str]),
    /// Free text (names, aliases, addresses, CHAP values) up to `max_len` bytes.
    Text { max_len: usize },
}

/// Where in the life of a connection a key may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The login's security negotiation stage only (authentication keys).
    Security,
    /// The login's operational negotiation stage only.
    Operational,
    /// Either login stage (names, session type, portal group tag).
    Login,
    /// The Full Feature Phase only, in Text requests (SendTargets).
    FullFeature,
    /// Any login stage and the Full Feature Phase (RFC 7143 "Use: ALL").
    Any,
}

/// A place where text keys are exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    SecurityNegotiation,
    OperationalNegotiation,
    FullFeature,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SecurityNegotiation => "security negotiation",
            Self::OperationalNegotiation => "operational negotiation",
            Self::FullFeature => "full feature",
        })
    }
}

impl Phase {
    /// True if a key of this phase may be exchanged in `stage`.
    pub(crate) fn allows(self, stage: Stage) -> bool {
        match self {
            Self::Security => stage == Stage::SecurityNegotiation,
            Self::Operational => stage == Stage::OperationalNegotiation,
            Self::Login => stage != Stage::FullFeature,
            Self::FullFeature => stage == Stage::FullFeature,
            Self::Any => true,
        }
    }
}

/// Whether a negotiated value applies to the whole session or to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Session,
    Connection,
}

/// Which side may originate a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Senders {
    Initiator,
    Target,
    Both,
}

/// Everything RFC 7143 says about one key that a negotiator needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyDef {
    pub(crate) key: Key,
    /// The key as written on the wire (case-sensitive).
    pub(crate) name: &'static str,
    pub(crate) kind: NegotiationKind,
    pub(crate) value_type: ValueType,
    pub(crate) phase: Phase,
    pub(crate) scope: Scope,
    pub(crate) senders: Senders,
    /// Negotiated only on the leading connection of a session (RFC "Use: LO").
    pub(crate) leading_only: bool,
    /// RFC "Irrelevant when: SessionType=Discovery": answered `Irrelevant` in discovery sessions.
    pub(crate) irrelevant_in_discovery: bool,
    /// The value in force when the key is never negotiated.
    pub(crate) default: Option<&'static str>,
}

impl Key {
    /// The table entry for this key.
    pub(crate) fn def(self) -> &'static KeyDef {
        // In bounds and the right entry: checked at compile time below the table.
        &KEYS[self as usize]
    }

    /// The key as written on the wire.
    pub(crate) fn name(self) -> &'static str {
        self.def().name
    }
}

/// Finds a key by its wire name (case-sensitive, RFC 7143 §6.1).
pub(crate) fn lookup(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|def| def.name == name)
}

/// Lengths (MaxBurstLength etc.) range over 512 to 2^24 - 1 bytes.
const LENGTH: ValueType = ValueType::Number {
    min: 512,
    max: (1 << 24) - 1,
};
/// DefaultTime2Wait and DefaultTime2Retain: 0 to 3600 seconds.
const SECONDS: ValueType = ValueType::Number { min: 0, max: 3600 };
const DIGESTS: ValueType = ValueType::Word(&["CRC32C", "None"]);
/// iSCSI names are limited to 223 bytes (RFC 7143 §4.2.7.1).
const ISCSI_NAME: ValueType = ValueType::Text { max_len: 223 };
/// A simple-value is limited to 255 bytes unless a key says otherwise (RFC 7143 §6.1).
const SIMPLE_TEXT: ValueType = ValueType::Text { max_len: 255 };
/// CHAP challenges and responses are large-binary-values.
const LARGE_BINARY: ValueType = ValueType::Text {
    max_len: MAX_VALUE_LEN,
};

/// A key negotiated in the operational stage of the leading connection.
const fn leading(
    key: Key,
    name: &'static str,
    kind: NegotiationKind,
    value_type: ValueType,
    default: &'static str,
) -> KeyDef {
    KeyDef {
        key,
        name,
        kind,
        value_type,
        phase: Phase::Operational,
        scope: Scope::Session,
        senders: Senders::Both,
        leading_only: true,
        irrelevant_in_discovery: true,
        default: Some(default),
    }
}

/// A key exchanged during authentication (RFC 7143 §12.1.3).
const fn chap(
    key: Key,
    name: &'static str,
    kind: NegotiationKind,
    value_type: ValueType,
) -> KeyDef {
    KeyDef {
        key,
        name,
        kind,
        value_type,
        phase: Phase::Security,
        scope: Scope::Connection,
        senders: Senders::Both,
        leading_only: false,
        irrelevant_in_discovery: false,
        default: None,
    }
}

/// A key that states a fact about its sender.
const fn declaration(
    key: Key,
    name: &'static str,
    value_type: ValueType,
    phase: Phase,
    senders: Senders,
) -> KeyDef {
    KeyDef {
        key,
        name,
        kind: NegotiationKind::Declarative,
        value_type,
        phase,
        scope: Scope::Session,
        senders,
        leading_only: false,
        irrelevant_in_discovery: false,
        default: None,
    }
}

/// An obsolete marker key (RFC 7143 §13.25), described as RFC 3720 defined it.
const fn marker(
    key: Key,
    name: &'static str,
    value_type: ValueType,
    default: &'static str,
) -> KeyDef {
    KeyDef {
        key,
        name,
        kind: NegotiationKind::Obsolete,
        value_type,
        phase: Phase::Operational,
        scope: Scope::Connection,
        senders: Senders::Both,
        leading_only: false,
        irrelevant_in_discovery: false,
        default: Some(default),
    }
}

use NegotiationKind::{BooleanAnd, BooleanOr, List, NumericalMax, NumericalMin};

/// All keys, in the declaration order of [`Key`].
pub(crate) static KEYS: [KeyDef; KEY_COUNT] = TABLE;

const KEY_COUNT: usize = Key::ChapR as usize + 1;

// `Key::def` indexes the table by discriminant: every entry must sit at its key's position.
const _: () = {
    let mut index = 0;
    while index < KEY_COUNT {
        assert!(TABLE[index].key as usize == index);
        index += 1;
    }
};

const TABLE: [KeyDef; KEY_COUNT] = [
    KeyDef {
        key: Key::HeaderDigest,
        name: "HeaderDigest",
        kind: List,
        value_type: DIGESTS,
        phase: Phase::Operational,
        scope: Scope::Connection,
        senders: Senders::Both,
        leading_only: false,
        irrelevant_in_discovery: false,
        default: Some("None"),
    },
    KeyDef {
        key: Key::DataDigest,
        name: "DataDigest",
        kind: List,
        value_type: DIGESTS,
        phase: Phase::Operational,
        scope: Scope::Connection,
        senders: Senders::Both,
        leading_only: false,
        irrelevant_in_discovery: false,
        default: Some("None"),
    },
    leading(
        Key::MaxConnections,
        "MaxConnections",
        NumericalMin,
        ValueType::Number { min: 1, max: 65535 },
        "1",
    ),
    KeyDef {
        key: Key::SendTargets,
        name: "SendTargets",
        kind: NegotiationKind::Informational,
        value_type: SIMPLE_TEXT,
        phase: Phase::FullFeature,
        scope: Scope::Session,
        senders: Senders::Initiator,
        leading_only: false,
        irrelevant_in_discovery: false,
        default: None,
    },
    // The target sends TargetName only in SendTargets responses, which are parsed elsewhere.
    declaration(
        Key::TargetName,
        "TargetName",
        ISCSI_NAME,
        Phase::Login,
        Senders::Initiator,
    ),
    declaration(
        Key::InitiatorName,
        "InitiatorName",
        ISCSI_NAME,
        Phase::Login,
        Senders::Initiator,
    ),
    declaration(
        Key::TargetAlias,
        "TargetAlias",
        SIMPLE_TEXT,
        Phase::Any,
        Senders::Target,
    ),
    declaration(
        Key::InitiatorAlias,
        "InitiatorAlias",
        SIMPLE_TEXT,
        Phase::Any,
        Senders::Initiator,
    ),
    declaration(
        Key::TargetAddress,
        "TargetAddress",
        SIMPLE_TEXT,
        Phase::Any,
        Senders::Target,
    ),
    declaration(
        Key::TargetPortalGroupTag,
        "TargetPortalGroupTag",
        ValueType::Number { min: 0, max: 65535 },
        Phase::Login,
        Senders::Target,
    ),
    leading(
        Key::InitialR2T,
        "InitialR2T",
        BooleanOr,
        ValueType::Boolean,
        "Yes",
    ),
    leading(
        Key::ImmediateData,
        "ImmediateData",
        BooleanAnd,
        ValueType::Boolean,
        "Yes",
    ),
    KeyDef {
        key: Key::MaxRecvDataSegmentLength,
        name: "MaxRecvDataSegmentLength",
        kind: NegotiationKind::Declarative,
        value_type: LENGTH,
        phase: Phase::Any,
        scope: Scope::Connection,
        senders: Senders::Both,
        leading_only: false,
        irrelevant_in_discovery: false,
        default: Some("8192"),
    },
    leading(
        Key::MaxBurstLength,
        "MaxBurstLength",
        NumericalMin,
        LENGTH,
        "262144",
    ),
    leading(
        Key::FirstBurstLength,
        "FirstBurstLength",
        NumericalMin,
        LENGTH,
        "65536",
    ),
    KeyDef {
        irrelevant_in_discovery: false,
        ..leading(
            Key::DefaultTime2Wait,
            "DefaultTime2Wait",
            NumericalMax,
            SECONDS,
            "2",
        )
    },
    KeyDef {
        irrelevant_in_discovery: false,
        ..leading(
            Key::DefaultTime2Retain,
            "DefaultTime2Retain",
            NumericalMin,
            SECONDS,
            "20",
        )
    },
    leading(
        Key::MaxOutstandingR2T,
        "MaxOutstandingR2T",
        NumericalMin,
        ValueType::Number { min: 1, max: 65535 },
        "1",
    ),
    leading(
        Key::DataPduInOrder,
        "DataPDUInOrder",
        BooleanOr,
        ValueType::Boolean,
        "Yes",
    ),
    leading(
        Key::DataSequenceInOrder,
        "DataSequenceInOrder",
        BooleanOr,
        ValueType::Boolean,
        "Yes",
    ),
    KeyDef {
        irrelevant_in_discovery: false,
        ..leading(
            Key::ErrorRecoveryLevel,
            "ErrorRecoveryLevel",
            NumericalMin,
            ValueType::Number { min: 0, max: 2 },
            "0",
        )
    },
    KeyDef {
        leading_only: true,
        default: Some("Normal"),
        ..declaration(
            Key::SessionType,
            "SessionType",
            ValueType::Word(&["Discovery", "Normal"]),
            Phase::Login,
            Senders::Initiator,
        )
    },
    KeyDef {
        default: Some("None"),
        ..chap(
            Key::AuthMethod,
            "AuthMethod",
            List,
            ValueType::Word(&["None", "CHAP", "SRP", "KRB5"]),
        )
    },
    leading(
        Key::TaskReporting,
        "TaskReporting",
        List,
        ValueType::Word(&["RFC3720", "ResponseFence", "FastAbort"]),
        "RFC3720",
    ),
    // RFC 7144 §2.1: "Use: IO"; a peer that does not know the key is at level 0 (RFC 3720).
    KeyDef {
        leading_only: false,
        ..leading(
            Key::IscsiProtocolLevel,
            "iSCSIProtocolLevel",
            NumericalMin,
            ValueType::Number { min: 0, max: 31 },
            "0",
        )
    },
    KeyDef {
        leading_only: true,
        ..declaration(
            Key::NodeArchitecture,
            "X#NodeArchitecture",
            SIMPLE_TEXT,
            Phase::Login,
            Senders::Both,
        )
    },
    marker(Key::OfMarker, "OFMarker", ValueType::Boolean, "No"),
    marker(Key::IfMarker, "IFMarker", ValueType::Boolean, "No"),
    marker(
        Key::OfMarkInt,
        "OFMarkInt",
        ValueType::Number { min: 1, max: 65535 },
        "2048",
    ),
    marker(
        Key::IfMarkInt,
        "IFMarkInt",
        ValueType::Number { min: 1, max: 65535 },
        "2048",
    ),
    chap(Key::ChapA, "CHAP_A", List, SIMPLE_TEXT),
    chap(
        Key::ChapI,
        "CHAP_I",
        NegotiationKind::Informational,
        ValueType::Number { min: 0, max: 255 },
    ),
    chap(
        Key::ChapC,
        "CHAP_C",
        NegotiationKind::Informational,
        LARGE_BINARY,
    ),
    chap(
        Key::ChapN,
        "CHAP_N",
        NegotiationKind::Informational,
        SIMPLE_TEXT,
    ),
    chap(
        Key::ChapR,
        "CHAP_R",
        NegotiationKind::Informational,
        LARGE_BINARY,
    ),
];
