//! Fuzz harnesses of the T3 engine. `rx_stream` is also run by `t3-hw/tests/engine_rx_stream.rs`
//! (on fixed inputs and every crash the fuzzer found), which includes the same file.
pub mod rx_stream;
