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
mod tests {
    use super::*;

    #[test]
    fn reads_open_iscsi_file() {
        let dir = std::env::temp_dir().join(format!("ublk-cxgb3i-iname-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("initiatorname.iscsi");
        std::fs::write(
            &file,
            "## DO NOT EDIT\n#InitiatorName=iqn.commented\nInitiatorName=iqn.1993-08.org.debian:01:abc\n",
        )
        .unwrap();
        assert_eq!(
            from_open_iscsi_file(&file).as_deref(),
            Some("iqn.1993-08.org.debian:01:abc")
        );
        std::fs::write(&file, "# nothing\n").unwrap();
        assert_eq!(from_open_iscsi_file(&file), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn generated_names_are_valid_iqns() {
        assert_eq!(generated("Box_1"), "iqn.2026-11.org.ublk-cxgb3i:box-1");
    }
}
