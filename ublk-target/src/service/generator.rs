//! The systemd generator (`ublk-cxgb3i-generator`, which runs `ublk.cxgb3i
//! systemd-generator`): at boot and at every `systemctl daemon-reload`, each configuration
//! file with `startup = "automatic"` becomes a wanted instance of the template unit,
//!
//! ```text
//! NORMAL/ublk-cxgb3i.target.wants/ublk-cxgb3i@NAME.service -> UNITDIR/ublk-cxgb3i@.service
//! NORMAL/remote-fs.target.wants/ublk-cxgb3i.target          -> UNITDIR/ublk-cxgb3i.target
//! ```
//!
//! so the devices come up with the network, before remote-fs-pre.target, and an /etc/fstab
//! line with `_netdev` mounts a file system on one (open-iscsi's `node.startup = automatic`
//! and iscsi.service, the systemd way). Like every generator it only writes links: no
//! device is touched, nothing waits for the network. A configuration file that cannot be read
//! is reported (the journal gets a generator's stderr) and skipped; the others still start.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use thiserror::Error;

use crate::config::{self, ConfigFile, FileKind, Startup};

/// The template unit every device runs as.
pub(crate) const TEMPLATE_UNIT: &str = "ublk-cxgb3i@.service";
/// The target that wants every automatic device.
pub(crate) const TARGET_UNIT: &str = "ublk-cxgb3i.target";
/// The target that wants ours: file systems with `_netdev` are ordered after
/// remote-fs-pre.target, which our units come before.
const BOOT_TARGET: &str = "remote-fs.target";

/// Where unit files are installed, besides next to our own binary (`PREFIX/sbin` →
/// `PREFIX/lib/systemd/system`), in systemd's order.
const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// `systemd-generator NORMAL [EARLY LATE]`, as systemd calls a generator.
#[derive(Args, Debug, Clone)]
pub struct GeneratorArgs {
    /// The generator output directory of normal priority.
    pub normal_dir: PathBuf,
    /// The early and late output directories (unused).
    pub other_dirs: Vec<PathBuf>,
}

#[derive(Debug, Error)]
enum GeneratorError {
    #[error("{TEMPLATE_UNIT} is in none of {searched}")]
    NoTemplate { searched: String },
    #[error("{path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Config(#[from] config::ConfigError),
}

