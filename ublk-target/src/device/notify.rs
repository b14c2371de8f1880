//! Telling whoever started us that the device is live (or will not be): ublksrv's
//! external-target protocol. The parent passes the write end of a pipe as `--eventfd N`;
//! we write one native-endian u64, `dev_id + 1` once the device is LIVE, or
//! 0xfffffffffffffffe if it cannot be, and close it.

use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// What the parent reads on failure.
pub(crate) const FAILED: u64 = 0xffff_ffff_ffff_fffe;

/// The value the parent reads when device `dev_id` is live.
pub(crate) fn live_value(dev_id: u32) -> u64 {
    u64::from(dev_id) + 1
}

/// The parent's pipe, or nobody.
pub(crate) struct Notifier {
    pipe: Option<File>,
    on_live: Option<Box<dyn FnMut(u32) + Send>>,
}

impl Notifier {
    /// Nobody waits (`--foreground` without `--eventfd`).
    pub(crate) fn none() -> Notifier {
        Notifier {
            pipe: None,
            on_live: None,
        }
    }

    /// The pipe write end `fd` given with `--eventfd`.
    ///
    /// # Safety
    ///
    /// `fd` must be an open file descriptor this process owns and nothing else uses.
    pub(crate) unsafe fn from_raw_fd(fd: RawFd) -> Notifier {
        // SAFETY: forwarded to the caller.
        Notifier::pipe(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// A pipe write end we own.
    pub(crate) fn pipe(fd: OwnedFd) -> Notifier {
        Notifier {
            pipe: Some(File::from(fd)),
            on_live: None,
        }
    }

    /// Also runs `action` once the device is live (after the parent has been told).
    pub(crate) fn then_on_live(mut self, action: impl FnMut(u32) + Send + 'static) -> Notifier {
        self.on_live = Some(Box::new(action));
        self
    }

    /// Device `dev_id` is live.
    pub(crate) fn live(&mut self, dev_id: u32) {
        self.send(live_value(dev_id));
        if let Some(mut action) = self.on_live.take() {
            action(dev_id);
        }
    }

    /// The device will not come up.
    pub(crate) fn failed(&mut self) {
        self.on_live = None;
        self.send(FAILED);
    }

    fn send(&mut self, value: u64) {
        if let Some(mut pipe) = self.pipe.take() {
            if let Err(error) = pipe.write_all(&value.to_ne_bytes()) {
                tracing::warn!(%error, "cannot tell the parent process");
            }
        }
    }
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("pipe", &self.pipe)
            .field("on_live", &self.on_live.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests;
