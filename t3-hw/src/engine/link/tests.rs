use super::*;

#[test]
fn results_are_classified() {
    assert_eq!(classify(48, 48, false), OpResult::Complete);
    assert_eq!(classify(0, 0, false), OpResult::Complete);
    assert_eq!(classify(20, 48, false), OpResult::Short(20));
    assert_eq!(classify(0, 48, false), OpResult::Eof);
    assert_eq!(classify(-libc::ECANCELED, 48, true), OpResult::Cancelled);
    assert_eq!(classify(-libc::ECANCELED, 48, false), OpResult::Cancelled);
    assert_eq!(
        classify(-libc::ECONNRESET, 48, false),
        OpResult::Failed(libc::ECONNRESET)
    );
    assert_eq!(classify(48, 48, true), OpResult::OutOfOrder);
    assert_eq!(classify(49, 48, false), OpResult::OutOfOrder);
}

#[test]
fn chain_counts_its_cqes() {
    let mut chain = Chain::default();
    assert!(!chain.is_active());
    chain.submitted(3);
    assert!(!chain.on_cqe());
    chain.break_link();
    assert!(chain.is_broken());
    assert!(!chain.on_cqe());
    assert!(chain.on_cqe());
    assert!(!chain.is_active());
    chain.submitted(1);
    assert!(!chain.is_broken(), "a new chain starts unbroken");
}
