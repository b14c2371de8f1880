//! Reassembly of text split across PDUs with the C (continue) bit (RFC 7143 §6.1, §11.10.2).

use super::{parse, TextError, DEFAULT_MAX_TEXT_LEN};

/// Joins the data segments of Login or Text PDUs linked by the C bit into one logical text data
/// segment and parses it once the final PDU (C = 0) arrives.
///
/// A `key=value` string may be cut anywhere, even inside the key, so nothing is parsed before the
/// sequence is complete. The total size is bounded so that a peer that keeps the C bit set cannot
/// make us buffer without limit; on any error the partial text is discarded, leaving the
/// assembler ready for a new sequence.
#[derive(Debug, Clone)]
pub struct TextAssembler {
    pending: Vec<u8>,
    limit: usize,
}

impl TextAssembler {
    /// An assembler bounded by [`DEFAULT_MAX_TEXT_LEN`].
    pub(crate) fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_TEXT_LEN)
    }

    /// An assembler that refuses sequences longer than `limit` bytes in total.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            pending: Vec::new(),
            limit,
        }
    }

    /// Adds one PDU's data segment. Returns `Ok(None)` while `continue_bit` is set and the pairs
    /// of the whole sequence once a segment arrives with `continue_bit` clear.
    pub fn push(
        &mut self,
        segment: &[u8],
        continue_bit: bool,
    ) -> Result<Option<Vec<(String, String)>>, TextError> {
        let len = self.pending.len().saturating_add(segment.len());
        if len > self.limit {
            self.pending.clear();
            return Err(TextError::TextTooLong {
                len,
                limit: self.limit,
            });
        }
        self.pending.extend_from_slice(segment);
        if continue_bit {
            return Ok(None);
        }
        let text = std::mem::take(&mut self.pending);
        parse(&text).map(Some)
    }

    /// True while a C-bit sequence has started and not yet ended.
    #[cfg(test)]
    pub(crate) fn is_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

impl Default for TextAssembler {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
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
}
