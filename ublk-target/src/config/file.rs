//! One configuration file: read, parsed into [`FileSettings`], checked, its secret files
//! read. Every error names the file, the line and the key.

use std::fs;
use std::io::Read;
use std::ops::Range;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use iscsi_proto::url::{env_vars, password_spans, IscsiUrl, Portal, MAX_LUN};
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use zeroize::Zeroizing;

use super::{limits, ConfigError, Digest, SecretText, Startup};
use crate::supervisor::TimeoutOverrides;

/// What a file may say. Every key is optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// The LUN's URL, as on the command line...
    pub(crate) url: Option<String>,
    /// ... or its parts: `host[:port]`, the target's name and the LUN number.
    pub(crate) portal: Option<String>,
    pub(crate) target: Option<String>,
    pub lun: Option<u64>,
    pub(crate) initiator_name: Option<String>,
    pub(crate) chap_user: Option<String>,
    pub(crate) chap_secret: Option<SecretText>,
    pub(crate) chap_secret_file: Option<PathBuf>,
    pub(crate) target_chap_user: Option<String>,
    pub(crate) target_chap_secret: Option<SecretText>,
    pub(crate) target_chap_secret_file: Option<PathBuf>,
    pub(crate) header_digest: Option<Digest>,
    pub(crate) data_digest: Option<Digest>,
    pub queues: Option<u16>,
    pub(crate) depth: Option<u16>,
    pub(crate) zero_copy: Option<bool>,
    pub(crate) max_io_buf_bytes: Option<u32>,
    pub(crate) user_recovery: Option<bool>,
    pub(crate) user_recovery_reissue: Option<bool>,
    pub(crate) number: Option<i32>,
    pub(crate) startup: Option<Startup>,
    pub timeouts: Option<TimeoutOverrides>,
}

/// Which file it is: the defaults file may not name a LUN or a device id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Device,
    Defaults,
}

/// A key of the file and the line it is on.
#[derive(Debug, Clone)]
struct KeyLine {
    /// Dotted: `timeouts.command`.
    key: String,
    line: usize,
    /// The key and its value in the text.
    span: Range<usize>,
}

/// A loaded and checked configuration file.
#[derive(Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub settings: FileSettings,
    keys: Vec<KeyLine>,
    chap_secret: Option<Zeroizing<String>>,
    target_chap_secret: Option<Zeroizing<String>>,
}

/// Line number (from 1) of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

/// Every key of the document with its line, tables included (`timeouts`, then
/// `timeouts.command`).
fn key_lines(text: &str, table: &DeTable<'_>, prefix: &str, out: &mut Vec<KeyLine>) {
    for (key, value) in table.iter() {
        let name = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        let (key_span, value_span) = (key.span(), value.span());
        out.push(KeyLine {
            key: name.clone(),
            line: line_of(text, key_span.start),
            span: key_span.start.min(value_span.start)..key_span.end.max(value_span.end),
        });
        if let DeValue::Table(inner) = value.get_ref() {
            key_lines(text, inner, &name, out);
        }
    }
}

/// What a `key = value` line names, for a syntax error where no key was parsed.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let content = text.lines().nth(line.checked_sub(1)?)?;
    let (key, _) = content.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('#')).then(|| key.to_owned())
}

/// Group or others may read (or write) it.
pub(super) fn too_open(mode: u32) -> bool {
    mode & 0o077 != 0
}

impl ConfigFile {
    /// Reads, parses and checks `path`.
    pub fn load(path: &Path, kind: FileKind) -> Result<ConfigFile, ConfigError> {
        let read_error = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = fs::File::open(path).map_err(read_error)?;
        let mode = file.metadata().map_err(read_error)?.permissions().mode() & 0o7777;
        let mut text = Zeroizing::new(String::new());
        file.read_to_string(&mut text).map_err(read_error)?;
        let parsed = ConfigFile::parse(path, &text, kind, mode)?;
        Ok(parsed)
    }

