//! A faithful model of the Chelsio T3 iSCSI offload interface (cxgb3i / libcxgbi / cxgbi_ppm).
//!
//! This crate holds the hardware-facing types the initiator talks to, with no I/O: the software
//! engine (on io_uring) implements the adapter's side with these same types.
//!
//! The interface, re-exported here: the [`Engine`] with its configuration ([`EngineConfig`],
//! [`PpmConfig`]), the work requests it takes ([`WorkRequest`]) and the completions it gives
//! ([`Completion`]), the [`Submitter`] it hands SQEs to (or [`OwnedRing`], a ring of its own),
//! and [`initiator`]: one iSCSI connection over the engine ([`initiator::IscsiConn`]), a
//! blocking [`initiator::Client`] and the LUN probe.
//!
//! Inside:
//!
//! - `tag`: the DDP tag format used as the ITT, and ITT decoding.
//! - `ppod`: page sizes and pod counts; `hw_ppod`: the pods' byte encoding, which only a
//!   hardware engine writes.
//! - `ppm`: the page-pod manager: allocation, colors, bindings, non-DDP fallback.
//! - `ddp_status`: the RX_DATA_DDP status word.
//! - `wr` / `cpl`: work requests to the adapter and completions from it.
//! - `credits`: work-request credit accounting per connection.
//! - `tid`: 24-bit connection identifiers.
//! - `engine`: the software engine carrying out work requests with the host TCP stack on
//!   io_uring.

mod cpl;
mod credits;
mod ddp_status;
mod engine;
mod hw_ppod;
pub mod initiator;
mod pod_bitmap;
mod ppm;
mod ppod;
mod tag;
mod tid;
mod wr;

pub use cpl::{Completion, CplStatus, IscsiHdr};
pub use ddp_status::DdpStatus;
pub use engine::driver::{DriverError, OwnedRing};
pub use engine::{
    AbortReason, ConnCounters, DdpErrorCounts, Engine, EngineConfig, PostError, ReserveError,
    SqFull, Submitter, TaskBuffer, TaskBufferError, TOKEN_BITS,
};
pub use ppm::{PpmConfig, PpmConfigError, DDP_MIN_PPMAX};
pub use ppod::{pods_for, PageSize};
pub use tag::DdpTag;
pub use tid::{Tid, TidOutOfRange};
pub use wr::{Payload, PduRef, PduRefError, SetTcbField, TxData, UlpSubmode, WorkRequest};
