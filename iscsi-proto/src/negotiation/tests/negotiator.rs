use super::pairs;
use crate::negotiation::keys::*;
use crate::negotiation::value::*;
use crate::negotiation::*;
use crate::text;

fn normal() -> Negotiator {
    Negotiator::new(OperationalConfig::default(), SessionType::Normal).unwrap()
}

/// What tgtd-like targets answer to open-iscsi's default offers.
fn typical_answers() -> Vec<(String, String)> {
    pairs(&[
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
    ])
}

#[test]
fn normal_session_offers_match_open_iscsi() {
    assert_eq!(
        normal().offers(),
        pairs(&[
            ("HeaderDigest", "None"),
            ("DataDigest", "None"),
            ("DefaultTime2Wait", "2"),
            ("DefaultTime2Retain", "0"),
            ("ErrorRecoveryLevel", "0"),
            ("InitialR2T", "No"),
            ("ImmediateData", "Yes"),
            ("MaxBurstLength", "16776192"),
            ("FirstBurstLength", "262144"),
            ("MaxOutstandingR2T", "1"),
            ("MaxConnections", "1"),
            ("DataPDUInOrder", "Yes"),
            ("DataSequenceInOrder", "Yes"),
            ("MaxRecvDataSegmentLength", "262144"),
        ])
    );
}

#[test]
fn offers_encode_byte_exact() {
    let config = OperationalConfig {
        header_digest: DigestPreference::Crc32cPreferred,
        data_digest: DigestPreference::NonePreferred,
        max_recv_data_segment_length: 8192,
        ..OperationalConfig::default()
    };
    let negotiator = Negotiator::new(config, SessionType::Discovery).unwrap();
    assert_eq!(
        text::encode(&negotiator.offers()).unwrap(),
        b"HeaderDigest=CRC32C,None\0DataDigest=None,CRC32C\0DefaultTime2Wait=2\0\
          DefaultTime2Retain=0\0ErrorRecoveryLevel=0\0MaxRecvDataSegmentLength=8192\0"
            .to_vec()
    );
}

#[test]
fn digest_preferences_offer_their_lists() {
    for (preference, offer) in [
        (DigestPreference::None, "None"),
        (DigestPreference::Crc32cPreferred, "CRC32C,None"),
        (DigestPreference::NonePreferred, "None,CRC32C"),
        (DigestPreference::Crc32cRequired, "CRC32C"),
    ] {
        let config = OperationalConfig {
            data_digest: preference,
            ..OperationalConfig::default()
        };
        let offers = Negotiator::new(config, SessionType::Normal)
            .unwrap()
            .offers();
        assert!(
            offers.contains(&("DataDigest".into(), offer.into())),
            "{preference:?}"
        );
    }
}

#[test]
fn typical_login_completes_with_negotiated_values() {
    let mut negotiator = normal();
    assert!(!negotiator.is_complete());
    let answers = negotiator.handle_target_pairs(&typical_answers()).unwrap();
    assert_eq!(answers, Vec::new());
    assert!(negotiator.is_complete());
    assert_eq!(
        negotiator.finish().unwrap(),
        SessionParams {
            header_digest: false,
            data_digest: false,
            initial_r2t: true,
            immediate_data: true,
            max_recv_data_segment_length: 262_144,
            max_xmit_data_segment_length: 8192,
            max_burst_length: 262_144,
            first_burst_length: 65536,
            default_time2wait: 2,
            default_time2retain: 0,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
            max_connections: 1,
            target_alias: None,
            target_portal_group_tag: None,
        }
    );
}

#[test]
fn answers_may_arrive_over_several_responses() {
    let mut negotiator = normal();
    let answers = typical_answers();
    let (first, second) = answers.split_at(5);
    negotiator.handle_target_pairs(first).unwrap();
    assert!(!negotiator.is_complete());
    negotiator.handle_target_pairs(second).unwrap();
    assert!(negotiator.is_complete());
}

#[test]
fn or_yes_and_and_no_offers_need_no_answer() {
    let config = OperationalConfig {
        immediate_data: false,
        ..OperationalConfig::default()
    };
    let mut negotiator = Negotiator::new(config, SessionType::Normal).unwrap();
    let answers: Vec<_> = typical_answers()
        .into_iter()
        .filter(|(key, _)| {
            !matches!(
                key.as_str(),
                "ImmediateData" | "DataPDUInOrder" | "DataSequenceInOrder"
            )
        })
        .collect();
    negotiator.handle_target_pairs(&answers).unwrap();
    assert!(negotiator.is_complete());
    let params = negotiator.finish().unwrap();
    assert!(!params.immediate_data);
    assert!(params.data_pdu_in_order);
    assert!(params.data_sequence_in_order);
}

