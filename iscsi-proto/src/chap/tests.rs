use super::*;
use proptest::prelude::*;
use rand::rngs::mock::StepRng;

fn arbitrary_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop::sample::select(vec![
        "CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R", "Other",
    ])
    .prop_map(str::to_owned);
    let value = prop_oneof![any::<String>(), "0[xXbB][0-9a-fA-F+/=]{0,40}", "[0-9]{1,4}",];
    prop::collection::vec((key, value), 0..8)
}

proptest! {
    #[test]
    fn arbitrary_target_pairs_never_panic(
        challenge in arbitrary_pairs(),
        proof in arbitrary_pairs(),
        seed in any::<u64>(),
    ) {
        let mut chap = ChapInitiator::new(
            ChapCredentials::new("alice", "secretsecret"),
            Some(ChapCredentials::new("target", "othersecret")),
        ).unwrap();
        let _ = chap.respond(&challenge, &mut StepRng::new(seed, 1));
        let _ = chap.verify_target(&proof);
    }
}
