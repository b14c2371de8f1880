//! The placement check: may this Data-In payload be written straight into a bound buffer, and
//! if not, which RX_DATA_DDP status bits say why?
//!
//! [`check_placement`] takes a DDP tag with the PDU's BufferOffset and DataSegmentLength and
//! returns the checked byte range within the bound transfer, or the status word the adapter
//! would report. The software engine decides placement itself (`engine/ddp_rx.rs`, which also
//! checks the connection, the page size and the task buffer) and calls this only to name a
//! refused tag's status. Which bit reports which refusal:
//!
//! | refusal                                            | status bits                  |
//! |----------------------------------------------------|------------------------------|
//! | non-DDP ITT (the adapter does not try to place)    | none                         |
//! | index beyond the pod region (`>= ppmax`)           | INVALID_TAG \| ULIMIT_ERR    |
//! | index free (its pod's valid flag is clear)         | INVALID_PPOD                 |
//! | index inside another binding (pod's tag differs)   | PPOD_MISMATCH                |
//! | color not the index's current color                | COLOR_ERR                    |
//! | offset + length beyond `max_offset`, or overflow   | OFFSET_ERR                   |
//!
//! ULIMIT_ERR / LLIMIT_ERR name the pod *address* leaving the region (`llimit + index * 64`
//! past `ulimit`), so they go with an out-of-range index; the transfer bound is OFFSET_ERR.
//! LLIMIT_ERR cannot arise (indices are unsigned and the region starts at index 0), nor can
//! TID_MISMATCH (each engine owns the page-pod manager of its single connection).

use std::ops::Range;

use crate::ddp_status::DdpStatus;
use crate::ppm::Ppm;
use crate::tag::TagError;

/// The status bits for a tag the page-pod manager refused (see the module table).
fn refusal_status(error: TagError) -> DdpStatus {
    match error {
        TagError::NotDdp { .. } => DdpStatus::NONE,
        TagError::IndexOutOfRange { .. } => DdpStatus::INVALID_TAG | DdpStatus::ULIMIT_ERR,
        TagError::IndexNotAllocated { .. } => DdpStatus::INVALID_PPOD,
        TagError::InsideAnotherBinding { .. } => DdpStatus::PPOD_MISMATCH,
        TagError::StaleColor { .. } => DdpStatus::COLOR_ERR,
        // Only tag construction and task lookups report these; a DDP lookup never does.
        TagError::SwTagTooWide { .. }
        | TagError::TaskTooLarge { .. }
        | TagError::NotATask { .. } => DdpStatus::INVALID_TAG,
    }
}

