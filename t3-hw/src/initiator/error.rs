//! The two ways a request to an iSCSI connection goes wrong, kept apart so that the type says
//! who owns a command (as quinn separates a stream's `WriteError` from the `ConnectionError`
//! that ends a connection):
//!
//! - [`RequestRefused`]: returned by a call (`open`, `submit`, `ping`, `logout`, task
//!   management, text) that took nothing. The caller still owns the command and its buffer,
//!   and the connection is as it was.
//! - [`ConnFailure`]: why the connection ended (ERL 0). It never comes back from such a call:
//!   it reaches the owner as [`ConnEvent::Failed`](super::ConnEvent::Failed), after which the
//!   tasks the connection took are listed by
//!   [`outstanding_tasks`](super::IscsiConn::outstanding_tasks) for the owner to reissue on a
//!   new one.

use std::net::SocketAddr;

use iscsi_proto::login::LoginError;
use iscsi_proto::pdu::{Opcode, PduError};
use iscsi_proto::session::{SessionError, SubmitError};
use thiserror::Error;

use crate::engine::{PostError, ReserveError, TaskBufferError};
use crate::tag::{DdpTag, TagError};
use crate::wr::PduRefError;

/// A request the connection refused before taking anything: the command (and its buffer)
/// is still the caller's, and the connection carries on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestRefused {
    /// Not in full-feature phase: still logging in, logging out, failed or closed.
    #[error("the connection is not logged in")]
    NotLoggedIn,
    /// The session refused the request (a malformed command, an ITT in use, a logout under
    /// way).
    #[error("the session refused the request: {0}")]
    Session(#[from] SubmitError),
    /// No ITT could be reserved for a task's command.
    #[error("no ITT for the task: {0}")]
    Reserve(#[from] ReserveError),
    /// No ITT could be made for the request.
    #[error("no ITT for the request: {0}")]
    Tag(#[from] TagError),
    /// The offload engine refused the work request (opening a connection).
    #[error("the offload engine refused the work request: {0}")]
    Post(#[from] PostError),
    /// ABORT TASK for a task that has no command on the connection.
    #[error("no command in flight for task {task}")]
    NoSuchTask { task: u32 },
}

/// Why a connection ended. Its tasks stay listed for the owner to reissue on a new one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnFailure {
    #[error("cannot connect to {peer}: {}", errno_text(*.errno))]
    Connect { peer: SocketAddr, errno: i32 },
    #[error("login failed: {0}")]
    Login(#[from] LoginError),
    #[error("protocol error from the target: {0}")]
    Session(#[from] SessionError),
    #[error("malformed PDU from the target: {0}")]
    Pdu(#[from] PduError),
    #[error("header digest mismatch on a received PDU")]
    HeaderDigest,
    #[error("data digest mismatch on a received PDU")]
    DataDigest,
    #[error("the target closed the connection")]
    PeerClosed,
    #[error("connection aborted: {}", errno_text(*.errno))]
    Aborted { errno: i32 },
    /// A PDU arrived while the connection was neither logging in nor in a session.
    #[error("{opcode:?} PDU outside a login or session")]
    PduOutsideSession { opcode: Opcode },
    /// The session accepted inline Data-In for an ITT that no task of the connection has.
    #[error("Data-In for ITT {itt:#x}, which no task in flight has")]
    DataInForNoTask { itt: u32 },
    /// Inline Data-In did not fit the task's buffer.
    #[error("cannot copy Data-In into the task buffer: {0}")]
    TaskBuffer(#[from] TaskBufferError),
    /// The session asked to send a task's data for an ITT that no task of the connection has.
    #[error("data to send for ITT {itt:#x}, which no task in flight has")]
    DataOutForNoTask { itt: u32 },
    /// A PDU to send could not be encoded.
    #[error("cannot encode a PDU to send: {0}")]
    Encode(PduError),
    /// A PDU to send disagrees with itself or its payload.
    #[error("PDU for the offload queue: {0}")]
    TxPdu(#[from] PduRefError),
    /// The offload engine refused a work request the connection needed (a PDU, the digest
    /// and page-size update after the login, the close after a logout).
    #[error("offload engine refused a work request: {0}")]
    Post(#[from] PostError),
    /// The engine reported an open that had already completed.
    #[error("the engine reported the connection established twice")]
    EstablishedTwice,
    /// Something was to be sent before the engine had established the connection.
    #[error("the engine has not established the connection")]
    NotEstablished,
    /// A finished task's DDP tag could not be released.
    #[error("releasing DDP tag {tag:?}: {source}")]
    ReleaseTag { tag: DdpTag, source: TagError },
}

fn errno_text(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno.abs()).to_string()
}