/// Runs the generator; problems go to stderr.
pub fn run_generator(args: GeneratorArgs) -> ExitCode {
    match generate(&config::dir(), &args.normal_dir, &unit_dirs()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ublk-cxgb3i-generator: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Our own unit directory first (`PREFIX/lib/systemd/system` for a binary in
/// `PREFIX/sbin`), then systemd's.
fn unit_dirs() -> Vec<PathBuf> {
    let own = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("lib/systemd/system")));
    own.into_iter()
        .chain(UNIT_DIRS.iter().map(PathBuf::from))
        .collect()
}

/// Writes the links for the automatic devices of `config_dir` into `normal_dir`, pointing at
/// the first of `unit_dirs` that holds the template.
fn generate(
    config_dir: &Path,
    normal_dir: &Path,
    unit_dirs: &[PathBuf],
) -> Result<(), GeneratorError> {
    if !config_dir.is_dir() {
        return Ok(());
    }
    let instances = automatic_instances(config_dir)?;
    if instances.is_empty() {
        return Ok(());
    }
    let unit_dir = unit_dirs
        .iter()
        .find(|dir| dir.join(TEMPLATE_UNIT).is_file())
        .ok_or_else(|| GeneratorError::NoTemplate {
            searched: unit_dirs
                .iter()
                .map(|dir| dir.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let wants = normal_dir.join(format!("{TARGET_UNIT}.wants"));
    for instance in &instances {
        link(
            &unit_dir.join(TEMPLATE_UNIT),
            &wants.join(format!("ublk-cxgb3i@{instance}.service")),
        )?;
    }
    link(
        &unit_dir.join(TARGET_UNIT),
        &normal_dir
            .join(format!("{BOOT_TARGET}.wants"))
            .join(TARGET_UNIT),
    )
}

/// The escaped instance names of the configuration files with `startup = "automatic"`.
fn automatic_instances(config_dir: &Path) -> Result<Vec<String>, GeneratorError> {
    let mut instances = Vec::new();
    for path in config::device_files(config_dir)? {
        match ConfigFile::load(&path, FileKind::Device) {
            Ok(file) if file.startup() == Startup::Automatic => {
                if let Some(stem) = path.file_stem() {
                    instances.push(escape_instance(stem.as_bytes()));
                }
            }
            Ok(_) => {}
            Err(error) => eprintln!("ublk-cxgb3i-generator: skipped: {error}"),
        }
    }
    Ok(instances)
}

fn link(target: &Path, link: &Path) -> Result<(), GeneratorError> {
    let write_error = |source| GeneratorError::Write {
        path: link.to_owned(),
        source,
    };
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    match std::os::unix::fs::symlink(target, link) {
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map_err(write_error),
    }
}

/// A unit instance name for `name`, as `systemd-escape` makes it: ASCII letters, digits,
/// `:`, `_` and `.` (but a leading one) stay, `/` becomes `-`, every other byte `\xNN`.
/// The unit gets `name` back with `%I`.
pub(crate) fn escape_instance(name: &[u8]) -> String {
    let mut escaped = String::with_capacity(name.len());
    for (index, &byte) in name.iter().enumerate() {
        let plain = byte.is_ascii_alphanumeric()
            || byte == b':'
            || byte == b'_'
            || (byte == b'.' && index > 0);
        if plain {
            escaped.push(char::from(byte));
        } else if byte == b'/' {
            escaped.push('-');
        } else {
            escaped.push_str(&format!("\\x{byte:02x}"));
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!(
                "ublk-target-generator-{name}-{}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&dir);
            for sub in ["etc", "units", "out"] {
                fs::create_dir_all(dir.join(sub)).unwrap();
            }
            Scratch(dir)
        }

        fn config(&self, name: &str, text: &str) {
            let path = self.0.join("etc").join(name);
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }

        fn generate(&self) -> Result<(), GeneratorError> {
            generate(
                &self.0.join("etc"),
                &self.0.join("out"),
                &[self.0.join("missing"), self.0.join("units")],
            )
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn instance_names_escape_like_systemd_escape() {
        assert_eq!(escape_instance(b"disk1"), "disk1");
        assert_eq!(escape_instance(b"db-2"), "db\\x2d2");
        assert_eq!(escape_instance(b"a.b_c:d"), "a.b_c:d");
        assert_eq!(escape_instance(b".hidden"), "\\x2ehidden");
        assert_eq!(escape_instance(b"a b/c"), "a\\x20b-c");
        assert_eq!(escape_instance("é".as_bytes()), "\\xc3\\xa9");
    }

    #[test]
    fn automatic_devices_become_wanted_instances() {
        let scratch = Scratch::new("automatic");
        fs::write(scratch.0.join("units").join(TEMPLATE_UNIT), "").unwrap();
        fs::write(scratch.0.join("units").join(TARGET_UNIT), "").unwrap();
        scratch.config("defaults.toml", "startup = \"automatic\"\n");
        scratch.config(
            "db-1.toml",
            "url = \"iscsi://h/iqn.x:y/0\"\nstartup = \"automatic\"\n",
        );
        scratch.config("manual.toml", "url = \"iscsi://h/iqn.x:y/1\"\n");
        scratch.config(
            "broken.toml",
            "url = \"iscsi://h/iqn.x:y/2\"\nstartup = 3\n",
        );
        scratch.generate().unwrap();
        let wants = scratch.0.join("out").join("ublk-cxgb3i.target.wants");
        let links: Vec<String> = fs::read_dir(&wants)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(links, ["ublk-cxgb3i@db\\x2d1.service"]);
        assert_eq!(
            fs::read_link(wants.join(&links[0])).unwrap(),
            scratch.0.join("units").join(TEMPLATE_UNIT)
        );
        assert_eq!(
            fs::read_link(
                scratch
                    .0
                    .join("out/remote-fs.target.wants")
                    .join(TARGET_UNIT)
            )
            .unwrap(),
            scratch.0.join("units").join(TARGET_UNIT)
        );
        // A second run (daemon-reload) finds its links in place.
        scratch.generate().unwrap();
    }

    #[test]
    fn no_automatic_device_writes_nothing() {
        let scratch = Scratch::new("manual");
        scratch.config("manual.toml", "url = \"iscsi://h/iqn.x:y/1\"\n");
        scratch.generate().unwrap();
        assert_eq!(fs::read_dir(scratch.0.join("out")).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_template_is_an_error_naming_where_it_looked() {
        let scratch = Scratch::new("notemplate");
        scratch.config(
            "a.toml",
            "url = \"iscsi://h/iqn.x:y/0\"\nstartup = \"automatic\"\n",
        );
        let error = scratch.generate().unwrap_err().to_string();
        assert!(
            error.contains("ublk-cxgb3i@.service is in none of"),
            "{error}"
        );
        assert!(error.contains("/units"), "{error}");
    }
}