#[test]
fn target_declarations_are_recorded() {
    let mut negotiator = normal();
    negotiator
        .record_target_declarations(&pairs(&[
            ("TargetPortalGroupTag", "1"),
            ("TargetAlias", "disk0"),
            ("AuthMethod", "None"),
        ]))
        .unwrap();
    let mut answers = typical_answers();
    answers.retain(|(key, _)| key != "MaxRecvDataSegmentLength");
    answers.push(("MaxRecvDataSegmentLength".into(), "65536".into()));
    answers.push(("TargetPortalGroupTag".into(), "1".into()));
    negotiator.handle_target_pairs(&answers).unwrap();
    let params = negotiator.finish().unwrap();
    assert_eq!(params.max_xmit_data_segment_length, 65536);
    assert_eq!(params.target_portal_group_tag, Some(1));
    assert_eq!(params.target_alias.as_deref(), Some("disk0"));
}

#[test]
fn changed_declaration_is_a_duplicate() {
    let mut negotiator = normal();
    negotiator
        .record_target_declarations(&pairs(&[("TargetPortalGroupTag", "1")]))
        .unwrap();
    assert_eq!(
        negotiator.handle_target_pairs(&pairs(&[("TargetPortalGroupTag", "2")])),
        Err(NegotiationError::Duplicate {
            key: "TargetPortalGroupTag".into()
        })
    );
}

#[test]
fn invalid_declaration_fails() {
    let mut negotiator = normal();
    assert!(matches!(
        negotiator.handle_target_pairs(&pairs(&[("MaxRecvDataSegmentLength", "64")])),
        Err(NegotiationError::InvalidValue { .. })
    ));
    assert!(matches!(
        negotiator.record_target_declarations(&pairs(&[("TargetPortalGroupTag", "70000")])),
        Err(NegotiationError::InvalidValue { .. })
    ));
}

#[test]
fn target_offers_are_answered_with_our_preferences() {
    // The target offers keys we did not: TaskReporting, iSCSIProtocolLevel.
    let mut negotiator = normal();
    let answers = negotiator
        .handle_target_pairs(&pairs(&[
            ("TaskReporting", "ResponseFence,RFC3720"),
            ("iSCSIProtocolLevel", "2"),
        ]))
        .unwrap();
    assert_eq!(
        answers,
        pairs(&[("TaskReporting", "RFC3720"), ("iSCSIProtocolLevel", "1")])
    );
}

#[test]
fn unknown_and_private_keys_are_not_understood() {
    let mut negotiator = normal();
    let answers = negotiator
        .handle_target_pairs(&pairs(&[
            ("X-com.example.Feature", "Yes"),
            ("FutureKey", "1"),
            ("X-com.example.Answer", "NotUnderstood"),
            ("Y-Other", "Irrelevant"),
        ]))
        .unwrap();
    assert_eq!(
        answers,
        pairs(&[
            ("X-com.example.Feature", "NotUnderstood"),
            ("FutureKey", "NotUnderstood")
        ])
    );
}

#[test]
fn obsolete_marker_keys_are_rejected() {
    let mut negotiator = normal();
    let answers = negotiator
        .handle_target_pairs(&pairs(&[
            ("OFMarker", "No"),
            ("IFMarker", "No"),
            ("OFMarkInt", "2048~65535"),
            ("IFMarkInt", "2048~65535"),
        ]))
        .unwrap();
    assert_eq!(
        answers,
        pairs(&[
            ("OFMarker", "Reject"),
            ("IFMarker", "Reject"),
            ("OFMarkInt", "Reject"),
            ("IFMarkInt", "Reject"),
        ])
    );
}

#[test]
fn unacceptable_target_offer_is_rejected() {
    let mut negotiator = normal();
    let answers = negotiator
        .handle_target_pairs(&pairs(&[
            ("TaskReporting", "FastAbort"),
            ("iSCSIProtocolLevel", "32"),
        ]))
        .unwrap();
    assert_eq!(
        answers,
        pairs(&[
            ("TaskReporting", "Reject"),
            ("iSCSIProtocolLevel", "Reject")
        ])
    );
    // HeaderDigest was our own offer, so a bare CRC32C is a wrong answer, not an offer.
    assert_eq!(
        negotiator
            .handle_target_pairs(&pairs(&[("HeaderDigest", "CRC32C")]))
            .unwrap_err(),
        NegotiationError::AnswerNotOffered {
            key: "HeaderDigest".into(),
            answer: "CRC32C".into(),
            offered: "None".into(),
        }
    );
}