/// Checks that `len` bytes at `buffer_offset` of the transfer `itt` names may be placed, and
/// returns their range within the transfer (0 = first byte of the bound buffer's data).
pub(crate) fn check_placement(
    ppm: &Ppm,
    itt: u32,
    buffer_offset: u32,
    len: u32,
) -> Result<Range<usize>, DdpStatus> {
    let binding = ppm.lookup(itt).map_err(refusal_status)?;
    let end = buffer_offset
        .checked_add(len)
        .ok_or(DdpStatus::OFFSET_ERR)?;
    if end > binding.xfer_len {
        return Err(DdpStatus::OFFSET_ERR);
    }
    Ok(buffer_offset as usize..end as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ppm::{sgl_for_contiguous, BufferId, DdpRequest, PpmConfig};
    use crate::ppod::PageSize;
    use crate::tag::{Color, DdpTag};
    use crate::tid::Tid;
    use proptest::prelude::*;

    const GUARD: usize = 256;
    const GUARD_BYTE: u8 = 0xA5;
    const BODY_BYTE: u8 = 0x00;

    /// A bound buffer in the middle of a larger allocation, fenced by guard bytes.
    struct Guarded {
        memory: Vec<u8>,
        body_len: usize,
    }

    impl Guarded {
        fn new(body_len: usize) -> Guarded {
            let mut memory = vec![GUARD_BYTE; GUARD + body_len + GUARD];
            memory[GUARD..GUARD + body_len].fill(BODY_BYTE);
            Guarded { memory, body_len }
        }

        fn body_mut(&mut self) -> &mut [u8] {
            &mut self.memory[GUARD..GUARD + self.body_len]
        }

        fn body(&self) -> &[u8] {
            &self.memory[GUARD..GUARD + self.body_len]
        }

        fn guards_intact(&self) -> bool {
            let (head, rest) = self.memory.split_at(GUARD);
            let tail = &rest[self.body_len..];
            head.iter().chain(tail).all(|&byte| byte == GUARD_BYTE)
        }

        fn body_untouched(&self) -> bool {
            self.body().iter().all(|&byte| byte == BODY_BYTE)
        }
    }

    const XFER: u32 = 3 * 4096 + 1000;

    /// A manager with one live binding of XFER bytes; returns its tag.
    fn bound() -> (Ppm, DdpTag) {
        let mut ppm = Ppm::new(PpmConfig::new(1024, 4096)).unwrap();
        let sgl = sgl_for_contiguous(0x40_0000, XFER, PageSize::Size4K).unwrap();
        let request = DdpRequest {
            buffer: BufferId(11),
            tid: Tid::new(1).unwrap(),
            xfer_len: XFER,
            sgl: &sgl,
        };
        let tag = ppm.reserve(77, &request).unwrap();
        (ppm, tag)
    }

    /// Checks and, if allowed, places `src` at `offset` into the guarded buffer.
    fn attempt(
        ppm: &Ppm,
        buffer: &mut Guarded,
        itt: u32,
        offset: u32,
        len: u32,
    ) -> Result<(), DdpStatus> {
        let range = check_placement(ppm, itt, offset, len)?;
        buffer.body_mut()[range].fill(0x5A);
        Ok(())
    }

    fn assert_refused(ppm: &Ppm, itt: u32, offset: u32, len: u32, expected: DdpStatus) {
        let mut buffer = Guarded::new(XFER as usize);
        assert_eq!(attempt(ppm, &mut buffer, itt, offset, len), Err(expected));
        assert!(
            buffer.guards_intact(),
            "guards hit by itt {itt:#x} {offset}+{len}"
        );
        assert!(
            buffer.body_untouched(),
            "body written by refused itt {itt:#x}"
        );
    }

    #[test]
    fn good_placements_land_exactly() {
        let (ppm, tag) = bound();
        let mut buffer = Guarded::new(XFER as usize);
        let first: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
        let second: Vec<u8> = (0..XFER - 8192).map(|i| (i % 241) as u8 ^ 0xFF).collect();

        let range = check_placement(&ppm, tag.raw(), 0, 8192).unwrap();
        assert_eq!(range, 0..8192);
        buffer.body_mut()[range].copy_from_slice(&first);
        assert!(buffer.body()[8192..].iter().all(|&b| b == BODY_BYTE));

        let range = check_placement(&ppm, tag.raw(), 8192, XFER - 8192).unwrap();
        buffer.body_mut()[range].copy_from_slice(&second);

        assert_eq!(&buffer.body()[..8192], first.as_slice());
        assert_eq!(&buffer.body()[8192..], second.as_slice());
        assert!(buffer.guards_intact());

        // Exactly up to max_offset, and an empty payload at the very end, are allowed.
        assert!(check_placement(&ppm, tag.raw(), XFER - 1, 1).is_ok());
        assert_eq!(
            check_placement(&ppm, tag.raw(), XFER, 0),
            Ok(XFER as usize..XFER as usize)
        );
    }

    #[test]
    fn wrong_color_is_color_err() {
        let (ppm, tag) = bound();
        let stale = ppm
            .tag_format()
            .make_ddp_tag(tag.index(), Color::new(tag.color().value() + 1).unwrap())
            .unwrap();
        assert_refused(&ppm, stale.raw(), 0, 512, DdpStatus::COLOR_ERR);
    }

    #[test]
    fn unknown_and_unallocated_indices() {
        let (ppm, tag) = bound();
        let beyond = 1500 << 6 | u32::from(tag.color().value());
        assert_refused(
            &ppm,
            beyond,
            0,
            512,
            DdpStatus::INVALID_TAG | DdpStatus::ULIMIT_ERR,
        );
        let free = (900 << 6) | 1;
        assert_refused(&ppm, free, 0, 512, DdpStatus::INVALID_PPOD);
    }

    #[test]
    fn index_inside_binding_is_ppod_mismatch() {
        let mut ppm = Ppm::new(PpmConfig::new(1024, 4096)).unwrap();
        let len = 64 * 1024; // 4 pods
        let sgl = sgl_for_contiguous(0, len, PageSize::Size4K).unwrap();
        let request = DdpRequest {
            buffer: BufferId(0),
            tid: Tid::new(1).unwrap(),
            xfer_len: len,
            sgl: &sgl,
        };
        let tag = ppm.reserve(1, &request).unwrap();
        let inner = ((tag.index() + 2) << 6) | u32::from(tag.color().value());
        assert_refused(&ppm, inner, 0, 512, DdpStatus::PPOD_MISMATCH);
    }

    #[test]
    fn released_tag_is_refused() {
        let (mut ppm, tag) = bound();
        ppm.release(tag).unwrap();
        assert_refused(&ppm, tag.raw(), 0, 512, DdpStatus::INVALID_PPOD);
    }

    #[test]
    fn non_ddp_itt_is_not_placed() {
        let (ppm, _) = bound();
        let itt = ppm.tag_format().make_non_ddp_tag(77).unwrap();
        assert_refused(&ppm, itt, 0, 512, DdpStatus::NONE);
    }

    #[test]
    fn offsets_past_max_offset() {
        let (ppm, tag) = bound();
        let itt = tag.raw();
        assert_refused(&ppm, itt, XFER, 1, DdpStatus::OFFSET_ERR);
        assert_refused(&ppm, itt, XFER + 4096, 16, DdpStatus::OFFSET_ERR);
        // Length running past the end of the buffer.
        assert_refused(&ppm, itt, XFER - 100, 101, DdpStatus::OFFSET_ERR);
        assert_refused(&ppm, itt, 0, XFER + 1, DdpStatus::OFFSET_ERR);
    }

    #[test]
    fn u32_overflowing_offsets() {
        let (ppm, tag) = bound();
        let itt = tag.raw();
        assert_refused(&ppm, itt, u32::MAX, 1, DdpStatus::OFFSET_ERR);
        assert_refused(&ppm, itt, 1, u32::MAX, DdpStatus::OFFSET_ERR);
        assert_refused(&ppm, itt, u32::MAX - 3, 8, DdpStatus::OFFSET_ERR);
        assert_refused(&ppm, itt, u32::MAX, u32::MAX, DdpStatus::OFFSET_ERR);
    }

    /// ITTs near the live tag (flipped bits, other colors, neighbouring indices) or anywhere.
    fn hostile_itt(live: u32) -> impl Strategy<Value = u32> {
        prop_oneof![
            any::<u32>(),
            Just(live),
            (0u32..32).prop_map(move |bit| live ^ (1 << bit)),
            (0u32..64).prop_map(move |color| (live & !0x3F) | color),
            (0u32..2048).prop_map(move |index| (index << 6) | (live & 0x3F)),
        ]
    }

    fn hostile_span() -> impl Strategy<Value = (u32, u32)> {
        prop_oneof![
            (any::<u32>(), any::<u32>()),
            (0..XFER + 64, 0..XFER + 64),
            (u32::MAX - XFER..=u32::MAX, 0..XFER + 64),
        ]
    }

    proptest! {
        #[test]
        fn placement_never_writes_outside(
            itt in hostile_itt(bound().1.raw()),
            (offset, len) in hostile_span(),
        ) {
            let (ppm, tag) = bound();
            let mut buffer = Guarded::new(XFER as usize);
            match check_placement(&ppm, itt, offset, len) {
                Ok(range) => {
                    // Only the live tag (bits above the no-DDP bit are ignored) is placed.
                    prop_assert_eq!(itt & ppm.tag_format().idx_clr_mask(), tag.raw());
                    prop_assert!(ppm.tag_format().is_ddp_tag(itt));
                    prop_assert!(range.end <= XFER as usize);
                    prop_assert_eq!(range.len(), len as usize);
                    buffer.body_mut()[range.clone()].fill(0x3C);
                    prop_assert!(buffer.body()[range].iter().all(|&b| b == 0x3C));
                }
                Err(status) => {
                    prop_assert!(!status.is_placed());
                    prop_assert!(buffer.body_untouched());
                }
            }
            prop_assert!(buffer.guards_intact());
        }
    }
}
