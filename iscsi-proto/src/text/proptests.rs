//! Property tests: round trips through encode/assemble/parse, and no panics on any input.

use proptest::prelude::*;

use super::*;

fn valid_pair() -> impl Strategy<Value = (String, String)> {
    ("[A-Za-z0-9.+@_-]{1,63}", "[^\u{0}]{0,64}")
}

proptest! {
    #[test]
    fn encode_then_parse_round_trips(pairs in prop::collection::vec(valid_pair(), 0..16)) {
        let encoded = encode(&pairs).unwrap();
        prop_assert_eq!(parse(&encoded).unwrap(), pairs);
    }

    #[test]
    fn assemble_round_trips_wherever_the_text_is_cut(
        pairs in prop::collection::vec(valid_pair(), 1..16),
        max_segment_len in 1usize..64,
    ) {
        let encoded = encode(&pairs).unwrap();
        let mut assembler = TextAssembler::new();
        let mut chunks = encoded.chunks(max_segment_len).peekable();
        let mut result = None;
        while let Some(chunk) = chunks.next() {
            prop_assert!(result.is_none(), "a chunk followed the final one");
            result = assembler.push(chunk, chunks.peek().is_some()).unwrap();
        }
        prop_assert_eq!(result, Some(pairs));
    }

    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_near_valid_text(
        bytes in prop::collection::vec(prop::sample::select(b"A=\0#X\xff.".to_vec()), 0..256)
    ) {
        let _ = parse(&bytes);
    }

    #[test]
    fn assembler_never_panics_and_respects_its_limit(
        segments in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..64), any::<bool>()), 0..32),
        limit in 0usize..512,
    ) {
        let mut assembler = TextAssembler::with_limit(limit);
        let mut buffered = 0usize;
        for (segment, continue_bit) in segments {
            match assembler.push(&segment, continue_bit) {
                Ok(None) => buffered += segment.len(),
                Ok(Some(_)) | Err(_) => buffered = 0,
            }
            prop_assert!(buffered <= limit);
            prop_assert_eq!(assembler.is_pending(), buffered > 0);
        }
    }
}