    /// Parses and checks `text`, the contents of `path`, whose permission bits are `mode`.
    pub(crate) fn parse(
        path: &Path,
        text: &str,
        kind: FileKind,
        mode: u32,
    ) -> Result<ConfigFile, ConfigError> {
        let table = DeTable::parse(text).map_err(|error| {
            let line = error.span().map_or(1, |span| line_of(text, span.start));
            match key_on_line(text, line) {
                Some(key) => ConfigError::Invalid {
                    path: path.to_owned(),
                    line,
                    key,
                    message: error.message().to_owned(),
                },
                None => ConfigError::Syntax {
                    path: path.to_owned(),
                    line,
                    message: error.message().to_owned(),
                },
            }
        })?;
        let mut keys = Vec::new();
        key_lines(text, table.get_ref(), "", &mut keys);
        let settings =
            FileSettings::deserialize(toml::de::Deserializer::from(table)).map_err(|error| {
                let at = error.span().map_or(0, |span| span.start);
                // The innermost key whose text holds the error.
                let key = keys
                    .iter()
                    .filter(|key| key.span.contains(&at))
                    .max_by_key(|key| key.key.len());
                match key {
                    Some(key) => ConfigError::Invalid {
                        path: path.to_owned(),
                        line: line_of(text, at),
                        key: key.key.clone(),
                        message: error.message().to_owned(),
                    },
                    None => ConfigError::Syntax {
                        path: path.to_owned(),
                        line: line_of(text, at),
                        message: error.message().to_owned(),
                    },
                }
            })?;
        let mut file = ConfigFile {
            path: path.to_owned(),
            settings,
            keys,
            chap_secret: None,
            target_chap_secret: None,
        };
        file.check(kind, mode)?;
        file.chap_secret = file.secret(
            "chap_secret",
            &file.settings.chap_secret,
            "chap_secret_file",
            &file.settings.chap_secret_file,
        )?;
        file.target_chap_secret = file.secret(
            "target_chap_secret",
            &file.settings.target_chap_secret,
            "target_chap_secret_file",
            &file.settings.target_chap_secret_file,
        )?;
        Ok(file)
    }

    /// The line of `key` (1 if the file does not have it).
    pub(crate) fn line(&self, key: &str) -> usize {
        self.keys
            .iter()
            .find(|known| known.key == key)
            .map_or(1, |known| known.line)
    }

    fn has(&self, key: &str) -> bool {
        self.keys.iter().any(|known| known.key == key)
    }

