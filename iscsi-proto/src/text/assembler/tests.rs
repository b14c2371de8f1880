use super::*;

fn pair(key: &str, value: &str) -> (String, String) {
    (key.to_string(), value.to_string())
}

#[test]
fn single_pdu_completes_immediately() {
    let mut assembler = TextAssembler::new();
    assert_eq!(
        assembler.push(b"MaxBurstLength=262144\0", false).unwrap(),
        Some(vec![pair("MaxBurstLength", "262144")])
    );
    assert!(!assembler.is_pending());
}

#[test]
fn joins_pdus_split_inside_a_key() {
    let mut assembler = TextAssembler::new();
    assert_eq!(
        assembler
            .push(b"HeaderDigest=None\0MaxRecvData", true)
            .unwrap(),
        None
    );
    assert!(assembler.is_pending());
    assert_eq!(assembler.push(b"SegmentLen", true).unwrap(), None);
    assert_eq!(
        assembler.push(b"gth=8192\0", false).unwrap(),
        Some(vec![
            pair("HeaderDigest", "None"),
            pair("MaxRecvDataSegmentLength", "8192")
        ])
    );
    assert!(!assembler.is_pending());
}

#[test]
fn joins_pdus_split_inside_a_value_and_before_the_nul() {
    let mut assembler = TextAssembler::new();
    assert_eq!(assembler.push(b"TargetAlias=dis", true).unwrap(), None);
    assert_eq!(assembler.push(b"k0", true).unwrap(), None);
    assert_eq!(
        assembler.push(b"\0", false).unwrap(),
        Some(vec![pair("TargetAlias", "disk0")])
    );
}

#[test]
fn empty_continued_segments_are_harmless() {
    let mut assembler = TextAssembler::new();
    assert_eq!(assembler.push(b"", true).unwrap(), None);
    assert_eq!(assembler.push(b"", false).unwrap(), Some(Vec::new()));
}

#[test]
fn is_reusable_after_a_completed_sequence() {
    let mut assembler = TextAssembler::new();
    assembler.push(b"A=1\0", false).unwrap();
    assert_eq!(
        assembler.push(b"B=2\0", false).unwrap(),
        Some(vec![pair("B", "2")])
    );
}

#[test]
fn final_segment_must_terminate_the_last_pair() {
    let mut assembler = TextAssembler::new();
    assembler.push(b"A=1\0B=", true).unwrap();
    assert_eq!(
        assembler.push(b"2", false),
        Err(TextError::MissingTerminator { offset: 4 })
    );
    assert!(!assembler.is_pending());
}

#[test]
fn hostile_peer_exceeding_the_limit_is_stopped() {
    let mut assembler = TextAssembler::with_limit(16);
    assert_eq!(assembler.push(b"X-a=0123456", true).unwrap(), None);
    assert_eq!(
        assembler.push(b"789012", true),
        Err(TextError::TextTooLong { len: 17, limit: 16 })
    );
    assert!(!assembler.is_pending());
    // Exactly at the limit is fine.
    assert_eq!(
        assembler.push(b"X-a=0123456789a\0", false).unwrap(),
        Some(vec![pair("X-a", "0123456789a")])
    );
}

#[test]
fn default_limit_is_64_kib() {
    let mut assembler = TextAssembler::default();
    let chunk = vec![b'a'; 8192];
    for _ in 0..8 {
        assert_eq!(assembler.push(&chunk, true).unwrap(), None);
    }
    assert_eq!(
        assembler.push(b"a", true),
        Err(TextError::TextTooLong {
            len: 65537,
            limit: DEFAULT_MAX_TEXT_LEN
        })
    );
}
