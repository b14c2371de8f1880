use super::*;
use std::hash::BuildHasher;

#[test]
fn nearby_keys_spread_over_the_high_bits() {
    let build = BuildHasherDefault::<IdHasher>::default();
    let mut tops: Vec<u64> = (0u32..128).map(|key| build.hash_one(key) >> 57).collect();
    tops.sort_unstable();
    tops.dedup();
    assert!(
        tops.len() > 64,
        "only {} distinct top-7-bit values",
        tops.len()
    );
}

#[test]
fn the_map_works() {
    let mut map: IdMap<u32, u32> = IdMap::default();
    for key in 0..1000 {
        map.insert(key * 64, key);
    }
    assert!((0..1000).all(|key| map.get(&(key * 64)) == Some(&key)));
    assert_eq!(map.remove(&64), Some(1));
    assert_eq!(map.len(), 999);
}
