use super::*;
use proptest::prelude::*;

fn nz(credits: u16) -> NonZeroU16 {
    NonZeroU16::new(credits).unwrap()
}

#[test]
fn credits_per_fragment_count() {
    // Lengths too large to fit one unit, so only the fragment count matters.
    let big = 4096;
    assert_eq!(tx_data_credits(1, big), Ok(nz(1))); // 5 flits
    assert_eq!(tx_data_credits(8, big), Ok(nz(1))); // 15 flits
    assert_eq!(tx_data_credits(9, big), Ok(nz(2))); // 17 flits
    assert_eq!(tx_data_credits(16, big), Ok(nz(2))); // 27 flits
    assert_eq!(tx_data_credits(18, big), Ok(nz(3))); // 30 flits
    assert_eq!(tx_data_credits(0, big), Err(CreditError::NoFragments));
    assert!(matches!(
        tx_data_credits(1000, big),
        Err(CreditError::ExceedsLimit { max: 15, .. })
    ));
}

#[test]
fn small_requests_fit_one_unit() {
    // 96 bytes + 24-byte header = 120: one credit even with many fragments.
    assert_eq!(tx_data_credits(16, 96), Ok(nz(1)));
    assert_eq!(tx_data_credits(16, 97), Ok(nz(2)));
}

#[test]
fn completion_requested_at_half_the_limit() {
    let mut credits = WrCredits::default();
    let flags: Vec<bool> = (0..7)
        .map(|_| {
            credits
                .try_consume(nz(1), false)
                .unwrap()
                .request_completion
        })
        .collect();
    // 15 / 2 = 7: the seventh unacknowledged credit asks for a completion.
    assert_eq!(flags, [false, false, false, false, false, false, true]);
    assert!(
        !credits
            .try_consume(nz(1), false)
            .unwrap()
            .request_completion
    );
    assert_eq!(credits.available(), 7);
    assert_eq!(credits.pending_requests(), 8);
}

#[test]
fn caller_request_honoured_only_at_batch_start() {
    let mut credits = WrCredits::default();
    assert!(credits.try_consume(nz(2), true).unwrap().request_completion);
    assert!(
        !credits
            .try_consume(nz(1), false)
            .unwrap()
            .request_completion
    );
    assert!(!credits.try_consume(nz(1), true).unwrap().request_completion);
}

#[test]
fn stall_and_ack() {
    let mut credits = WrCredits::default();
    for _ in 0..5 {
        credits.try_consume(nz(3), false).unwrap();
    }
    assert_eq!(credits.available(), 0);
    assert_eq!(
        credits.try_consume(nz(1), false),
        Err(CreditStall {
            needed: 1,
            available: 0
        })
    );
    // A partial ack completes one request and part of the next.
    assert_eq!(credits.on_ack(4), Ok(1));
    assert_eq!(credits.available(), 4);
    assert_eq!(credits.pending_requests(), 4);
    assert_eq!(credits.on_ack(2), Ok(1));
    assert_eq!(credits.on_ack(9), Ok(3));
    assert_eq!(credits.available(), 15);
    assert_eq!(credits.pending_requests(), 0);
    assert_eq!(credits.check_invariant(), Ok(()));
}

#[test]
fn bogus_ack_is_an_error_and_changes_nothing() {
    let mut credits = WrCredits::default();
    credits.try_consume(nz(2), false).unwrap();
    let before = credits.clone();
    assert_eq!(
        credits.on_ack(3),
        Err(CreditError::BogusAck {
            returned: 3,
            outstanding: 2
        })
    );
    assert_eq!(credits, before);
    assert_eq!(credits.on_ack(0), Ok(0));
    assert_eq!(credits.on_ack(2), Ok(1));
    assert_eq!(
        credits.on_ack(1),
        Err(CreditError::BogusAck {
            returned: 1,
            outstanding: 0
        })
    );
}

#[test]
fn invariant_detects_inconsistent_state() {
    let mut credits = WrCredits::default();
    credits.try_consume(nz(2), false).unwrap();
    credits.pending.push_back(1);
    assert_eq!(
        credits.check_invariant(),
        Err(CreditError::InvariantBroken {
            available: 13,
            pending: 3,
            max: 15
        })
    );
}

proptest! {
    #[test]
    fn invariant_holds_under_any_sequence(ops in proptest::collection::vec((any::<bool>(), 0u16..20), 0..200)) {
        let mut credits = WrCredits::default();
        for (consume, amount) in ops {
            if consume {
                if let Some(amount) = NonZeroU16::new(amount) {
                    let _ = credits.try_consume(amount, amount.get() % 3 == 0);
                }
            } else {
                let _ = credits.on_ack(amount);
            }
            prop_assert_eq!(credits.check_invariant(), Ok(()));
            prop_assert!(credits.available() <= WR_MAX_CREDITS);
        }
    }
}
