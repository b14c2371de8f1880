//! Bounds-checked big-endian reads from target-supplied bytes. Every accessor returns a typed
//! [`ParseError`] instead of panicking, so parsers can use `?` on every field.

use super::error::ParseError;

/// A view of one response with the name used in error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wire<'a> {
    what: &'static str,
    bytes: &'a [u8],
}

impl<'a> Wire<'a> {
    pub(crate) fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Self { what, bytes }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `len` bytes starting at `at`, or `Truncated` naming `field`.
    pub(crate) fn slice(
        &self,
        at: usize,
        len: usize,
        field: &'static str,
    ) -> Result<&'a [u8], ParseError> {
        let end = at
            .checked_add(len)
            .ok_or(self.truncated(field, usize::MAX))?;
        self.bytes.get(at..end).ok_or(self.truncated(field, end))
    }

    pub(crate) fn u8(&self, at: usize, field: &'static str) -> Result<u8, ParseError> {
        self.bytes
            .get(at)
            .copied()
            .ok_or(self.truncated(field, at.saturating_add(1)))
    }

    pub(crate) fn be_u16(&self, at: usize, field: &'static str) -> Result<u16, ParseError> {
        self.array(at, field).map(u16::from_be_bytes)
    }

    pub(crate) fn be_u32(&self, at: usize, field: &'static str) -> Result<u32, ParseError> {
        self.array(at, field).map(u32::from_be_bytes)
    }

    pub(crate) fn be_u64(&self, at: usize, field: &'static str) -> Result<u64, ParseError> {
        self.array(at, field).map(u64::from_be_bytes)
    }

    /// One bit of the byte at `at` (bit 0 = least significant).
    pub(crate) fn bit(&self, at: usize, bit: u8, field: &'static str) -> Result<bool, ParseError> {
        Ok(self.u8(at, field)? & (1 << bit) != 0)
    }

    /// Restrict the view to its first `declared` bytes, the length the data itself announces.
    /// A buffer shorter than that is `Truncated` with `needed = declared`, which tells the caller
    /// the allocation length that would have fit.
    pub(crate) fn declared(
        &self,
        declared: usize,
        field: &'static str,
    ) -> Result<Wire<'a>, ParseError> {
        let bytes = self
            .bytes
            .get(..declared)
            .ok_or(self.truncated(field, declared))?;
        Ok(Wire {
            what: self.what,
            bytes,
        })
    }

    /// Everything from `at` to the end (empty when `at` is past the end).
    pub(crate) fn rest(&self, at: usize) -> &'a [u8] {
        self.bytes.get(at..).unwrap_or(&[])
    }

    pub(crate) fn truncated(&self, field: &'static str, needed: usize) -> ParseError {
        ParseError::Truncated {
            what: self.what,
            field,
            needed,
            got: self.bytes.len(),
        }
    }

    pub(crate) fn invalid(&self, field: &'static str, value: u64) -> ParseError {
        ParseError::InvalidField {
            what: self.what,
            field,
            value,
        }
    }

    fn array<const N: usize>(&self, at: usize, field: &'static str) -> Result<[u8; N], ParseError> {
        let bytes = self.slice(at, N, field)?;
        // `slice` returned exactly N bytes, so the conversion cannot fail; map it anyway rather
        // than unwrap so this function has no panic path at all.
        bytes
            .try_into()
            .map_err(|_| self.truncated(field, at.saturating_add(N)))
    }
}

/// ASCII text field from a response: trailing/leading spaces and NULs removed, anything
/// non-UTF-8 replaced (vendor fields are specified as printable ASCII but targets vary).
pub(crate) fn ascii_field(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_matches(|c: char| c == ' ' || c == '\0')
        .to_owned()
}
