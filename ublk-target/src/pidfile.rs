//! ublksrv's per-device record, `/run/ublksrvd/<id>.pid`, which ublksrv's `ublk list`, `del`
//! and `recover` read:
//!
//! ```text
//! offset 0   the daemon's pid as decimal text, "\n", NUL padding up to byte 32
//! offset 32  JSON: {"dev_info":{...}, "params":{...}, "queues":{"0":{"qid","tid","affinity"}},
//!                   "target":{"name","type","dev_size", ...target data}}, then a NUL
//! ```
//!
//! The file is mode 0600, but holds no secret: ublksrv's `ublk list` prints the JSON as it
//! is. The URL is kept without its passwords (user names stay); `recover` finds the CHAP
//! secrets again in the configuration file named here or in the environment.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use libublk::sys;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use thiserror::Error;

use crate::config::SecretSource;
use crate::supervisor::TimeoutSettings;

/// Where ublksrv keeps its records.
pub(crate) const RUN_DIR: &str = "/run/ublksrvd";
/// Byte offset of the JSON.
pub(crate) const JSON_OFFSET: usize = 32;

/// The record of device `dev_id` in `dir`.
pub fn path(dir: &Path, dev_id: u32) -> PathBuf {
    dir.join(format!("{dev_id}.pid"))
}

/// A record that cannot be read.
#[derive(Debug, Error)]
pub(crate) enum RecordError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: no pid in the first {JSON_OFFSET} bytes")]
    NoPid { path: PathBuf },
    #[error("{path}: the JSON at byte {JSON_OFFSET} does not parse: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: the JSON has no {field}")]
    Missing { path: PathBuf, field: &'static str },
}

/// One queue's line in the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueRecord {
    pub qid: u16,
    pub tid: i32,
    /// CPUs as ublksrv writes them: "0 1 ".
    pub affinity: String,
}

/// Our target data: what `recover` needs to bring the device back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TargetRecord {
    /// ublksrv's target name: `ublk recover` execs `ublk.<name>`.
    pub name: String,
    #[serde(rename = "type")]
    pub target_type: String,
    pub dev_size: u64,
    /// The URL without its passwords (a record written by an older daemon may have them).
    pub url: String,
    pub initiator_name: String,
    /// Whether the device was created with `-z`.
    #[serde(default)]
    pub zero_copy: bool,
    /// Supervision timeouts, kept for `ublk recover`.
    #[serde(default)]
    pub timeouts: TimeoutSettings,
    /// The LU's VPD 0x83 designator: `ublk recover` and every relogin must find it again.
    #[serde(default)]
    pub device_id: Option<String>,
    /// The configuration file the device was created from: `recover` reads its CHAP secrets
    /// there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<PathBuf>,
    /// Where the CHAP secrets came from, so `recover` can say where to give them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_source: Option<SecretSource>,
}

/// The whole record.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRecord {
    pub pid: i32,
    pub json: Value,
}

impl DeviceRecord {
    /// The record of a live device.
    pub(crate) fn new(
        pid: i32,
        dev_info: &sys::ublksrv_ctrl_dev_info,
        params: &sys::ublk_params,
        queues: &[QueueRecord],
        target: &TargetRecord,
    ) -> DeviceRecord {
        let queues: serde_json::Map<String, Value> = queues
            .iter()
            .map(|q| {
                (
                    q.qid.to_string(),
                    json!({"qid": q.qid, "tid": q.tid, "affinity": q.affinity}),
                )
            })
            .collect();
        DeviceRecord {
            pid,
            json: json!({
                "dev_info": dev_info,
                "params": params,
                "queues": queues,
                "target": target,
            }),
        }
    }

    /// The bytes of the file.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = format!("{}\n", self.pid).into_bytes();
        bytes.resize(JSON_OFFSET.max(bytes.len()), 0);
        bytes.extend_from_slice(self.json.to_string().as_bytes());
        bytes.push(0);
        bytes
    }

    /// Parses the bytes of a file; `path` only names it in errors.
    pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<DeviceRecord, RecordError> {
        let head = &bytes[..bytes.len().min(JSON_OFFSET)];
        let pid = std::str::from_utf8(head)
            .ok()
            .and_then(|text| text.split(['\n', '\0']).next())
            .and_then(|text| text.trim().parse::<i32>().ok())
            .filter(|pid| *pid > 0)
            .ok_or_else(|| RecordError::NoPid {
                path: path.to_owned(),
            })?;
        let rest = bytes.get(JSON_OFFSET..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let json = serde_json::from_slice(&rest[..end]).map_err(|source| RecordError::Json {
            path: path.to_owned(),
            source,
        })?;
        Ok(DeviceRecord { pid, json })
    }

    /// Reads `path`.
    pub(crate) fn read(path: &Path) -> Result<DeviceRecord, RecordError> {
        let bytes = fs::read(path).map_err(|source| RecordError::Io {
            path: path.to_owned(),
            source,
        })?;
        DeviceRecord::decode(path, &bytes)
    }

    /// Writes `path` (mode 0600, replacing any old record).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(&self.encode())?;
        file.sync_all()
    }

    /// The target data, if the record holds ours.
    pub(crate) fn target(&self, path: &Path) -> Result<TargetRecord, RecordError> {
        let value = self
            .json
            .get("target")
            .ok_or_else(|| RecordError::Missing {
                path: path.to_owned(),
                field: "target",
            })?;
        serde_json::from_value(value.clone()).map_err(|source| RecordError::Json {
            path: path.to_owned(),
            source,
        })
    }

    /// The target's name (`target.name`), for any ublksrv target.
    pub(crate) fn target_name(&self) -> Option<&str> {
        self.json.get("target")?.get("name")?.as_str()
    }

    /// Queue `qid`'s thread id and affinity, if recorded.
    pub(crate) fn queue(&self, qid: u16) -> Option<(i64, String)> {
        let queue = self.json.get("queues")?.get(qid.to_string())?;
        let tid = queue.get("tid")?.as_i64()?;
        let affinity = queue
            .get("affinity")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Some((tid, affinity))
    }
}

/// CPUs of a set the way ublksrv lists them: each number followed by a space.
pub(crate) fn affinity_string(cpus: impl IntoIterator<Item = usize>) -> String {
    cpus.into_iter().map(|cpu| format!("{cpu} ")).collect()
}

#[cfg(test)]
mod tests;
