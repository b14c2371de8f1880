//! The check a queue makes on every new session before it serves a request: the LU behind
//! the target must be the device's (its VPD 0x83 logical unit designator), and its capacity
//! is read again, so a LUN resized while the session was down is noticed. A capacity change
//! announced later (UNIT ATTENTION 2A/09 or the async event) runs the capacity step alone.
//!
//! Pure: the loop sends the requests on the session and feeds back what came back.

use iscsi_proto::scsi::{self, DeviceIdentification, ReadCapacity16, ScsiRequest, Sense, SenseKey};
use iscsi_proto::session::TaskOutcome;

/// The buffer an internal command reads into.
pub(super) const CHECK_BUFFER_LEN: usize = 4096;
/// A step that keeps answering UNIT ATTENTION (power on, reset, capacity changed ...) is
/// tried this often before the check gives up on it.
const UNIT_ATTENTION_TRIES: u8 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Identity,
    Capacity,
}

/// What the loop does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Next {
    /// Send this command on the session.
    Send(ScsiRequest),
    /// The check is over: the LU is the device's; `capacity_bytes` is what it reports, if
    /// it answered.
    Done { capacity_bytes: Option<u64> },
    /// The LU is another one: never send it a request.
    Mismatch { found: Option<String> },
}

/// One queue's LU check.
#[derive(Debug)]
pub(super) struct LuCheck {
    /// The device's LU designator; `None` when the LU had none when the device was created
    /// (the identity step is then skipped).
    expected: Option<String>,
    running: Option<(Step, u8)>,
}

impl LuCheck {
    pub(super) fn new(expected: Option<String>) -> LuCheck {
        LuCheck {
            expected,
            running: None,
        }
    }

    pub(super) fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The whole check, for a new session.
    pub(super) fn start(&mut self) -> Next {
        let step = if self.expected.is_some() {
            Step::Identity
        } else {
            Step::Capacity
        };
        self.begin(step)
    }

    /// The capacity step alone, for a capacity change announced on a live session.
    pub(super) fn start_capacity(&mut self) -> Next {
        self.begin(Step::Capacity)
    }

    /// The check ends without an answer (its session is gone).
    pub(super) fn abandon(&mut self) {
        self.running = None;
    }

    fn begin(&mut self, step: Step) -> Next {
        self.running = Some((step, 0));
        Next::Send(request(step))
    }

    /// The command of the current step finished with `outcome`; `data` is what it read.
    pub(super) fn on_done(&mut self, outcome: &TaskOutcome, data: &[u8]) -> Next {
        let Some((step, tries)) = self.running else {
            return Next::Done {
                capacity_bytes: None,
            };
        };
        if unit_attention(outcome) && tries + 1 < UNIT_ATTENTION_TRIES {
            self.running = Some((step, tries + 1));
            return Next::Send(request(step));
        }
        let good = matches!(outcome, TaskOutcome::Status { status: 0, .. });
        match step {
            Step::Identity => {
                let found = good
                    .then(|| DeviceIdentification::parse(data).ok())
                    .flatten()
                    .and_then(|page| page.logical_unit_id().map(ToString::to_string));
                if found.is_some() && found == self.expected {
                    self.begin(Step::Capacity)
                } else {
                    self.running = None;
                    Next::Mismatch { found }
                }
            }
            Step::Capacity => {
                self.running = None;
                let capacity_bytes = good
                    .then(|| ReadCapacity16::parse(data).ok())
                    .flatten()
                    .and_then(|c| {
                        c.returned_lba
                            .checked_add(1)?
                            .checked_mul(u64::from(c.block_length))
                    });
                Next::Done { capacity_bytes }
            }
        }
    }
}

fn request(step: Step) -> ScsiRequest {
    match step {
        Step::Identity => scsi::inquiry_vpd(0x83, CHECK_BUFFER_LEN as u16 - 1),
        Step::Capacity => scsi::read_capacity16(32),
    }
}

fn unit_attention(outcome: &TaskOutcome) -> bool {
    sense_of(outcome).is_some_and(|sense| sense.key == SenseKey::UnitAttention)
}

fn sense_of(outcome: &TaskOutcome) -> Option<Sense> {
    match outcome {
        TaskOutcome::Status {
            sense: Some(bytes), ..
        } => Sense::parse(bytes).ok(),
        _ => None,
    }
}

/// Whether a command's outcome says the LU's capacity changed (UNIT ATTENTION 2A/09).
pub(super) fn announces_capacity_change(outcome: &TaskOutcome) -> bool {
    sense_of(outcome).is_some_and(|sense| is_capacity_change(&sense))
}

/// Whether sense data (a command's, or an asynchronous event's) says CAPACITY DATA HAS
/// CHANGED.
pub(super) fn is_capacity_change(sense: &Sense) -> bool {
    sense.key == SenseKey::UnitAttention && sense.asc == 0x2A && sense.ascq == 0x09
}

#[cfg(test)]
mod tests;
