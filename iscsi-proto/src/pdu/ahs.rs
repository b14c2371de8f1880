//! Additional Header Segments (RFC 7143 §11.2.2): extended CDB and bidirectional read length.

use super::{padded, PduError, MAX_AHS_LEN};

/// AHS types defined by RFC 7143.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum AhsType {
    ExtendedCdb = 1,
    BidiReadLength = 2,
}

/// One decoded Additional Header Segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ahs {
    /// CDB bytes beyond the 16 carried in the BHS.
    ExtendedCdb(Vec<u8>),
    /// Expected Bidirectional Read Data Length.
    BidiReadLength(u32),
    /// A type this initiator does not use, kept so a round trip loses nothing.
    Other {
        ahs_type: u8,
        specific: u8,
        data: Vec<u8>,
    },
}

impl Ahs {
    /// Appends this AHS, padded to 4 bytes, to `out`.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        let (ahs_type, specific, data): (u8, u8, &[u8]) = match self {
            Ahs::ExtendedCdb(bytes) => (AhsType::ExtendedCdb as u8, 0, bytes),
            Ahs::BidiReadLength(len) => {
                out.extend_from_slice(&5u16.to_be_bytes());
                out.extend_from_slice(&[AhsType::BidiReadLength as u8, 0]);
                out.extend_from_slice(&len.to_be_bytes());
                return;
            }
            Ahs::Other {
                ahs_type,
                specific,
                data,
            } => (*ahs_type, *specific, data),
        };
        // AHSLength counts the AHS-specific byte and the data, not the length and type fields.
        let ahs_len = (data.len() + 1) as u16;
        out.extend_from_slice(&ahs_len.to_be_bytes());
        out.extend_from_slice(&[ahs_type, specific]);
        out.extend_from_slice(data);
        out.resize(padded(out.len()), 0);
    }

    /// Parses the whole AHS area (TotalAHSLength × 4 bytes).
    pub(crate) fn decode_all(mut area: &[u8]) -> Result<Vec<Ahs>, PduError> {
        let total = area.len();
        if total > MAX_AHS_LEN || total % 4 != 0 {
            return Err(PduError::BadAhs {
                len: total,
                why: "not a multiple of 4 within 1020 bytes",
            });
        }
        let mut out = Vec::new();
        while !area.is_empty() {
            if area.len() < 4 {
                return Err(PduError::BadAhs {
                    len: total,
                    why: "truncated AHS header",
                });
            }
            let ahs_len = u16::from_be_bytes([area[0], area[1]]) as usize;
            let ahs_type = area[2];
            let specific = area[3];
            if ahs_len == 0 {
                return Err(PduError::BadAhs {
                    len: total,
                    why: "AHSLength of zero",
                });
            }
            let data_len = ahs_len - 1;
            let seg_len = padded(3 + ahs_len);
            if seg_len > area.len() {
                return Err(PduError::BadAhs {
                    len: total,
                    why: "AHSLength runs past TotalAHSLength",
                });
            }
            let data = &area[4..4 + data_len];
            out.push(match ahs_type {
                1 => Ahs::ExtendedCdb(data.to_vec()),
                2 => {
                    if data_len != 4 {
                        return Err(PduError::BadAhs {
                            len: total,
                            why: "bidirectional read length AHS is not 5 bytes",
                        });
                    }
                    Ahs::BidiReadLength(u32::from_be_bytes([data[0], data[1], data[2], data[3]]))
                }
                _ => Ahs::Other {
                    ahs_type,
                    specific,
                    data: data.to_vec(),
                },
            });
            area = &area[seg_len..];
        }
        Ok(out)
    }
}

/// Encodes a list of AHS into their wire area.
pub(crate) fn encode_all(list: &[Ahs]) -> Result<Vec<u8>, PduError> {
    let mut out = Vec::new();
    for ahs in list {
        ahs.encode_into(&mut out);
    }
    if out.len() > MAX_AHS_LEN {
        return Err(PduError::BadAhs {
            len: out.len(),
            why: "AHS area longer than 1020 bytes",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
