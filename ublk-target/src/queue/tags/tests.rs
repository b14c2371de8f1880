use super::*;

#[test]
fn task_numbers() {
    let tags = Tags::new(128);
    assert_eq!(Tags::own_task(5), 5);
    assert_eq!(tags.aux_task(5), 133);
    assert_eq!(tags.tag_of_task(5), Some(5));
    assert_eq!(tags.tag_of_task(133), Some(5));
    assert_eq!(tags.send_task(5), 261);
    assert_eq!(tags.tag_of_task(255), Some(127));
    assert_eq!(tags.tag_of_task(261), Some(5));
    assert_eq!(tags.tag_of_task(383), Some(127));
    assert_eq!(tags.tag_of_task(384), None);
    assert_eq!(tags.check_task(), 384);
    assert_eq!(Tags::new(0).tag_of_task(0), None);
    assert_eq!(tags.tag_of_task(u32::MAX), None);
}
