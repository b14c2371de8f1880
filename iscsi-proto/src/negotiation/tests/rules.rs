use crate::negotiation::keys::*;
use crate::negotiation::rules::*;
use crate::negotiation::value::*;
use crate::negotiation::*;

fn answer(key: Key, offered: &str, ours: &str) -> Reply {
    respond(key.def(), offered, ours).unwrap()
}

fn text(value: &str) -> Reply {
    Reply::Answer(Value::Text(value.into()))
}

// ---- responder side -------------------------------------------------------------------------

#[test]
fn list_picks_the_first_offered_value_we_support() {
    assert_eq!(
        answer(Key::HeaderDigest, "CRC32C,None", "None,CRC32C"),
        text("CRC32C")
    );
    assert_eq!(
        answer(Key::HeaderDigest, "None,CRC32C", "CRC32C,None"),
        text("None")
    );
    assert_eq!(
        answer(Key::HeaderDigest, "CRC32C,None", "None"),
        text("None")
    );
    assert_eq!(
        answer(Key::AuthMethod, "KRB5,SRP,CHAP,None", "CHAP,None"),
        text("CHAP")
    );
}

#[test]
fn list_skips_unknown_values_and_rejects_when_nothing_matches() {
    assert_eq!(
        answer(Key::HeaderDigest, "X-Md5,None", "CRC32C,None"),
        text("None")
    );
    assert_eq!(answer(Key::HeaderDigest, "CRC32C", "None"), Reply::Reject);
    assert_eq!(
        answer(Key::TaskReporting, "FastAbort", "RFC3720"),
        Reply::Reject
    );
}

#[test]
fn list_never_selects_a_special_word() {
    // "NotUnderstood" as an answer says the key was not understood; it is never a value,
    // even when both lists contain it (proptest found this).
    assert_eq!(
        answer(Key::HeaderDigest, "NotUnderstood", "NotUnderstood"),
        Reply::Reject
    );
    assert_eq!(
        answer(Key::HeaderDigest, "Irrelevant,None", "Irrelevant,None"),
        text("None")
    );
}

#[test]
fn list_offer_with_empty_element_is_rejected() {
    assert_eq!(
        answer(Key::HeaderDigest, "CRC32C,,None", "None"),
        Reply::Reject
    );
    assert_eq!(answer(Key::HeaderDigest, "", "None"), Reply::Reject);
}

#[test]
fn numerical_min_and_max() {
    assert_eq!(
        answer(Key::MaxBurstLength, "16776192", "262144"),
        Reply::Answer(Value::Number(262_144))
    );
    assert_eq!(
        answer(Key::MaxBurstLength, "65536", "262144"),
        Reply::Answer(Value::Number(65536))
    );
    assert_eq!(
        answer(Key::DefaultTime2Wait, "2", "5"),
        Reply::Answer(Value::Number(5))
    );
    assert_eq!(
        answer(Key::DefaultTime2Wait, "7", "5"),
        Reply::Answer(Value::Number(7))
    );
    assert_eq!(
        answer(Key::ErrorRecoveryLevel, "0x2", "1"),
        Reply::Answer(Value::Number(1))
    );
}

#[test]
fn out_of_range_and_non_numeric_offers_are_rejected() {
    assert_eq!(answer(Key::MaxBurstLength, "511", "262144"), Reply::Reject);
    assert_eq!(
        answer(Key::MaxBurstLength, "16777216", "262144"),
        Reply::Reject
    );
    assert_eq!(answer(Key::ErrorRecoveryLevel, "3", "0"), Reply::Reject);
    assert_eq!(answer(Key::MaxBurstLength, "lots", "262144"), Reply::Reject);
    assert_eq!(answer(Key::MaxBurstLength, "-1", "262144"), Reply::Reject);
}

#[test]
fn boolean_and_or() {
    let yes = Reply::Answer(Value::Boolean(true));
    let no = Reply::Answer(Value::Boolean(false));
    assert_eq!(answer(Key::ImmediateData, "Yes", "Yes"), yes);
    assert_eq!(answer(Key::ImmediateData, "Yes", "No"), no);
    assert_eq!(answer(Key::ImmediateData, "No", "Yes"), no);
    assert_eq!(answer(Key::InitialR2T, "No", "No"), no);
    assert_eq!(answer(Key::InitialR2T, "No", "Yes"), yes);
    assert_eq!(answer(Key::InitialR2T, "Yes", "No"), yes);
    assert_eq!(answer(Key::InitialR2T, "yes", "No"), Reply::Reject);
    assert_eq!(answer(Key::InitialR2T, "1", "No"), Reply::Reject);
}

#[test]
fn invalid_local_preference_means_nothing_is_acceptable() {
    assert_eq!(answer(Key::MaxBurstLength, "65536", ""), Reply::Reject);
    assert_eq!(answer(Key::HeaderDigest, "None", ""), Reply::Reject);
}