#[test]
fn discovery_session_offers_and_irrelevant_answers() {
    let mut negotiator =
        Negotiator::new(OperationalConfig::default(), SessionType::Discovery).unwrap();
    assert_eq!(
        negotiator.offers(),
        pairs(&[
            ("HeaderDigest", "None"),
            ("DataDigest", "None"),
            ("DefaultTime2Wait", "2"),
            ("DefaultTime2Retain", "0"),
            ("ErrorRecoveryLevel", "0"),
            ("MaxRecvDataSegmentLength", "262144"),
        ])
    );
    let answers = negotiator
        .handle_target_pairs(&pairs(&[
            ("HeaderDigest", "None"),
            ("DataDigest", "None"),
            ("DefaultTime2Wait", "2"),
            ("DefaultTime2Retain", "0"),
            ("ErrorRecoveryLevel", "0"),
            ("MaxBurstLength", "262144"),
            ("InitialR2T", "Yes"),
            ("OFMarker", "No"),
        ]))
        .unwrap();
    assert_eq!(
        answers,
        pairs(&[
            ("MaxBurstLength", "Irrelevant"),
            ("InitialR2T", "Irrelevant"),
            ("OFMarker", "Reject")
        ])
    );
    assert!(negotiator.is_complete());
    let params = negotiator.finish().unwrap();
    assert_eq!(params.max_burst_length, 262_144);
    assert!(params.initial_r2t);
}

#[test]
fn special_answers_to_our_offers() {
    let mut negotiator = normal();
    let mut answers = typical_answers();
    for (key, value) in answers.iter_mut() {
        match key.as_str() {
            "FirstBurstLength" => *value = "Irrelevant".into(),
            "MaxBurstLength" => *value = "Reject".into(),
            "MaxConnections" => *value = "NotUnderstood".into(),
            _ => {}
        }
    }
    negotiator.handle_target_pairs(&answers).unwrap();
    assert!(negotiator.is_complete());
    let params = negotiator.finish().unwrap();
    assert_eq!(params.first_burst_length, 65536);
    assert_eq!(params.max_burst_length, 262_144);
    assert_eq!(params.max_connections, 1);
}

#[test]
fn rejected_required_digest_fails_the_login() {
    let config = OperationalConfig {
        header_digest: DigestPreference::Crc32cRequired,
        ..OperationalConfig::default()
    };
    let mut negotiator = Negotiator::new(config, SessionType::Normal).unwrap();
    assert_eq!(
        negotiator.handle_target_pairs(&pairs(&[("HeaderDigest", "Reject")])),
        Err(NegotiationError::Refused {
            key: "HeaderDigest".into(),
            offered: "CRC32C".into(),
            refusal: Refusal::Answered(Special::Reject),
        })
    );
}

#[test]
fn crc32c_agreed_turns_digests_on() {
    let config = OperationalConfig {
        header_digest: DigestPreference::Crc32cPreferred,
        data_digest: DigestPreference::Crc32cRequired,
        ..OperationalConfig::default()
    };
    let mut negotiator = Negotiator::new(config, SessionType::Normal).unwrap();
    let mut answers = typical_answers();
    answers[0].1 = "CRC32C".into();
    answers[1].1 = "CRC32C".into();
    negotiator.handle_target_pairs(&answers).unwrap();
    let params = negotiator.finish().unwrap();
    assert!(params.header_digest);
    assert!(params.data_digest);
}

#[test]
fn first_burst_is_capped_by_max_burst() {
    let mut negotiator = normal();
    let mut answers = typical_answers();
    for (key, value) in answers.iter_mut() {
        match key.as_str() {
            "MaxBurstLength" => *value = "16384".into(),
            "FirstBurstLength" => *value = "65536".into(),
            _ => {}
        }
    }
    negotiator.handle_target_pairs(&answers).unwrap();
    let params = negotiator.finish().unwrap();
    assert_eq!(params.max_burst_length, 16384);
    assert_eq!(params.first_burst_length, 16384);
}

