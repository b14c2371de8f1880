use super::*;

#[test]
fn finds_runs_across_word_boundaries() {
    let mut map = PodBitmap::new(200);
    assert_eq!(map.find_free_run(0, 200), Some(0));
    assert_eq!(map.find_free_run(0, 201), None);
    map.set_range(0, 60);
    map.set_range(70, 5);
    assert_eq!(map.find_free_run(0, 10), Some(60));
    assert_eq!(map.find_free_run(0, 11), Some(75));
    assert_eq!(map.find_free_run(61, 5), Some(61));
    assert_eq!(map.find_free_run(75, 125), Some(75));
    assert_eq!(map.find_free_run(75, 126), None);
    map.clear_range(0, 60);
    assert_eq!(map.find_free_run(0, 70), Some(0));
    assert!(map.is_set(72));
    assert!(!map.is_set(75));
    assert!(map.is_set(200));
    assert_eq!(map.find_free_run(250, 1), None);
    assert_eq!(map.find_free_run(0, 0), None);
}

#[test]
fn full_map_has_no_run() {
    let mut map = PodBitmap::new(128);
    map.set_range(0, 128);
    assert_eq!(map.find_free_run(0, 1), None);
    map.clear_range(127, 1);
    assert_eq!(map.find_free_run(0, 1), Some(127));
    assert_eq!(map.find_free_run(0, 2), None);
}
