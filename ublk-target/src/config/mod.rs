//! Configuration files: one TOML file per device, and a defaults file for all of them.
//!
//! ```text
//! /etc/ublk-cxgb3i/defaults.toml   what every device gets unless its own file or the
//!                                   command line says otherwise (like iscsid.conf)
//! /etc/ublk-cxgb3i/disk1.toml      one device: `ublk add -t cxgb3i --config disk1`
//! ```
//!
//! The directory is `UBLK_CXGB3I_CONFIG_DIR` when that is set. `--config NAME` without a `/`
//! that is not a file in the current directory means `<dir>/NAME` or `<dir>/NAME.toml`.
//!
//! Keys (all optional; an unknown key is an error that names the file, the line and the key):
//! `url`, or `portal` + `target` + `lun`; `initiator_name`; `chap_user`, `chap_secret` or
//! `chap_secret_file`; `target_chap_user`, `target_chap_secret` or `target_chap_secret_file`
//! (mutual CHAP); `header_digest`, `data_digest` (`"crc32c"` or `"none"`); `queues`, `depth`,
//! `zero_copy`, `max_io_buf_bytes`, `user_recovery`, `user_recovery_reissue`, `number` (the
//! device id); `startup` (`"manual"`, the default, or `"automatic"`: started at boot, see
//! `crate::service::generator`); and a `[timeouts]` table whose keys are
//! [`TimeoutSettings`]' fields. The defaults file may not hold `url`, `portal`, `target`,
//! `lun` or `number`.
//!
//! Which value wins:
//! - every setting: the command line, then the device's file, then the defaults file, then
//!   the built-in default (the `[timeouts]` table key by key);
//! - the LUN: the command line's URL, else the device file's;
//! - digests: the URL's own `header_digest=` / `data_digest=`, then the keys as above;
//! - each of the four CHAP values (user, secret, target user, target secret) on its own: the
//!   URL's, then libiscsi's `LIBISCSI_CHAP_*` environment variables, then the device's file,
//!   then the defaults file.
//!
//! Secrets: a secret file (`chap_secret_file`, relative to the configuration file's
//! directory) and a configuration file that holds a secret itself must be readable by their
//! owner alone: group or other permission bits are refused, naming the file and its mode.

mod file;
pub(crate) mod limits;

#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};

use iscsi_proto::url::{env_vars, DigestChoice, IscsiUrl, ParseError, UrlError};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

pub use file::{ConfigFile, FileKind, FileSettings};

use crate::secrets::PipedSecrets;
use crate::supervisor::{TimeoutOverrides, TimeoutSettings};

/// Where the files are.
pub(crate) const DEFAULT_DIR: &str = "/etc/ublk-cxgb3i";
/// The environment variable that names another directory.
pub(crate) const DIR_ENV: &str = "UBLK_CXGB3I_CONFIG_DIR";
/// The defaults file's name in the directory.
pub(crate) const DEFAULTS_FILE: &str = "defaults.toml";

/// The configuration directory.
pub(crate) fn dir() -> PathBuf {
    std::env::var_os(DIR_ENV)
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
}

/// Why the configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {key}: {message}", .path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{}:{line}: {message}", .path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("no configuration file {name} (looked in the current directory and {})", .dir.display())]
    NotFound { name: String, dir: PathBuf },
    #[error("no LUN given: a URL, or --config FILE with url (or portal, target and lun)")]
    NoLun,
    #[error("invalid URL: {0}")]
    CommandLineUrl(ParseError),
    #[error("{}: {reason}", .path.display())]
    FileUrl { path: PathBuf, reason: UrlError },
    #[error("{0}")]
    CommandLine(String),
}

/// A digest key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Digest {
    None,
    Crc32c,
}

impl From<Digest> for DigestChoice {
    fn from(digest: Digest) -> DigestChoice {
        match digest {
            Digest::None => DigestChoice::Disabled,
            Digest::Crc32c => DigestChoice::Crc32c,
        }
    }
}

/// `startup`: whether the device comes up at boot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Startup {
    Automatic,
    #[default]
    Manual,
}

/// A secret as written in a file: never printed, wiped when dropped.
#[derive(Clone, Deserialize)]
#[serde(from = "String")]
pub(crate) struct SecretText(Zeroizing<String>);

impl From<String> for SecretText {
    fn from(text: String) -> SecretText {
        SecretText(Zeroizing::new(text))
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the CHAP secrets a device logs in with came from, kept in its record so `ublk
/// recover` can say where to find them again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SecretSource {
    /// A configuration or secret file (recover reads it again).
    ConfigFile,
    /// libiscsi's `LIBISCSI_CHAP_*` variables.
    Environment,
    /// The URL on the command line (not kept anywhere).
    CommandLine,
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretSource::ConfigFile => "a configuration file",
            SecretSource::Environment => "the environment",
            SecretSource::CommandLine => "the command line",
        })
    }
}

/// The URL text for `portal` + `target` + `lun`.
fn url_text(portal: &str, target: &str, lun: u64) -> String {
    let mut encoded = String::with_capacity(target.len());
    for byte in target.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("iscsi://{portal}/{encoded}/{lun}")
}

