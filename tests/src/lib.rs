//! tgtd harness for integration tests (to be written)