#[test]
fn silent_target_leaves_defaults_where_acceptable() {
    // Nothing answered at all: every offer falls back to its default, which is acceptable for
    // the open-iscsi defaults except DefaultTime2Retain (default 20 > our 0).
    let negotiator = normal();
    assert!(!negotiator.is_complete());
    assert_eq!(
        negotiator.finish(),
        Err(NegotiationError::Refused {
            key: "DefaultTime2Retain".into(),
            offered: "0".into(),
            refusal: Refusal::NoAnswer,
        })
    );
    let config = OperationalConfig {
        default_time2retain: 20,
        ..OperationalConfig::default()
    };
    let params = Negotiator::new(config, SessionType::Normal)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(
        params,
        SessionParams {
            max_recv_data_segment_length: 262_144,
            ..SessionParams::default()
        }
    );
}

#[test]
fn repeated_key_from_target_fails() {
    let mut negotiator = normal();
    negotiator
        .handle_target_pairs(&pairs(&[("MaxBurstLength", "65536")]))
        .unwrap();
    assert_eq!(
        negotiator.handle_target_pairs(&pairs(&[("MaxBurstLength", "65536")])),
        Err(NegotiationError::Duplicate {
            key: "MaxBurstLength".into()
        })
    );
    let mut negotiator = normal();
    assert_eq!(
        negotiator.handle_target_pairs(&pairs(&[("X-a", "1"), ("X-a", "1")])),
        Err(NegotiationError::Duplicate { key: "X-a".into() })
    );
}

#[test]
fn initiator_only_and_wrong_stage_keys_fail() {
    let mut negotiator = normal();
    assert_eq!(
        negotiator.handle_target_pairs(&pairs(&[("InitiatorName", "iqn.x")])),
        Err(NegotiationError::NotATargetKey {
            key: "InitiatorName".into()
        })
    );
    assert_eq!(
        negotiator.handle_target_pairs(&pairs(&[("CHAP_C", "0x00")])),
        Err(NegotiationError::WrongStage {
            key: "CHAP_C".into(),
            stage: Stage::OperationalNegotiation,
        })
    );
    assert!(matches!(
        negotiator.handle_target_pairs(&pairs(&[("AuthMethod", "None")])),
        Err(NegotiationError::WrongStage { .. })
    ));
}

#[test]
fn invalid_configuration_is_refused() {
    let bad = |config: OperationalConfig| Negotiator::new(config, SessionType::Normal).unwrap_err();
    assert_eq!(
        bad(OperationalConfig {
            max_recv_data_segment_length: 100,
            ..OperationalConfig::default()
        }),
        NegotiationError::InvalidConfig {
            key: "MaxRecvDataSegmentLength".into(),
            value: "100".into(),
            problem: ValueProblem::OutOfRange {
                min: 512,
                max: 16_777_215
            },
        }
    );
    assert!(matches!(
        bad(OperationalConfig {
            error_recovery_level: 3,
            ..OperationalConfig::default()
        }),
        NegotiationError::InvalidConfig { .. }
    ));
    assert!(matches!(
        bad(OperationalConfig {
            max_outstanding_r2t: 0,
            ..OperationalConfig::default()
        }),
        NegotiationError::InvalidConfig { .. }
    ));
    assert_eq!(
        bad(OperationalConfig {
            first_burst_length: 65536,
            max_burst_length: 16384,
            ..OperationalConfig::default()
        }),
        NegotiationError::InvalidConfig {
            key: "FirstBurstLength".into(),
            value: "65536".into(),
            problem: ValueProblem::OutOfRange {
                min: 512,
                max: 16384
            },
        }
    );
    // Bursts do not matter to a discovery session.
    let discovery = OperationalConfig {
        first_burst_length: 65536,
        max_burst_length: 16384,
        ..OperationalConfig::default()
    };
    assert!(Negotiator::new(discovery, SessionType::Discovery).is_ok());
}

#[test]
fn session_params_default_is_rfc_7143() {
    let params = SessionParams::default();
    assert_eq!(params.max_xmit_data_segment_length, 8192);
    assert_eq!(params.max_recv_data_segment_length, 8192);
    assert_eq!(params.max_burst_length, 262_144);
    assert_eq!(params.first_burst_length, 65536);
    assert_eq!(params.default_time2retain, 20);
    assert!(params.initial_r2t && params.immediate_data);
    assert!(!params.header_digest && !params.data_digest);
}