/// The files `add --config` uses: the device's (if given) and the defaults file (if it
/// exists).
#[derive(Debug, Default)]
pub(crate) struct Files {
    pub device: Option<ConfigFile>,
    pub defaults: Option<ConfigFile>,
}

impl Files {
    /// Loads the device's file `config` (see [`find`]) and the defaults file of [`dir`].
    pub(crate) fn load(config: Option<&Path>) -> Result<Files, ConfigError> {
        Files::load_in(&dir(), config)
    }

    /// As [`Files::load`], with the configuration directory `dir`.
    pub(crate) fn load_in(dir: &Path, config: Option<&Path>) -> Result<Files, ConfigError> {
        let defaults_path = dir.join(DEFAULTS_FILE);
        let defaults = if defaults_path.exists() {
            Some(ConfigFile::load(&defaults_path, FileKind::Defaults)?)
        } else {
            None
        };
        let device = match config {
            Some(config) => Some(ConfigFile::load(&find(dir, config)?, FileKind::Device)?),
            None => None,
        };
        Ok(Files { device, defaults })
    }

    fn layers(&self) -> impl Iterator<Item = &ConfigFile> {
        self.device.iter().chain(self.defaults.iter())
    }

    /// The first file (device, then defaults) that sets a value.
    fn first<T>(&self, get: impl Fn(&FileSettings) -> Option<T>) -> Option<T> {
        self.layers().find_map(|file| get(&file.settings))
    }
}

/// The file `--config NAME` means: NAME itself if it exists or has a `/`, else `<dir>/NAME`
/// or `<dir>/NAME.toml`. Absolute, so the device's record can name it.
pub(crate) fn find(dir: &Path, name: &Path) -> Result<PathBuf, ConfigError> {
    let bare = name.components().count() == 1 && !name.to_string_lossy().contains('/');
    let candidates: Vec<PathBuf> = if name.exists() || !bare {
        vec![name.to_owned()]
    } else {
        let mut with_extension = name.as_os_str().to_owned();
        with_extension.push(".toml");
        vec![dir.join(name), dir.join(with_extension)]
    };
    let found = candidates
        .into_iter()
        .find(|path| path.is_file())
        .ok_or_else(|| ConfigError::NotFound {
            name: name.display().to_string(),
            dir: dir.to_owned(),
        })?;
    std::path::absolute(&found).map_err(|source| ConfigError::Read {
        path: found.clone(),
        source,
    })
}

/// Answers the URL parser's credential lookups (libiscsi's variable names) from the layers
/// below the URL: the front end's pipe, the environment, the files. Notes where the secrets
/// it gave came from.
pub(crate) struct CredentialLookup<'a> {
    piped: Option<&'a PipedSecrets>,
    env: &'a dyn Fn(&str) -> Option<String>,
    files: &'a Files,
    source: Cell<Option<SecretSource>>,
}

impl<'a> CredentialLookup<'a> {
    pub(crate) fn new(
        piped: Option<&'a PipedSecrets>,
        env: &'a dyn Fn(&str) -> Option<String>,
        files: &'a Files,
    ) -> CredentialLookup<'a> {
        CredentialLookup {
            piped,
            env,
            files,
            source: Cell::new(None),
        }
    }

    /// The value for `name`, if any layer has one.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let is_secret = name == env_vars::CHAP_PASSWORD || name == env_vars::CHAP_TARGET_PASSWORD;
        let found = [
            (
                SecretSource::CommandLine,
                self.piped
                    .and_then(|piped| piped.get(name))
                    .map(str::to_owned),
            ),
            (SecretSource::Environment, (self.env)(name)),
            (
                SecretSource::ConfigFile,
                self.files.layers().find_map(|file| file.chap(name)),
            ),
        ]
        .into_iter()
        .find_map(|(source, value)| value.filter(|v| !v.is_empty()).map(|v| (source, v)));
        let (source, value) = found?;
        if is_secret {
            self.note(source);
        }
        Some(value)
    }

    /// A secret came from `source`: the least lasting source is what counts.
    pub(crate) fn note(&self, source: SecretSource) {
        self.source.set(self.source.get().max(Some(source)));
    }

    /// Where the secrets given so far came from.
    pub(crate) fn source(&self) -> Option<SecretSource> {
        self.source.get()
    }
}

/// What `add` got on its command line (everything optional but the flags).
#[derive(Debug, Default)]
pub(crate) struct CommandLine {
    pub url: Option<String>,
    pub piped: PipedSecrets,
    pub number: Option<i32>,
    pub queues: Option<u16>,
    pub depth: Option<u16>,
    /// `-z` (there is no switch to turn it off).
    pub zero_copy: bool,
    pub max_io_buf_bytes: Option<u32>,
    pub user_recovery: Option<bool>,
    pub user_recovery_reissue: Option<bool>,
    pub initiator_name: Option<String>,
    pub timeouts: TimeoutOverrides,
}

