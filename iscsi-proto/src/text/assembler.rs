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
mod tests;
