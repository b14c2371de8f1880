use super::*;
use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

fn pipe() -> (File, OwnedFd) {
    let (read, write) = nix::unistd::pipe().unwrap();
    (File::from(read), write)
}

#[test]
fn live_writes_id_plus_one_once() {
    let (mut read, write) = pipe();
    let seen = Arc::new(AtomicU32::new(u32::MAX));
    let seen_in = Arc::clone(&seen);
    let mut notifier =
        Notifier::pipe(write).then_on_live(move |id| seen_in.store(id, Ordering::SeqCst));
    notifier.live(4);
    notifier.failed();
    drop(notifier);
    let mut bytes = Vec::new();
    read.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, 5u64.to_ne_bytes());
    assert_eq!(seen.load(Ordering::SeqCst), 4);
}

#[test]
fn failure_value() {
    let (mut read, write) = pipe();
    Notifier::pipe(write).failed();
    let mut bytes = Vec::new();
    read.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, FAILED.to_ne_bytes());
    assert_eq!(u64::from_ne_bytes(bytes.try_into().unwrap()), u64::MAX - 1);
}
