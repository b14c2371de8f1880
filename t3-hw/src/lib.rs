//! A faithful model of the Chelsio T3 iSCSI offload interface (cxgb3i / libcxgbi / cxgbi_ppm).
//!
//! This crate holds the hardware-facing types the initiator talks to, with no I/O: the software
//! engine (on io_uring) implements the adapter's side with these same types.
//!
//! - [`tag`]: the DDP tag format used as the ITT, and ITT decoding.
//! - [`ppod`]: 64-byte page pods, page sizes and pod counts.
//! - [`ppm`]: the page-pod manager: allocation, colors, bindings, non-DDP fallback.
//! - [`ddp_status`]: the RX_DATA_DDP status word.
//! - [`placement`]: the check every directly placed Data-In payload goes through.
//! - [`wr`] / [`cpl`]: work requests to the adapter and completions from it.
//! - [`credits`]: work-request credit accounting per connection.
//! - [`queue`]: bounded single-owner rings for work requests and completions.
//! - [`tid`]: 24-bit connection identifiers.
//! - [`engine`]: the software engine carrying out work requests with the host TCP stack on
//!   io_uring.

pub mod cpl;
pub mod credits;
pub mod ddp_status;
pub mod engine;
pub mod initiator;
pub mod placement;
mod pod_bitmap;
pub mod ppm;
pub mod ppod;
pub mod queue;
pub mod tag;
pub mod tid;
pub mod wr;

pub use cpl::{Completion, CplStatus, IscsiHdr};
pub use credits::{tx_data_credits, Consumed, CreditError, CreditStall, WrCredits, WR_MAX_CREDITS};
pub use ddp_status::DdpStatus;
pub use engine::driver::{DriverError, OwnedRing};
pub use engine::{
    AbortReason, ConnCounters, DdpErrorCounts, Engine, EngineConfig, PostError, ReserveError,
    SqFull, Submitter, TaskBuffer, TaskBufferError, TOKEN_BITS,
};
pub use placement::{check_placement, place, PlaceError, Placement};
pub use ppm::{
    sgl_for_contiguous, Binding, BufferId, DdpDisabledReason, DdpRequest, IttReservation,
    MisalignReason, Ppm, PpmConfig, PpmConfigError, PpmCounters, PpmError, SgEntry, DDP_MIN_PPMAX,
    DDP_THRESHOLD, MAX_DDP_PAGES,
};
pub use ppod::{
    build_pods, pages_for, pods_for, PagePod, PageSize, PodError, PodHeader, PPOD_SIZE,
};
pub use queue::{Ring, RingFull, RspQueue, TxQueue, ZeroCapacity, RX_BUNDLE_SIZE};
pub use tag::{
    task_of_sw_tag, task_sw_tag, Color, DdpTag, Decoded, Generation, TagError, TagFormat,
    TagFormatError, SW_TASK_LIMIT, SW_TASK_TAG_LIMIT,
};
pub use tid::{Tid, TidOutOfRange};
pub use wr::{
    OffloadQueue, Payload, PduError, PduRef, SetTcbField, TxData, UlpSubmode, WorkRequest,
};
