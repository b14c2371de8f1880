//! A per-instance temp directory (management socket, tgtd's log, scratch backing files).

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes instances created by one process; the pid distinguishes processes.
static NEXT_DIR_NUMBER: AtomicU64 = AtomicU64::new(0);

/// A stale directory from an earlier process with a recycled pid is skipped, not reused.
const CREATE_ATTEMPTS: u32 = 100;

/// Owns a fresh directory under the system temp dir and removes it (recursively) on drop.
#[derive(Debug)]
pub(crate) struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Creates `<tmp>/cxgb3i-tgtd-<pid>-<n>` with mode 0700.
    pub(crate) fn create() -> io::Result<Self> {
        let temp_root = std::env::temp_dir();
        for _ in 0..CREATE_ATTEMPTS {
            let number = NEXT_DIR_NUMBER.fetch_add(1, Ordering::Relaxed);
            let path = temp_root.join(format!("cxgb3i-tgtd-{}-{number}", process::id()));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => {
                    return Err(io::Error::new(
                        error.kind(),
                        format!("cannot create tgtd temp dir {}: {error}", path.display()),
                    ))
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{CREATE_ATTEMPTS} candidate tgtd temp dirs under {} already exist",
                temp_root.display()
            ),
        ))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        // Nothing useful can be done about a failure here; the dir is under /tmp anyway.
        let _ = fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests;
