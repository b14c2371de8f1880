//! Why a queue could not start serving: what its thread reports to the control thread, and
//! what decides whether trying again can help (`DeviceError::is_permanent`).

use std::io;

use t3_hw::initiator::{ConnFailure, RequestRefused};
use thiserror::Error;

use crate::supervisor::DropReason;

#[derive(Debug, Error)]
pub(crate) enum QueueError {
    /// libublk could not set up the queue's ring or buffers.
    #[error("cannot set up the queue: {0}")]
    Setup(String),
    #[error("offload engine: {0}")]
    Engine(#[from] t3_hw::PpmConfigError),
    #[error("the URL has no address to log in to")]
    NoAddress,
    /// The engine would not open a connection.
    #[error("cannot open a connection: {0}")]
    Open(RequestRefused),
    /// The connection or its login failed.
    #[error("{0}")]
    Conn(ConnFailure),
    /// The session reached another LU than the device's (VPD 0x83 differs).
    #[error("the LU is not the device's (VPD 0x83 differs)")]
    WrongLu,
    /// The supervisor gave up on the connection.
    #[error("{0}")]
    Dropped(DropReason),
    #[error("queue ring: {0}")]
    Ring(io::Error),
    /// libublk could not hand the kernel the queue's fetch commands.
    #[error("cannot fetch requests: {0}")]
    Fetch(String),
}
