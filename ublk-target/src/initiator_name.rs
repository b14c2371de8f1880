//! The initiator name: given, or open-iscsi's /etc/iscsi/initiatorname.iscsi, or generated.

use std::path::Path;

/// Where open-iscsi keeps this host's initiator name.
pub(crate) const OPEN_ISCSI_NAME_FILE: &str = "/etc/iscsi/initiatorname.iscsi";

/// Reads `InitiatorName=...` from an open-iscsi style file (comments and blanks ignored).
pub(crate) fn from_open_iscsi_file(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix("InitiatorName="))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

/// An iqn derived from the host name, stable across runs on one machine.
pub(crate) fn generated(hostname: &str) -> String {
    let host: String = hostname
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("iqn.2026-11.org.ublk-cxgb3i:{host}")
}

/// The name to log in with: the flag, else open-iscsi's file, else a generated one.
pub fn resolve(flag: Option<String>) -> String {
    if let Some(name) = flag {
        return name;
    }
    if let Some(name) = from_open_iscsi_file(Path::new(OPEN_ISCSI_NAME_FILE)) {
        return name;
    }
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    generated(hostname.trim())
}

#[cfg(test)]
mod tests;
