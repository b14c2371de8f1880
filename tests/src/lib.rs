//! Integration-test support for the ublk.cxgb3i workspace.
//!
//! The [`tgt`] module runs a private, real `tgtd` (Linux SCSI target framework, Debian package
//! `tgt`) on loopback for each test, configured through `tgtadm`. Instances are fully isolated
//! from each other and from any system `tgtd`: own temp dir, own management socket, own portal
//! port. Tests fail (they do not skip) when tgt is missing.
//!
//! The fault-injection tools: [`proxy`] sits between an initiator and a target and drops,
//! corrupts, resets or stalls PDUs on demand (also as the `fault-proxy` program for VM
//! scripts); [`hostile`] is a tiny target that logs in and then breaks the protocol in one
//! chosen way.
//!
//! [`unit_file`] reads the systemd unit `unit-runner` runs in VMs without systemd as init.

pub mod blocking;
pub mod hostile;
pub mod proxy;
pub mod tgt;
pub mod unit_file;

pub use tgt::{Backing, Tgtd};
