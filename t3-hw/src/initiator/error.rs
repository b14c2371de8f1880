//! Why an iSCSI connection over the engine failed.

use std::net::SocketAddr;

use iscsi_proto::login::LoginError;
use iscsi_proto::pdu::PduError;
use iscsi_proto::session::{SessionError, SubmitError};
use thiserror::Error;

use crate::engine::{PostError, ReserveError, TaskBufferError};
use crate::tag::TagError;

/// A connection failure or a refused request. Failures end the connection (ERL 0); its
/// outstanding tasks are kept for the owner to reissue on a new one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnError {
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
    #[error("the connection is not logged in")]
    NotLoggedIn,
    #[error("request refused: {0}")]
    Submit(SubmitError),
    #[error("offload engine refused a work request: {0}")]
    Post(#[from] PostError),
    #[error("no ITT for the task: {0}")]
    Reserve(#[from] ReserveError),
    #[error("no ITT for the task: {0}")]
    Tag(#[from] TagError),
    #[error("task buffer: {0}")]
    TaskBuffer(#[from] TaskBufferError),
    #[error("PDU for the offload queue: {0}")]
    WorkRequest(#[from] crate::wr::PduRefError),
    #[error("{0}")]
    Protocol(String),
}

fn errno_text(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno.abs()).to_string()
}
