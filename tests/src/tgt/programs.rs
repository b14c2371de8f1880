//! Locating the tgt binaries, with the message CI and developers need when they are missing.

use std::env;
use std::io;
use std::path::{Path, PathBuf};

/// Where Debian installs tgt; searched after `PATH` because non-root shells often lack sbin.
const SBIN_DIRS: [&str; 3] = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

/// Finds `name` (e.g. "tgtd") in `PATH`, then in the sbin directories.
pub(crate) fn locate(name: &str) -> io::Result<PathBuf> {
    let path_dirs = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    path_dirs
        .iter()
        .map(PathBuf::as_path)
        .chain(SBIN_DIRS.iter().map(Path::new))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{name} not found: run scripts/install-deps (searched PATH and {})",
                    SBIN_DIRS.join(", ")
                ),
            )
        })
}

#[cfg(test)]
mod tests;