#[test]
fn declarative_keys_are_declared_not_answered() {
    assert_eq!(
        answer(Key::MaxRecvDataSegmentLength, "65536", ""),
        Reply::Declared(Value::Number(65536))
    );
    assert_eq!(
        answer(Key::TargetAlias, "disk0", ""),
        Reply::Declared(Value::Text("disk0".into()))
    );
    assert_eq!(
        respond(Key::MaxRecvDataSegmentLength.def(), "100", ""),
        Err(NegotiationError::InvalidValue {
            key: "MaxRecvDataSegmentLength".into(),
            value: "100".into(),
            problem: ValueProblem::OutOfRange {
                min: 512,
                max: 16_777_215
            },
        })
    );
    assert!(matches!(
        respond(Key::TargetPortalGroupTag.def(), "tag", ""),
        Err(NegotiationError::InvalidValue {
            problem: ValueProblem::NotANumber,
            ..
        })
    ));
}

#[test]
fn obsolete_marker_keys_are_rejected() {
    assert_eq!(answer(Key::OfMarker, "No", ""), Reply::Reject);
    assert_eq!(answer(Key::IfMarker, "Yes", ""), Reply::Reject);
    assert_eq!(answer(Key::OfMarkInt, "2048~8192", ""), Reply::Reject);
    assert_eq!(answer(Key::IfMarkInt, "2048", ""), Reply::Reject);
}

// ---- offerer side ---------------------------------------------------------------------------

#[test]
fn accepted_answers_give_the_result() {
    let ok = |key: Key, offered, reply| check_answer(key.def(), offered, reply).unwrap();
    assert_eq!(
        ok(Key::HeaderDigest, "CRC32C,None", "None"),
        Value::Text("None".into())
    );
    assert_eq!(
        ok(Key::MaxBurstLength, "16776192", "262144"),
        Value::Number(262_144)
    );
    assert_eq!(
        ok(Key::MaxBurstLength, "16776192", "16776192"),
        Value::Number(16_776_192)
    );
    assert_eq!(ok(Key::DefaultTime2Wait, "2", "20"), Value::Number(20));
    assert_eq!(ok(Key::ImmediateData, "Yes", "No"), Value::Boolean(false));
    assert_eq!(ok(Key::ImmediateData, "No", "No"), Value::Boolean(false));
    assert_eq!(ok(Key::InitialR2T, "No", "Yes"), Value::Boolean(true));
    assert_eq!(ok(Key::InitialR2T, "Yes", "Yes"), Value::Boolean(true));
}

#[test]
fn list_answer_must_be_one_offered_value() {
    let expected = |answer: &str| NegotiationError::AnswerNotOffered {
        key: "HeaderDigest".into(),
        answer: answer.into(),
        offered: "CRC32C".into(),
    };
    assert_eq!(
        check_answer(Key::HeaderDigest.def(), "CRC32C", "None"),
        Err(expected("None"))
    );
    assert_eq!(
        check_answer(Key::HeaderDigest.def(), "CRC32C", "CRC32C,None"),
        Err(expected("CRC32C,None"))
    );
}

#[test]
fn numerical_answers_on_the_wrong_side_of_our_offer_fail() {
    assert_eq!(
        check_answer(Key::MaxBurstLength.def(), "262144", "262145"),
        Err(NegotiationError::AnswerAboveOffer {
            key: "MaxBurstLength".into(),
            answer: 262_145,
            offered: 262_144,
        })
    );
    assert_eq!(
        check_answer(Key::DefaultTime2Wait.def(), "2", "1"),
        Err(NegotiationError::AnswerBelowOffer {
            key: "DefaultTime2Wait".into(),
            answer: 1,
            offered: 2,
        })
    );
}

#[test]
fn invalid_numerical_answers_fail() {
    assert_eq!(
        check_answer(Key::MaxBurstLength.def(), "262144", "256"),
        Err(NegotiationError::InvalidValue {
            key: "MaxBurstLength".into(),
            value: "256".into(),
            problem: ValueProblem::OutOfRange {
                min: 512,
                max: 16_777_215
            },
        })
    );
    assert_eq!(
        check_answer(Key::ErrorRecoveryLevel.def(), "2", "two"),
        Err(NegotiationError::InvalidValue {
            key: "ErrorRecoveryLevel".into(),
            value: "two".into(),
            problem: ValueProblem::NotANumber,
        })
    );
}

