use super::*;

#[test]
fn the_array_form_keeps_every_counter() {
    let counters: [u64; QueueStats::COUNT] = std::array::from_fn(|i| i as u64 + 1);
    let stats = QueueStats::from_array(counters);
    assert_eq!(stats.reads, 1);
    assert_eq!(stats.data_digest_errors, QueueStats::COUNT as u64);
    assert_eq!(stats.to_array(), counters);
}
