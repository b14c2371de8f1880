use crate::negotiation::keys::*;
use crate::negotiation::keys::{lookup, KEYS};
use crate::negotiation::value::*;

#[test]
fn every_rfc_7143_key_is_in_the_table() {
    let names = [
        "HeaderDigest",
        "DataDigest",
        "MaxConnections",
        "SendTargets",
        "TargetName",
        "InitiatorName",
        "TargetAlias",
        "InitiatorAlias",
        "TargetAddress",
        "TargetPortalGroupTag",
        "InitialR2T",
        "ImmediateData",
        "MaxRecvDataSegmentLength",
        "MaxBurstLength",
        "FirstBurstLength",
        "DefaultTime2Wait",
        "DefaultTime2Retain",
        "MaxOutstandingR2T",
        "DataPDUInOrder",
        "DataSequenceInOrder",
        "ErrorRecoveryLevel",
        "SessionType",
        "AuthMethod",
        "TaskReporting",
        "iSCSIProtocolLevel",
        "X#NodeArchitecture",
        "OFMarker",
        "IFMarker",
        "OFMarkInt",
        "IFMarkInt",
        "CHAP_A",
        "CHAP_I",
        "CHAP_C",
        "CHAP_N",
        "CHAP_R",
    ];
    assert_eq!(KEYS.len(), names.len());
    for name in names {
        let def = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(def.name, name);
        assert_eq!(def.key.def(), def);
        assert_eq!(def.key.name(), name);
    }
}

#[test]
fn lookup_is_case_sensitive_and_exact() {
    assert!(lookup("headerdigest").is_none());
    assert!(lookup("HeaderDigest ").is_none());
    assert!(lookup("X-com.example.Private").is_none());
}

#[test]
fn kinds_match_value_types_and_defaults_parse() {
    for def in &KEYS {
        match def.kind {
            NegotiationKind::NumericalMin | NegotiationKind::NumericalMax => {
                assert!(
                    matches!(def.value_type, ValueType::Number { .. }),
                    "{}",
                    def.name
                )
            }
            NegotiationKind::BooleanAnd | NegotiationKind::BooleanOr => {
                assert_eq!(def.value_type, ValueType::Boolean, "{}", def.name)
            }
            _ => {}
        }
        if def.kind.is_negotiated() && def.phase == Phase::Operational {
            assert!(def.default.is_some(), "{} needs a default", def.name);
        }
        if let Some(default) = def.default {
            assert!(
                parse_value(&def.value_type, default).is_ok(),
                "{} default",
                def.name
            );
        }
    }
}

#[test]
fn rfc_facts_for_operational_keys() {
    let check = |key: Key, kind, default: &str, range: Option<(u64, u64)>| {
        let def = key.def();
        assert_eq!(def.kind, kind, "{}", def.name);
        assert_eq!(def.default, Some(default), "{}", def.name);
        if let Some((min, max)) = range {
            assert_eq!(
                def.value_type,
                ValueType::Number { min, max },
                "{}",
                def.name
            );
        }
    };
    use NegotiationKind::*;
    const LENGTHS: Option<(u64, u64)> = Some((512, 16_777_215));
    check(Key::HeaderDigest, List, "None", None);
    check(Key::DataDigest, List, "None", None);
    check(Key::MaxConnections, NumericalMin, "1", Some((1, 65535)));
    check(Key::InitialR2T, BooleanOr, "Yes", None);
    check(Key::ImmediateData, BooleanAnd, "Yes", None);
    check(Key::MaxRecvDataSegmentLength, Declarative, "8192", LENGTHS);
    check(Key::MaxBurstLength, NumericalMin, "262144", LENGTHS);
    check(Key::FirstBurstLength, NumericalMin, "65536", LENGTHS);
    check(Key::DefaultTime2Wait, NumericalMax, "2", Some((0, 3600)));
    check(Key::DefaultTime2Retain, NumericalMin, "20", Some((0, 3600)));
    check(Key::MaxOutstandingR2T, NumericalMin, "1", Some((1, 65535)));
    check(Key::DataPduInOrder, BooleanOr, "Yes", None);
    check(Key::DataSequenceInOrder, BooleanOr, "Yes", None);
    check(Key::ErrorRecoveryLevel, NumericalMin, "0", Some((0, 2)));
    check(Key::TaskReporting, List, "RFC3720", None);
    check(Key::IscsiProtocolLevel, NumericalMin, "0", Some((0, 31)));
    check(Key::SessionType, Declarative, "Normal", None);
    check(Key::AuthMethod, List, "None", None);
    for obsolete in [Key::OfMarker, Key::IfMarker, Key::OfMarkInt, Key::IfMarkInt] {
        assert_eq!(obsolete.def().kind, Obsolete);
    }
}

#[test]
fn scopes_phases_and_leading_only() {
    assert_eq!(Key::HeaderDigest.def().scope, Scope::Connection);
    assert_eq!(Key::MaxRecvDataSegmentLength.def().scope, Scope::Connection);
    assert_eq!(Key::MaxBurstLength.def().scope, Scope::Session);
    assert!(Key::MaxBurstLength.def().leading_only);
    assert!(!Key::HeaderDigest.def().leading_only);
    assert!(!Key::MaxRecvDataSegmentLength.def().leading_only);
    assert_eq!(Key::AuthMethod.def().phase, Phase::Security);
    assert_eq!(Key::ChapC.def().phase, Phase::Security);
    assert_eq!(Key::SendTargets.def().phase, Phase::FullFeature);
    assert_eq!(Key::TargetAlias.def().phase, Phase::Any);
    assert_eq!(Key::TargetPortalGroupTag.def().senders, Senders::Target);
    assert_eq!(Key::InitiatorName.def().senders, Senders::Initiator);
}

#[test]
fn irrelevant_in_discovery_follows_the_rfc() {
    let irrelevant: Vec<&str> = KEYS
        .iter()
        .filter(|def| def.irrelevant_in_discovery)
        .map(|def| def.name)
        .collect();
    assert_eq!(
        irrelevant,
        [
            "MaxConnections",
            "InitialR2T",
            "ImmediateData",
            "MaxBurstLength",
            "FirstBurstLength",
            "MaxOutstandingR2T",
            "DataPDUInOrder",
            "DataSequenceInOrder",
            "TaskReporting",
            "iSCSIProtocolLevel",
        ]
    );
}

#[test]
fn phases_allow_their_stages() {
    use Stage::*;
    let allowed = |phase: Phase| {
        [SecurityNegotiation, OperationalNegotiation, FullFeature].map(|stage| phase.allows(stage))
    };
    assert_eq!(allowed(Phase::Security), [true, false, false]);
    assert_eq!(allowed(Phase::Operational), [false, true, false]);
    assert_eq!(allowed(Phase::Login), [true, true, false]);
    assert_eq!(allowed(Phase::FullFeature), [false, false, true]);
    assert_eq!(allowed(Phase::Any), [true, true, true]);
}
