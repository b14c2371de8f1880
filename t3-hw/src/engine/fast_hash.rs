//! A hasher for maps keyed by small integers the engine and initiator chose themselves (task
//! numbers, ITTs, active-open ids). The standard SipHash guards against keys an attacker picks;
//! these keys come from this process, and hashing them is on every I/O's path.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Multiplies by 2^64 / φ: keys that differ in any bit differ in the high bits hashbrown uses.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(GOLDEN);
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0 ^ value).wrapping_mul(GOLDEN);
    }
}

/// A map keyed by engine-chosen integers.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests;
