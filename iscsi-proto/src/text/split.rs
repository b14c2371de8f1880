//! Cutting outgoing text into data segments that fit the peer's MaxRecvDataSegmentLength.

use std::num::NonZeroUsize;

/// One PDU's share of an outgoing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextChunk<'a> {
    /// The data segment of this PDU.
    pub data: &'a [u8],
    /// The C bit: set on every chunk but the last, because more text follows.
    pub continue_bit: bool,
}

/// Iterator over the chunks of an outgoing text; see [`split_text`].
#[derive(Debug, Clone)]
pub struct TextChunks<'a> {
    remaining: &'a [u8],
    max_segment_len: usize,
    finished: bool,
}

/// Splits encoded text (see [`super::encode`]) into data segments of at most `max_segment_len`
/// bytes. Cuts fall wherever the limit does, even inside a key, which RFC 7143 §6.1 allows.
///
/// Empty text still yields one empty chunk with the C bit clear, since a Login or Text PDU must be
/// sent even when it carries no keys.
pub fn split_text(encoded: &[u8], max_segment_len: NonZeroUsize) -> TextChunks<'_> {
    TextChunks {
        remaining: encoded,
        max_segment_len: max_segment_len.get(),
        finished: false,
    }
}

impl<'a> Iterator for TextChunks<'a> {
    type Item = TextChunk<'a>;

    fn next(&mut self) -> Option<TextChunk<'a>> {
        if self.finished {
            return None;
        }
        let take = self.remaining.len().min(self.max_segment_len);
        let (data, rest) = self.remaining.split_at(take);
        self.remaining = rest;
        let continue_bit = !rest.is_empty();
        self.finished = !continue_bit;
        Some(TextChunk { data, continue_bit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    fn chunks(encoded: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
        split_text(encoded, limit(max))
            .map(|c| (c.data.to_vec(), c.continue_bit))
            .collect()
    }

    #[test]
    fn short_text_is_one_final_chunk() {
        assert_eq!(chunks(b"A=1\0", 8192), vec![(b"A=1\0".to_vec(), false)]);
    }

    #[test]
    fn empty_text_is_one_empty_final_chunk() {
        assert_eq!(chunks(b"", 512), vec![(Vec::new(), false)]);
    }

    #[test]
    fn splits_at_the_limit_with_continue_bits() {
        assert_eq!(
            chunks(b"Key=value\0", 4),
            vec![
                (b"Key=".to_vec(), true),
                (b"valu".to_vec(), true),
                (b"e\0".to_vec(), false),
            ]
        );
    }

    #[test]
    fn exact_multiple_does_not_add_an_empty_chunk() {
        assert_eq!(
            chunks(b"AB=\0", 2),
            vec![(b"AB".to_vec(), true), (b"=\0".to_vec(), false)]
        );
    }
}
