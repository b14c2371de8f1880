//! UNMAP (SBC-4 5.34): the CDB and its parameter list of block descriptors (discard).
//!
//! Parameter list layout (SBC-4 5.34.2): an 8-byte header — UNMAP DATA LENGTH (list length − 2),
//! UNMAP BLOCK DESCRIPTOR DATA LENGTH (list length − 8), 4 reserved bytes — then one 16-byte
//! descriptor per range: 8-byte LBA, 4-byte block count, 4 reserved bytes.

use super::cdb::{check_fits, opcode, Cdb, ScsiRequest};
use super::error::BuildError;

const HEADER_LEN: usize = 8;
const DESCRIPTOR_LEN: usize = 16;

/// Most descriptors one UNMAP can carry: the PARAMETER LIST LENGTH field is 16 bits. Targets
/// usually advertise a lower limit in the Block Limits VPD page
/// ([`BlockLimits::max_unmap_block_descriptor_count`](super::BlockLimits)).
pub(crate) const MAX_UNMAP_DESCRIPTORS: usize = (u16::MAX as usize - HEADER_LEN) / DESCRIPTOR_LEN;

/// One range to unmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnmapDescriptor {
    /// First logical block address.
    pub lba: u64,
    /// Number of logical blocks (0 is allowed and unmaps nothing).
    pub blocks: u32,
}

/// An UNMAP command: the request (direction Write, length = parameter list length) and the
/// parameter list to send as its Data-Out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmapCommand {
    /// CDB, direction and transfer length.
    pub request: ScsiRequest,
    /// The bytes to send.
    pub parameter_list: Vec<u8>,
}

/// Build UNMAP for `descriptors`. An empty list is rejected (the target would do nothing, so it
/// is a caller bug), as is a list longer than `MAX_UNMAP_DESCRIPTORS`.
pub fn unmap(descriptors: &[UnmapDescriptor]) -> Result<UnmapCommand, BuildError> {
    const COMMAND: &str = "UNMAP";
    if descriptors.is_empty() {
        return Err(BuildError::FieldTooSmall {
            command: COMMAND,
            field: "number of block descriptors",
            value: 0,
            min: 1,
        });
    }
    check_fits(
        COMMAND,
        "number of block descriptors",
        descriptors.len() as u64,
        MAX_UNMAP_DESCRIPTORS as u64,
    )?;
    let list_len = HEADER_LEN + descriptors.len() * DESCRIPTOR_LEN;
    // Both lengths fit u16: list_len ≤ u16::MAX by the descriptor-count check above.
    let unmap_data_len = (list_len - 2) as u16;
    let descriptor_data_len = (list_len - HEADER_LEN) as u16;

    let mut parameter_list = Vec::with_capacity(list_len);
    parameter_list.extend_from_slice(&unmap_data_len.to_be_bytes());
    parameter_list.extend_from_slice(&descriptor_data_len.to_be_bytes());
    parameter_list.extend_from_slice(&[0; 4]);
    for descriptor in descriptors {
        parameter_list.extend_from_slice(&descriptor.lba.to_be_bytes());
        parameter_list.extend_from_slice(&descriptor.blocks.to_be_bytes());
        parameter_list.extend_from_slice(&[0; 4]);
    }

    let list_len_field = (list_len as u16).to_be_bytes();
    let cdb = Cdb::fixed([
        opcode::UNMAP,
        0, // ANCHOR clear: deallocate, do not anchor
        0,
        0,
        0,
        0,
        0, // GROUP NUMBER
        list_len_field[0],
        list_len_field[1],
        0, // CONTROL
    ]);
    Ok(UnmapCommand {
        request: ScsiRequest::write(cdb, list_len as u32),
        parameter_list,
    })
}

#[cfg(test)]
mod tests;
