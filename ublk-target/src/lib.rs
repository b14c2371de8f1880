//! ublk glue for ublk.cxgb3i: a ublk block device backed by an iSCSI LUN through the T3
//! offload engine, and the ublksrv-compatible command line around it.
//!
//! - [`ops`]: block request → SCSI command; [`outcome`]: SCSI outcome → ublk result.
//! - [`params`]: ublk device parameters from the probed LUN.
//! - [`queue`]: the per-queue threads (one io_uring, engine and session each).
//! - [`device`]: creating, running, recovering and removing a device.
//! - [`pidfile`]: ublksrv's `/run/ublksrvd/<id>.pid` record.
//! - [`status`]: the live status a daemon serves, and what `list` makes of it.
//! - [`cli`]: `add`, `del`, `list`, `recover`, `features` for `ublk.cxgb3i`;
//!   [`frontend`]: the `ublk` front end that execs `ublk.<type>`.
//! - [`service`]: the systemd service around a configured device, and its boot generator.

// The module docs are for whoever maintains the crate: they link its private modules on
// purpose (the binaries use only the few public items).
#![allow(rustdoc::private_intra_doc_links)]

mod admin;
pub mod cli;
pub mod config;
mod daemon;
pub mod device;
pub mod docs;
pub mod frontend;
pub mod initiator_name;
pub mod logging;
pub mod login;
mod ops;
mod outcome;
mod params;
pub mod pidfile;
mod queue;
pub mod secrets;
pub mod service;
mod status;
mod supervisor;
pub mod udev;
mod user_data;
