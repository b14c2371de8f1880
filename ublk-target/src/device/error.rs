//! Why a device could not be created, served or recovered: one line each, for stderr.

use iscsi_proto::chap::CredentialRole;
use iscsi_proto::login::LoginError;
use iscsi_proto::url::env_vars;
use libublk::UblkError;
use t3_hw::initiator::{ClientError, ConnFailure};
use thiserror::Error;

use super::probe::ProbeFailure;
use crate::config::{ConfigError, SecretSource};
use crate::params::ParamsError;
use crate::pidfile::RecordError;
use crate::queue::QueueError;
use crate::supervisor::DropReason;

#[derive(Debug, Error)]
pub(crate) enum DeviceError {
    #[error("{0}")]
    Probe(#[from] ProbeFailure),
    #[error("the target presents another LU under this URL (VPD 0x83 {found}, the device's is {expected}): not recovering onto it")]
    WrongLu { expected: String, found: String },
    #[error("{0}")]
    Params(#[from] ParamsError),
    #[error("device id {0} is already in use")]
    IdInUse(i32),
    #[error("cannot create the ublk device: {0}")]
    Create(String),
    #[error("cannot {action}: {}", describe(.error))]
    Control {
        action: &'static str,
        error: UblkError,
    },
    #[error("the URL cannot be stored for recovery: {0}")]
    Url(iscsi_proto::url::UrlError),
    #[error("queue {qid}: {error}")]
    QueueLogin { qid: u16, error: QueueError },
    #[error("queue {0} ended before logging in")]
    QueueEnded(u16),
    #[error("the queue threads are gone")]
    QueuesGone,
    #[error("cannot start a queue thread: {0}")]
    Thread(std::io::Error),
    #[error("{0}")]
    Record(#[from] RecordError),
    #[error("the recorded URL does not parse: {0}")]
    RecordUrl(String),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{}", recover_secret_message(*.dev_id, *.role, *.given_by))]
    RecoverSecret {
        dev_id: u32,
        role: CredentialRole,
        given_by: Option<SecretSource>,
    },
    #[error("device {0} was not created with user recovery (-r 1)")]
    NotRecoverable(u32),
    #[error("the device uses zero copy but the target now negotiates DataDigest")]
    ZeroCopyWithDigest,
    #[error(
        "zero copy needs DDP for every read at once, and {depth} requests of \
         {io_buf_bytes} bytes need more page pods than a queue has: lower -d or \
         --max_io_buf_bytes"
    )]
    ZeroCopyPods { depth: u16, io_buf_bytes: u32 },
}

/// Login status class 2: the initiator's fault (authentication, authorization, no such
/// target, removed, ...), which a retry repeats.
const LOGIN_STATUS_INITIATOR_ERROR: u8 = 0x02;

/// Whether a login failure would fail the same way on a retry: the target refused us for what
/// we are or sent, rather than being unreachable or busy.
fn login_error_is_permanent(error: &LoginError) -> bool {
    match error {
        LoginError::Refused { class, .. } => *class == LOGIN_STATUS_INITIATOR_ERROR,
        LoginError::AuthMethod { .. }
        | LoginError::Chap(_)
        | LoginError::MissingTargetName
        | LoginError::MutualWithoutInitiator => true,
        _ => false,
    }
}

/// See [`login_error_is_permanent`].
fn client_error_is_permanent(error: &ClientError) -> bool {
    match error {
        ClientError::Conn(ConnFailure::Login(login)) => login_error_is_permanent(login),
        _ => false,
    }
}

impl QueueError {
    /// See [`DeviceError::is_permanent`].
    fn is_permanent(&self) -> bool {
        match self {
            QueueError::Conn(ConnFailure::Login(login)) => login_error_is_permanent(login),
            QueueError::WrongLu | QueueError::Dropped(DropReason::WrongLu) => true,
            _ => false,
        }
    }
}

impl ProbeFailure {
    /// See [`DeviceError::is_permanent`].
    fn is_permanent(&self) -> bool {
        match self {
            ProbeFailure::Resolve { .. } | ProbeFailure::Probe { .. } => false,
            ProbeFailure::Connect(error) | ProbeFailure::Login { source: error, .. } => {
                client_error_is_permanent(error)
            }
            ProbeFailure::Lun(_) | ProbeFailure::NoSuchLun { .. } => true,
        }
    }
}

impl DeviceError {
    /// Whether trying again cannot help: the configuration, the credentials, the LU or the
    /// device are wrong, rather than the network or the target's state. A service manager
    /// restarts after the others (the exit status tells it which: see
    /// `cli::EXIT_PERMANENT_FAILURE`).
    pub(crate) fn is_permanent(&self) -> bool {
        match self {
            DeviceError::Probe(failure) => failure.is_permanent(),
            DeviceError::QueueLogin { error, .. } => error.is_permanent(),
            DeviceError::Control { .. }
            | DeviceError::QueueEnded(_)
            | DeviceError::QueuesGone
            | DeviceError::Thread(_) => false,
            DeviceError::WrongLu { .. }
            | DeviceError::Params(_)
            | DeviceError::IdInUse(_)
            | DeviceError::Create(_)
            | DeviceError::Url(_)
            | DeviceError::Record(_)
            | DeviceError::RecordUrl(_)
            | DeviceError::Config(_)
            | DeviceError::RecoverSecret { .. }
            | DeviceError::NotRecoverable(_)
            | DeviceError::ZeroCopyWithDigest
            | DeviceError::ZeroCopyPods { .. } => true,
        }
    }

    /// A control command that failed.
    pub(crate) fn control(action: &'static str, error: UblkError) -> DeviceError {
        DeviceError::Control { action, error }
    }

    /// The error of ADD_DEV for `dev_id`.
    pub(crate) fn create(dev_id: i32, error: UblkError) -> DeviceError {
        match error {
            UblkError::UringIOError(errno) | UblkError::OtherError(errno)
                if errno == -libc::EEXIST =>
            {
                DeviceError::IdInUse(dev_id)
            }
            other => DeviceError::Create(describe(&other)),
        }
    }
}

/// Where `recover` can find a secret the record does not keep.
fn recover_secret_message(
    dev_id: u32,
    role: CredentialRole,
    source: Option<SecretSource>,
) -> String {
    let variable = match role {
        CredentialRole::Initiator => env_vars::CHAP_PASSWORD,
        CredentialRole::Target => env_vars::CHAP_TARGET_PASSWORD,
    };
    let key = match role {
        CredentialRole::Initiator => "chap_secret_file",
        CredentialRole::Target => "target_chap_secret_file",
    };
    let why = match source {
        Some(SecretSource::CommandLine) => format!(
            "device {dev_id} was created with its {role} CHAP secret on the command line, \
             which keeps it nowhere"
        ),
        Some(SecretSource::Environment) => format!(
            "device {dev_id} was created with its {role} CHAP secret from the environment, \
             which is not set now"
        ),
        _ => format!("no {role} CHAP secret for device {dev_id} is to be found"),
    };
    format!(
        "{why}: give it in {variable}, or in a configuration file's {} or {key} \
         (`recover --config FILE`)",
        key.trim_end_matches("_file")
    )
}

/// libublk's errors, readable.
pub(crate) fn describe(error: &UblkError) -> String {
    match error {
        UblkError::UringIOError(errno) | UblkError::OtherError(errno) => {
            std::io::Error::from_raw_os_error(errno.abs()).to_string()
        }
        UblkError::IOError(error) => error.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
