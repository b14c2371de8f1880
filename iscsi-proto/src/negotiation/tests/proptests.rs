//! Property tests: no panics on hostile input, and a responder's answer always satisfies the
//! offerer's check.

use proptest::prelude::*;

use crate::negotiation::keys::KEYS;
use crate::negotiation::keys::*;
use crate::negotiation::rules::*;
use crate::negotiation::*;

fn any_key_def() -> impl Strategy<Value = &'static KeyDef> {
    prop::sample::select(KEYS.iter().collect::<Vec<_>>())
}

/// Values biased towards the interesting ones: numbers, booleans, lists, specials, junk.
fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..70_000).prop_map(|n| n.to_string()),
        (0u64..70_000).prop_map(|n| format!("0x{n:x}")),
        prop::sample::select(vec![
            "Yes",
            "No",
            "None",
            "CRC32C",
            "CRC32C,None",
            "None,CRC32C",
            "NotUnderstood",
            "Irrelevant",
            "Reject",
            "",
            ",",
            "RFC3720",
            "FastAbort,RFC3720",
        ])
        .prop_map(String::from),
        ".{0,40}",
    ]
}

fn any_key_name() -> impl Strategy<Value = String> {
    prop_oneof![
        any_key_def().prop_map(|def| def.name.to_string()),
        "X-[a-z.]{1,10}",
        "[A-Za-z]{1,12}",
    ]
}

proptest! {
    #[test]
    fn result_functions_never_panic(def in any_key_def(), a in any_value(), b in any_value()) {
        let _ = respond(def, &a, &b);
        let _ = check_answer(def, &a, &b);
        let _ = result_without_answer(def, &a);
        let _ = fallback(def, &a, Refusal::NoAnswer);
    }

    #[test]
    fn responder_answers_pass_the_offerers_check(
        def in any_key_def(), offered in any_value(), ours in any_value()
    ) {
        if let Ok(Reply::Answer(result)) = respond(def, &offered, &ours) {
            prop_assert_eq!(check_answer(def, &offered, &result.to_string()), Ok(result));
        }
    }

    #[test]
    fn negotiator_never_panics(
        rounds in prop::collection::vec(
            prop::collection::vec((any_key_name(), any_value()), 0..12), 0..4),
        discovery in any::<bool>(),
    ) {
        let session_type = if discovery { SessionType::Discovery } else { SessionType::Normal };
        let mut negotiator = Negotiator::new(OperationalConfig::default(), session_type).unwrap();
        for pairs in &rounds {
            if negotiator.handle_target_pairs(pairs).is_err() {
                return Ok(());
            }
            let _ = negotiator.record_target_declarations(pairs);
            let _ = negotiator.is_complete();
        }
        if let Ok(params) = negotiator.finish() {
            prop_assert!(params.first_burst_length <= params.max_burst_length);
        }
    }
}
