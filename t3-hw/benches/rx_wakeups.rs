//! How often the ring thread sleeps while a 128 KiB Data-In arrives in paced 1 KiB pieces,
//! with SO_RCVLOWAT raised for the payload (the default) and without: the figure behind
//! `EngineConfig::rx_wake_on_bytes`. Prints the median voluntary context switches of each over
//! several rounds, the ratio and the receive counters, for mapped and fixed task buffers.
//! Machine load moves the numbers (a busy CPU delays the wake-ups the raise saves), which is
//! why the tests only check the counters. Run with `cargo bench -p t3-hw --bench rx_wakeups`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::receive_paced_payload;

const ROUNDS: usize = 5;

fn median(mut values: Vec<i64>) -> i64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn main() {
    for fixed in [false, true] {
        let mut row = Vec::new();
        for raise in [true, false] {
            let mut switches = Vec::new();
            let mut counters = None;
            for _ in 0..ROUNDS {
                let (slept, last) = receive_paced_payload(fixed, raise);
                switches.push(slept);
                counters = Some(last);
            }
            let counters = counters.unwrap();
            row.push(median(switches));
            println!(
                "{:<6} buffer, SO_RCVLOWAT {:<6}: median {:>4} voluntary switches over {ROUNDS} rounds; last round: {} receives, {} raises, {} short",
                if fixed { "fixed" } else { "mapped" },
                if raise { "raised" } else { "plain" },
                row[row.len() - 1],
                counters.recv_calls + counters.read_fixed_calls,
                counters.lowat_raises,
                counters.short_transfers,
            );
        }
        println!(
            "{:<6} buffer: {:.1}x fewer sleeps with the raise",
            if fixed { "fixed" } else { "mapped" },
            row[1] as f64 / row[0].max(1) as f64
        );
    }
}
