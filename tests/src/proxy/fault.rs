//! The faults a proxy can inject, and the choice of what to do with each PDU from the target.

use std::fmt;
use std::time::Duration;

use iscsi_proto::pdu::Opcode;

use super::frame::WirePdu;

/// A fault to inject. Each armed fault applies to the next PDU(s) from the target that match
/// it, `times` times, and is then spent. Faults armed together are tried in arming order; the
/// first that matches a PDU takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Drop SCSI Responses (opcode 0x21): the command's completion never arrives. With `itt`,
    /// only responses for that Initiator Task Tag.
    DropResponse { itt: Option<u32>, times: u32 },
    /// Drop Data-In PDUs carrying status (opcode 0x25 with the S bit): a READ's completion
    /// when the target collapses the status into the last Data-In. With `itt`, only that task.
    DropStatusDataIn { itt: Option<u32>, times: u32 },
    /// Flip one bit ([`FLIP_MASK`] of the middle byte, see [`flip_position`]) in the data
    /// segment of Data-In PDUs that have a payload.
    FlipDataIn { times: u32 },
    /// Forward the first half of the next PDU from the target, then reset both TCP
    /// connections (SO_LINGER 0, close: an RST instead of a FIN).
    ResetMidPdu,
    /// Stop forwarding in both directions for this long, starting when armed. PDUs that
    /// arrive meanwhile are held, not lost.
    Stall(Duration),
}

impl Fault {
    /// Drops the next SCSI Response, whatever its ITT.
    pub fn drop_response() -> Fault {
        Fault::DropResponse {
            itt: None,
            times: 1,
        }
    }

    /// Drops the next Data-In carrying status, whatever its ITT.
    pub fn drop_status_data_in() -> Fault {
        Fault::DropStatusDataIn {
            itt: None,
            times: 1,
        }
    }

    /// Flips a bit in the next Data-In with a payload.
    pub fn flip_data_in() -> Fault {
        Fault::FlipDataIn { times: 1 }
    }
}

impl fmt::Display for Fault {
    /// The control-channel command that arms this fault.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let itt = |itt: &Option<u32>| {
            itt.map(|itt| format!(" itt=0x{itt:08x}"))
                .unwrap_or_default()
        };
        match self {
            Fault::DropResponse { itt: i, times } => write!(f, "drop-response {times}{}", itt(i)),
            Fault::DropStatusDataIn { itt: i, times } => {
                write!(f, "drop-status-data-in {times}{}", itt(i))
            }
            Fault::FlipDataIn { times } => write!(f, "flip-data-in {times}"),
            Fault::ResetMidPdu => write!(f, "reset-mid-pdu"),
            Fault::Stall(d) => write!(f, "stall {}", d.as_secs_f64()),
        }
    }
}

/// The bit [`Fault::FlipDataIn`] flips.
pub const FLIP_MASK: u8 = 0x01;

/// Which byte of a data segment of `len` (> 0) bytes [`Fault::FlipDataIn`] flips: the middle one.
pub fn flip_position(len: usize) -> usize {
    len / 2
}

/// What to do with one PDU from the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Forward,
    DropResponse,
    DropStatusDataIn,
    Flip,
    ResetMidPdu,
}

/// The faults still armed (stalls are not kept here: they start when armed).
#[derive(Debug, Default)]
pub(crate) struct Armed {
    faults: Vec<Fault>,
}

fn matches_itt(wanted: Option<u32>, pdu: &WirePdu) -> bool {
    wanted.is_none_or(|itt| itt == pdu.itt())
}

impl Armed {
    pub(crate) fn push(&mut self, fault: Fault) {
        let spent = matches!(
            fault,
            Fault::DropResponse { times: 0, .. }
                | Fault::DropStatusDataIn { times: 0, .. }
                | Fault::FlipDataIn { times: 0 }
        );
        if !spent {
            self.faults.push(fault);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.faults.clear();
    }

    pub(crate) fn list(&self) -> Vec<Fault> {
        self.faults.clone()
    }

    /// Chooses the action for a PDU from the target and uses up one application of the fault
    /// that chose it.
    pub(crate) fn decide(&mut self, pdu: &WirePdu) -> Action {
        let is_response = pdu.opcode() == Opcode::ScsiResponse as u8;
        let is_data_in_with_payload =
            pdu.opcode() == Opcode::DataIn as u8 && pdu.lengths.data_len > 0;
        let found = self.faults.iter_mut().enumerate().find_map(|(at, fault)| {
            let (action, times) = match fault {
                Fault::DropResponse { itt, times } if is_response && matches_itt(*itt, pdu) => {
                    (Action::DropResponse, Some(times))
                }
                Fault::DropStatusDataIn { itt, times }
                    if pdu.is_status_data_in() && matches_itt(*itt, pdu) =>
                {
                    (Action::DropStatusDataIn, Some(times))
                }
                Fault::FlipDataIn { times } if is_data_in_with_payload => {
                    (Action::Flip, Some(times))
                }
                Fault::ResetMidPdu => (Action::ResetMidPdu, None),
                _ => return None,
            };
            let spent = match times {
                Some(times) => {
                    *times -= 1;
                    *times == 0
                }
                None => true,
            };
            Some((at, action, spent))
        });
        match found {
            Some((at, action, spent)) => {
                if spent {
                    self.faults.remove(at);
                }
                action
            }
            None => Action::Forward,
        }
    }
}

#[cfg(test)]
mod tests;
