//! A private `tgtd` instance per test, plus the `tgtadm` calls that configure it.
//!
//! How tgt isolates instances (verified against tgt 1.0.85):
//! - `tgtd` and `tgtadm` both read `TGT_IPC_SOCKET` and append `.<control port>` to it (the
//!   control port is `-C N`, default 0); tgtd also creates `<that>.lock`. So pointing
//!   `TGT_IPC_SOCKET` at `<private dir>/socket` gives every instance its own `socket.0`, and
//!   `-C` never needs to change.
//! - tgtd opens no other TCP port than its iSCSI portal(s).
//! - If the portal cannot be bound, tgtd does NOT exit: it logs the failure and falls back to
//!   the default portals `0.0.0.0:3260` and `[::]:3260`. The harness therefore checks the
//!   portal list after start-up and retries on another port.

mod daemon;
mod private_dir;
mod programs;
mod setup;
mod tgtadm;

pub use daemon::Tgtd;
pub use setup::Backing;
