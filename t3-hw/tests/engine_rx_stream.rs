//! The receive-path fuzz harness (`t3-hw/fuzz`, target `rx_stream`) run as an ordinary test:
//! on hand-built inputs that reach placement, on pseudo-random ones, and on every input the
//! fuzzer found a failure with. No socket I/O: the harness plays the kernel.

// The fuzz crate exports this module; here it is private.
#[allow(unreachable_pub)]
#[path = "../fuzz/src/rx_stream.rs"]
mod rx_stream;

use rx_stream::run;

/// Little-endian u16, as the harness reads it.
fn le16(value: u16) -> [u8; 2] {
    value.to_le_bytes()
}

/// A Data-In record: `selector` picks the task (and tag variant), F set.
fn data_in(selector: u8, offset: u16, len: u16) -> Vec<u8> {
    [&[2, selector, 0x80][..], &le16(offset), &le16(len)].concat()
}

/// Settings byte `a` (digests, CQE delivery, ...) and chunk byte `c`; three buffers: 16 KiB
/// and 64 KiB (512 bytes off a page) mapped, 8 KiB fixed, each bound whole; Data-Ins into all.
fn placing_input(a: u8, c: u8) -> Vec<u8> {
    // Staging 4 KiB, exact placement from 4 KiB, no SO_RCVLOWAT, 64 KiB segments.
    let b = 2 | 2 << 2 | 1 << 6;
    let mut input = vec![a, b, c, 4, 5 | 2 << 3, 3 | 0x20];
    for _ in 0..3 {
        input.extend_from_slice(&[0, 0, 0]);
    }
    input.extend(data_in(0, 0, 4096));
    input.extend(data_in(0, 4096, 8190));
    input.extend(data_in(2, 0, 8192));
    // A NOP-In with 5 bytes of data, read inline.
    let mut nop = [0u8; 49];
    nop[0] = 4;
    nop[1] = 0x20;
    nop[8] = 5;
    input.extend_from_slice(&nop);
    // Last: the harness stops adding records once the stream is long (tiny receives cost).
    input.extend(data_in(1, 100, 60000));
    input
}

#[test]
fn data_in_is_placed_under_every_delivery_pattern() {
    for digests in 0..4 {
        for whole_chains in [0, 4] {
            for chunks in 0..8 {
                let summary = run(&placing_input(digests | whole_chains, chunks));
                assert!(summary.established);
                assert!(
                    !summary.aborted,
                    "{digests} {whole_chains} {chunks}: {summary:?}"
                );
                assert_eq!(summary.pdus, 5, "{summary:?}");
                // A fixed buffer takes no data digest: its Data-In then arrives inline.
                let placed = if digests & 2 != 0 { 3 } else { 4 };
                assert_eq!(summary.placed, placed, "{digests}: {summary:?}");
                if digests & 2 == 0 {
                    assert!(summary.read_fixed > 0, "{summary:?}");
                }
            }
        }
    }
}

#[test]
fn hostile_data_in_and_tag_changes_mid_stream() {
    let mut input = placing_input(0x13, 5);
    // Release task 0's tag, then Data-In for the now stale tag; bind it anew for 5000 bytes.
    input.extend_from_slice(&[5, 1]);
    input.extend(data_in(3, 0, 4096)); // selector 3: task 0's stale tag
    input.extend_from_slice(&[5, 2]);
    input.extend_from_slice(&le16(5000));
    input.extend(data_in(0, 4000, 2000)); // past the new 5000-byte binding
    input.extend(data_in(6, 0, 512)); // task 0's live tag, miscoloured
                                      // A raw offset near 4 GiB, and a digest switch.
    input.extend_from_slice(&[2, 1, 0x84, 0xF0, 0xFF, 0xFF, 0xFF, 0, 4]);
    input.extend_from_slice(&[5, 3 << 2]);
    input.extend(data_in(1, 0, 3000));
    let summary = run(&input);
    assert!(summary.pdus >= 5, "{summary:?}");
}

/// Pseudo-random inputs: a quick stand-in for the fuzzer in every test run.
#[test]
fn pseudo_random_inputs_keep_the_invariants() {
    let mut state = 0x2545_f491_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for round in 0..1500 {
        let len = next() as usize % 400;
        let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 {
            // Keep the records but make the settings and buffers the placing ones.
            let base = placing_input(next() as u8, next() as u8);
            input.splice(..input.len().min(15), base[..15].iter().copied());
        }
        run(&input);
    }
}