#[test]
fn boolean_answers_that_break_the_result_function_fail() {
    assert_eq!(
        check_answer(Key::ImmediateData.def(), "No", "Yes"),
        Err(NegotiationError::AndAnsweredYes {
            key: "ImmediateData".into()
        })
    );
    assert_eq!(
        check_answer(Key::DataPduInOrder.def(), "Yes", "No"),
        Err(NegotiationError::OrAnsweredNo {
            key: "DataPDUInOrder".into()
        })
    );
    assert_eq!(
        check_answer(Key::InitialR2T.def(), "No", "Maybe"),
        Err(NegotiationError::InvalidValue {
            key: "InitialR2T".into(),
            value: "Maybe".into(),
            problem: ValueProblem::NotBoolean,
        })
    );
}

#[test]
fn irrelevant_answer_means_the_default() {
    assert_eq!(
        check_answer(Key::FirstBurstLength.def(), "4096", "Irrelevant"),
        Ok(Value::Number(65536))
    );
    assert_eq!(
        check_answer(Key::HeaderDigest.def(), "CRC32C", "Irrelevant"),
        Ok(Value::Text("None".into()))
    );
}

#[test]
fn reject_falls_back_to_an_acceptable_default() {
    assert_eq!(
        check_answer(Key::HeaderDigest.def(), "CRC32C,None", "Reject"),
        Ok(Value::Text("None".into()))
    );
    assert_eq!(
        check_answer(Key::MaxBurstLength.def(), "16776192", "Reject"),
        Ok(Value::Number(262_144))
    );
}

#[test]
fn reject_of_a_key_we_need_fails() {
    assert_eq!(
        check_answer(Key::HeaderDigest.def(), "CRC32C", "Reject"),
        Err(NegotiationError::Refused {
            key: "HeaderDigest".into(),
            offered: "CRC32C".into(),
            refusal: Refusal::Answered(Special::Reject),
        })
    );
    // Default MaxBurstLength (262144) is larger than the 4096 we can take.
    assert!(matches!(
        check_answer(Key::MaxBurstLength.def(), "4096", "Reject"),
        Err(NegotiationError::Refused { .. })
    ));
    // Default ImmediateData=Yes contradicts our No.
    assert!(matches!(
        check_answer(Key::ImmediateData.def(), "No", "Reject"),
        Err(NegotiationError::Refused { .. })
    ));
}

#[test]
fn not_understood_behaves_like_reject() {
    assert_eq!(
        check_answer(Key::TaskReporting.def(), "RFC3720", "NotUnderstood"),
        Ok(Value::Text("RFC3720".into()))
    );
    assert_eq!(
        check_answer(Key::DataDigest.def(), "CRC32C", "NotUnderstood"),
        Err(NegotiationError::Refused {
            key: "DataDigest".into(),
            offered: "CRC32C".into(),
            refusal: Refusal::Answered(Special::NotUnderstood),
        })
    );
}

#[test]
fn declared_keys_have_no_answer_to_check() {
    assert_eq!(
        check_answer(Key::MaxRecvDataSegmentLength.def(), "8192", "8192"),
        Err(NegotiationError::NotNegotiated {
            key: "MaxRecvDataSegmentLength".into()
        })
    );
    assert_eq!(
        check_answer(Key::OfMarker.def(), "No", "Reject"),
        Err(NegotiationError::NotNegotiated {
            key: "OFMarker".into()
        })
    );
}

#[test]
fn silent_responder_results() {
    let implied = |key: Key, offered| result_without_answer(key.def(), offered);
    assert_eq!(
        implied(Key::ImmediateData, "No"),
        Some(Value::Boolean(false))
    );
    assert_eq!(implied(Key::ImmediateData, "Yes"), None);
    assert_eq!(
        implied(Key::DataPduInOrder, "Yes"),
        Some(Value::Boolean(true))
    );
    assert_eq!(implied(Key::InitialR2T, "No"), None);
    assert_eq!(implied(Key::MaxBurstLength, "512"), None);
}

#[test]
fn unanswered_offer_falls_back_only_when_acceptable() {
    assert_eq!(
        fallback(Key::DefaultTime2Wait.def(), "2", Refusal::NoAnswer),
        Ok(Value::Number(2))
    );
    assert_eq!(
        fallback(Key::DefaultTime2Wait.def(), "3", Refusal::NoAnswer),
        Err(NegotiationError::Refused {
            key: "DefaultTime2Wait".into(),
            offered: "3".into(),
            refusal: Refusal::NoAnswer,
        })
    );
}

#[test]
fn errors_name_the_key() {
    let error = check_answer(Key::MaxBurstLength.def(), "262144", "262145").unwrap_err();
    assert!(error.to_string().starts_with("MaxBurstLength:"), "{error}");
    let error = fallback(Key::HeaderDigest.def(), "CRC32C", Refusal::NoAnswer).unwrap_err();
    assert_eq!(
        error.to_string(),
        "HeaderDigest: our offer \"CRC32C\" was never answered and the default is not acceptable"
    );
}