/// Everything `add` needs, every layer applied.
#[derive(Debug, Clone)]
pub(crate) struct AddConfig {
    pub number: i32,
    pub queues: u16,
    pub depth: u16,
    pub zero_copy: bool,
    pub max_io_buf_bytes: u32,
    pub user_recovery: bool,
    pub user_recovery_reissue: bool,
    /// None: open-iscsi's, or one made from the host name.
    pub initiator_name: Option<String>,
    pub timeouts: TimeoutSettings,
    pub url: IscsiUrl,
    /// The device's configuration file.
    pub config: Option<PathBuf>,
    /// Where the CHAP secrets came from (None: no CHAP).
    pub secret_source: Option<SecretSource>,
}

/// Applies the layers: the command line, the device's file, the defaults file, built-in
/// defaults. `env` looks up environment variables.
pub(crate) fn resolve_add(
    cli: CommandLine,
    files: &Files,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AddConfig, ConfigError> {
    if let Err(error) = cli.timeouts.check() {
        return Err(ConfigError::CommandLine(format!(
            "{} must be at least 1 second",
            error.option
        )));
    }
    if let Some(bytes) = cli.max_io_buf_bytes {
        limits::check_io_buf_bytes("--max_io_buf_bytes", bytes)
            .map_err(ConfigError::CommandLine)?;
    }
    let lookup = CredentialLookup::new(Some(&cli.piped), env, files);
    let get = |name: &str| lookup.get(name);
    let url = match &cli.url {
        Some(text) => {
            let url = IscsiUrl::parse_with_env(text, get).map_err(ConfigError::CommandLineUrl)?;
            // A password written in the URL itself (not taken out by the front end).
            if url.initiator_chap.is_some() || url.target_chap.is_some() {
                let in_text = iscsi_proto::url::password_spans(text)
                    .iter()
                    .any(|span| !span.range.is_empty());
                if in_text {
                    lookup.note(SecretSource::CommandLine);
                }
            }
            url
        }
        None => {
            let device = files.device.as_ref().ok_or(ConfigError::NoLun)?;
            let s = &device.settings;
            let text = match (&s.url, &s.portal, &s.target, s.lun) {
                (Some(url), _, _, _) => Zeroizing::new(url.clone()),
                (None, Some(portal), Some(target), Some(lun)) => {
                    Zeroizing::new(url_text(portal, target, lun))
                }
                _ => return Err(ConfigError::NoLun),
            };
            let url =
                IscsiUrl::parse_with_env(&text, get).map_err(|error| ConfigError::FileUrl {
                    path: device.path.clone(),
                    reason: error.reason,
                })?;
            if iscsi_proto::url::password_spans(&text)
                .iter()
                .any(|span| !span.range.is_empty())
            {
                lookup.note(SecretSource::ConfigFile);
            }
            url
        }
    };
    let mut url = url;
    url.header_digest = url
        .header_digest
        .or_else(|| files.first(|s| s.header_digest).map(DigestChoice::from));
    url.data_digest = url
        .data_digest
        .or_else(|| files.first(|s| s.data_digest).map(DigestChoice::from));

    let mut timeouts = TimeoutSettings::default();
    for file in files.layers().collect::<Vec<_>>().into_iter().rev() {
        if let Some(layer) = &file.settings.timeouts {
            timeouts = layer.apply(timeouts);
        }
    }
    timeouts = cli.timeouts.apply(timeouts);
    let user_recovery = cli
        .user_recovery
        .or_else(|| files.first(|s| s.user_recovery))
        .unwrap_or(false);
    Ok(AddConfig {
        number: cli
            .number
            .or_else(|| files.first(|s| s.number))
            .unwrap_or(-1),
        queues: cli
            .queues
            .or_else(|| files.first(|s| s.queues))
            .unwrap_or(limits::DEFAULT_QUEUES),
        depth: cli
            .depth
            .or_else(|| files.first(|s| s.depth))
            .unwrap_or(limits::DEFAULT_DEPTH),
        zero_copy: cli.zero_copy || files.first(|s| s.zero_copy).unwrap_or(false),
        max_io_buf_bytes: cli
            .max_io_buf_bytes
            .or_else(|| files.first(|s| s.max_io_buf_bytes))
            .unwrap_or(limits::DEFAULT_IO_BUF_BYTES),
        user_recovery,
        user_recovery_reissue: cli
            .user_recovery_reissue
            .or_else(|| files.first(|s| s.user_recovery_reissue))
            .unwrap_or(false),
        initiator_name: cli
            .initiator_name
            .or_else(|| files.first(|s| s.initiator_name.clone())),
        timeouts,
        secret_source: lookup.source(),
        url,
        config: files.device.as_ref().map(|file| file.path.clone()),
    })
}

/// The device configuration files in `dir` (`*.toml` but the defaults file), in name order:
/// what the boot generator reads for `startup = "automatic"`.
pub(crate) fn device_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "toml")
                && path.file_name().is_some_and(|name| name != DEFAULTS_FILE)
        })
        .collect();
    paths.sort();
    Ok(paths)
}
