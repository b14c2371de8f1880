//! The engine's receive path (framing, digests, DDP placement) fed an arbitrary byte stream
//! through a fake kernel that carries out its io_uring receives. Nothing may be written outside
//! the bound part of a registered task buffer, and nothing may panic. See `src/rx_stream.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    t3_hw_fuzz::rx_stream::run(data);
});