    /// An error about `key` of this file.
    pub(crate) fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            line: self.line(key),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn check(&self, kind: FileKind, mode: u32) -> Result<(), ConfigError> {
        let s = &self.settings;
        let lun_keys = ["url", "portal", "target", "lun", "number"];
        if kind == FileKind::Defaults {
            if let Some(key) = lun_keys.iter().find(|key| self.has(key)) {
                return Err(self.invalid(
                    key,
                    "belongs in a device's file: the defaults apply to every device",
                ));
            }
        }
        let parts = [
            ("portal", s.portal.is_some()),
            ("target", s.target.is_some()),
            ("lun", s.lun.is_some()),
        ];
        if s.url.is_some() {
            if let Some((key, _)) = parts.iter().find(|(_, given)| *given) {
                return Err(self.invalid(key, "give either url, or portal, target and lun"));
            }
        } else if let Some((key, _)) = parts.iter().find(|(_, given)| *given) {
            if let Some((missing, _)) = parts.iter().find(|(_, given)| !*given) {
                return Err(self.invalid(
                    key,
                    format!("portal, target and lun go together: {missing} is missing"),
                ));
            }
        }
        // Syntax only here: credentials may come from elsewhere.
        let anything = |_: &str| Some("x".to_owned());
        if let Some(url) = &s.url {
            IscsiUrl::parse_with_env(url, anything)
                .map_err(|error| self.invalid("url", error.to_string()))?;
        }
        if let Some(portal) = &s.portal {
            Portal::parse(portal).map_err(|error| self.invalid("portal", error.to_string()))?;
        }
        if let Some(lun) = s.lun {
            if lun > MAX_LUN {
                return Err(self.invalid("lun", format!("{lun} is over {MAX_LUN}")));
            }
        }
        if let Some(target) = &s.target {
            IscsiUrl::parse_with_env(&super::url_text("h", target, 0), anything)
                .map_err(|error| self.invalid("target", error.reason.to_string()))?;
        }
        if let Some(name) = &s.initiator_name {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                return Err(self.invalid("initiator_name", "is not an iSCSI name"));
            }
        }
        if let Some(queues) = s.queues {
            if !(1..=limits::MAX_QUEUES).contains(&queues) {
                return Err(self.invalid(
                    "queues",
                    format!("{queues} is not in 1..={}", limits::MAX_QUEUES),
                ));
            }
        }
        if let Some(depth) = s.depth {
            if !(1..=limits::MAX_DEPTH).contains(&depth) {
                return Err(self.invalid(
                    "depth",
                    format!("{depth} is not in 1..={}", limits::MAX_DEPTH),
                ));
            }
        }
        if let Some(bytes) = s.max_io_buf_bytes {
            limits::check_io_buf_bytes("max_io_buf_bytes", bytes)
                .map_err(|message| self.invalid("max_io_buf_bytes", message))?;
        }
        if let Some(number) = s.number {
            if number < -1 {
                return Err(self.invalid("number", "is a device id, or -1 for any"));
            }
        }
        if let Some(timeouts) = &s.timeouts {
            timeouts.check().map_err(|error| {
                let key = format!("timeouts.{}", error.field);
                self.invalid(&key, "must be at least 1 second")
            })?;
        }
        for (secret, file) in [
            ("chap_secret", "chap_secret_file"),
            ("target_chap_secret", "target_chap_secret_file"),
        ] {
            if self.has(secret) && self.has(file) {
                return Err(self.invalid(file, format!("give either {secret} or {file}")));
            }
        }
        // A file holding a secret itself must be as private as a secret file.
        let url_password = s.url.as_deref().is_some_and(|url| {
            password_spans(url)
                .iter()
                .any(|span| !span.range.is_empty())
        });
        let inline = [
            ("chap_secret", s.chap_secret.is_some()),
            ("target_chap_secret", s.target_chap_secret.is_some()),
            ("url", url_password),
        ];
        if let Some((key, _)) = inline.iter().find(|(_, given)| *given) {
            if too_open(mode) {
                return Err(self.invalid(
                    key,
                    format!(
                        "the file holds a secret but is mode {mode:04o}: group or others can \
                         read it (chmod 600 {})",
                        self.path.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The secret given by `key` or read from the file `file_key` names (relative to this
    /// file's directory). A secret file must be readable by its owner alone; one trailing
    /// newline is not part of the secret.
    fn secret(
        &self,
        key: &str,
        inline: &Option<SecretText>,
        file_key: &str,
        file: &Option<PathBuf>,
    ) -> Result<Option<Zeroizing<String>>, ConfigError> {
        if let Some(secret) = inline {
            if secret.0.is_empty() || secret.0.chars().any(char::is_control) {
                return Err(self.invalid(key, "is empty or holds a control character"));
            }
            return Ok(Some(secret.0.clone()));
        }
        let Some(file) = file else {
            return Ok(None);
        };
        let path = match self.path.parent() {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file.clone(),
        };
        let fail = |message: String| self.invalid(file_key, message);
        let mut opened = fs::File::open(&path)
            .map_err(|error| fail(format!("cannot read {}: {error}", path.display())))?;
        let metadata = opened
            .metadata()
            .map_err(|error| fail(format!("cannot read {}: {error}", path.display())))?;
        let mode = metadata.permissions().mode() & 0o7777;
        if too_open(mode) {
            return Err(fail(format!(
                "refusing to read {}: it is mode {mode:04o}, so group or others can read it \
                 (chmod 600 it)",
                path.display()
            )));
        }
        let mut text = Zeroizing::new(String::new());
        opened
            .read_to_string(&mut text)
            .map_err(|error| fail(format!("cannot read {}: {error}", path.display())))?;
        let secret = text
            .strip_suffix('\n')
            .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
            .unwrap_or(&text);
        if secret.is_empty() || secret.chars().any(char::is_control) {
            return Err(fail(format!(
                "{} is empty or holds a control character (a secret is one line)",
                path.display()
            )));
        }
        Ok(Some(Zeroizing::new(secret.to_owned())))
    }

    /// The value this file gives for one of libiscsi's CHAP variables.
    pub(crate) fn chap(&self, name: &str) -> Option<String> {
        let s = &self.settings;
        match name {
            env_vars::CHAP_USERNAME => s.chap_user.clone(),
            env_vars::CHAP_PASSWORD => self.chap_secret.as_deref().cloned(),
            env_vars::CHAP_TARGET_USERNAME => s.target_chap_user.clone(),
            env_vars::CHAP_TARGET_PASSWORD => self.target_chap_secret.as_deref().cloned(),
            _ => None,
        }
    }

    /// `startup`, `manual` unless set.
    pub(crate) fn startup(&self) -> Startup {
        self.settings.startup.unwrap_or_default()
    }
}
