//! The cxgb3i initiator: one iSCSI connection carried by the offload engine.
//!
//! This is the layer the Linux driver splits between libcxgbi and libiscsi_tcp: it opens the
//! connection with ACT_OPEN, runs the login over TX_DATA / ISCSI_HDR in plain mode, switches the
//! ULP submode (digests) and DDP page size on with SET_TCB_FIELD once the login is done, reserves
//! a DDP tag for every read so the target's Data-In lands in the task's buffer, and releases the
//! tag when the task completes. The protocol itself is iscsi-proto's sans-I/O login and session;
//! this layer only moves PDUs between them and the engine's queues.

mod buffers;
mod client;
mod error;
pub mod probe;

pub use buffers::{AlignedBuf, TASK_BUFFER_ALIGN};
pub use client::{Client, ClientError, CommandSpec};
pub use error::{ConnFailure, RequestRefused};

use std::collections::VecDeque;
use std::net::SocketAddr;

use iscsi_proto::login::{Login, LoginConfig, LoginStep};
use iscsi_proto::negotiation::SessionParams;
use iscsi_proto::pdu::{Header, Pdu, RESERVED_TAG};
use iscsi_proto::session::{
    Command, Direction, Event, OutData, OutPdu, Received, Segment, Session, TaskOutcome,
};
use rand::RngCore;

use crate::cpl::{Completion, IscsiHdr};
use crate::ddp_status::DdpStatus;
use crate::engine::fast_hash::IdMap;
use crate::engine::Engine;
use crate::tag::{DdpTag, TagError, TagFormat, SW_TASK_TAG_LIMIT};
use crate::tid::Tid;
use crate::wr::{Payload, PduRef, SetTcbField, TxData, UlpSubmode, WorkRequest};

/// Software tags of the connection's own requests (logout, pings, task management, text)
/// live above every task's software tag (any task number, any generation), so their ITTs never
/// collide with a task's.
const HOUSEKEEPING_SW_BASE: u32 = 0x4000_0000;

/// The ITT of the `n`th housekeeping request (`n` wraps at 2^16) under `format`.
fn housekeeping_itt(format: &TagFormat, n: u32) -> Result<u32, TagError> {
    format.make_non_ddp_tag(HOUSEKEEPING_SW_BASE | (n & 0xffff))
}

/// What the owner learns from a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnEvent {
    /// Login finished: commands may be submitted.
    LoggedIn,
    /// A SCSI task finished; its buffer is the owner's again.
    TaskDone {
        task: u32,
        outcome: TaskOutcome,
        data_in_bytes: u32,
    },
    /// A session event other than a task completion (async message, ping reply, text, ...).
    Session(Event),
    /// The connection failed; every task still outstanding is listed by `outstanding_tasks`.
    /// This event is the only way a failure reaches the owner: no call on the connection
    /// returns one (a call that takes nothing returns [`RequestRefused`]).
    Failed(ConnFailure),
    /// Logged out and closed cleanly.
    Closed,
}

#[derive(Debug)]
enum State {
    Connecting,
    LoggingIn(Box<Login>),
    FullFeature(Box<Session>),
    LoggingOut(Box<Session>),
    Closing,
    Closed,
    Failed,
}

/// A task's ITT and the DDP tag behind it, while the task is in flight.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    task: u32,
    ddp: Option<DdpTag>,
}

/// Counters of the initiator layer (the engine counts bytes per connection).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InitiatorStats {
    pub reads_ddp: u64,
    pub reads_not_ddp: u64,
    pub writes: u64,
    /// Payload the engine delivered inline and this layer copied into task buffers.
    pub copied_bytes: u64,
}

impl InitiatorStats {
    /// Adds another connection's counters to these.
    pub fn add(&mut self, other: &InitiatorStats) {
        self.reads_ddp += other.reads_ddp;
        self.reads_not_ddp += other.reads_not_ddp;
        self.writes += other.writes;
        self.copied_bytes += other.copied_bytes;
    }
}

/// One iSCSI connection (and its session: one connection per session, ERL 0).
#[derive(Debug)]
pub struct IscsiConn {
    peer: SocketAddr,
    atid: u32,
    tid: Option<Tid>,
    login_config: Option<LoginConfig>,
    state: State,
    submode: UlpSubmode,
    in_flight: IdMap<u32, InFlight>,
    next_housekeeping: u32,
    events: VecDeque<ConnEvent>,
    /// The target's Time2Wait from our logout's response.
    logout_time2wait: u16,
    /// The session's TSIH, once the target has assigned it (the final login response).
    tsih: Option<u16>,
    stats: InitiatorStats,
}

impl IscsiConn {
    /// Asks the engine to open a connection to `peer`; `atid` names the attempt until the
    /// engine answers with ACT_ESTABLISH (or ACT_OPEN_RPL). A connect that fails arrives as a
    /// [`ConnEvent::Failed`].
    pub fn open(
        engine: &mut Engine,
        atid: u32,
        peer: SocketAddr,
        login: LoginConfig,
    ) -> Result<IscsiConn, RequestRefused> {
        engine.post(WorkRequest::ActOpen {
            atid,
            peer,
            local: None,
        })?;
        Ok(IscsiConn {
            peer,
            atid,
            tid: None,
            login_config: Some(login),
            state: State::Connecting,
            submode: UlpSubmode::default(),
            in_flight: IdMap::default(),
            next_housekeeping: 0,
            events: VecDeque::new(),
            logout_time2wait: 0,
            tsih: None,
            stats: InitiatorStats::default(),
        })
    }

    pub fn atid(&self) -> u32 {
        self.atid
    }

    pub fn tid(&self) -> Option<Tid> {
        self.tid
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn stats(&self) -> InitiatorStats {
        self.stats
    }

    /// The TSIH the target gave the session, once logged in.
    pub fn tsih(&self) -> Option<u16> {
        self.tsih
    }

    /// Whether `completion` belongs to this connection.
    pub fn owns(&self, completion: &Completion) -> bool {
        match completion {
            Completion::ActEstablish { atid, .. } | Completion::ActOpenRpl { atid, .. } => {
                *atid == self.atid && self.tid.is_none()
            }
            other => other.tid().is_some() && other.tid() == self.tid,
        }
    }

    /// The negotiated parameters, once logged in.
    pub fn params(&self) -> Option<&SessionParams> {
        self.session().map(Session::params)
    }

    pub fn session(&self) -> Option<&Session> {
        match &self.state {
            State::FullFeature(s) | State::LoggingOut(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_logged_in(&self) -> bool {
        matches!(self.state, State::FullFeature(_))
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Closed | State::Failed)
    }

    /// Commands the target admits now beyond those already queued.
    pub fn window_room(&self) -> u32 {
        self.session().map_or(0, Session::window_room)
    }

    /// Tasks submitted and not yet done: after a failure, what recovery must reissue.
    pub fn outstanding_tasks(&self) -> impl Iterator<Item = u32> + '_ {
        self.in_flight.values().map(|f| f.task)
    }

    /// Seconds the target asked us to wait before logging in again, from our logout's
    /// response.
    pub fn logout_time2wait(&self) -> u16 {
        self.logout_time2wait
    }

    pub fn poll_event(&mut self) -> Option<ConnEvent> {
        self.events.pop_front()
    }

    /// Submits a SCSI command for `task`, whose buffer is registered with the engine. Reads
    /// get a DDP tag bound to that buffer whenever the page-pod manager grants one.
    ///
    /// `Ok`: the connection took the task; it is the connection's until a
    /// [`ConnEvent::TaskDone`] for it, or until a [`ConnEvent::Failed`] lists it among the
    /// outstanding tasks (which happens also when the command's PDUs cannot be queued).
    /// `Err`: nothing was taken; the task and its buffer are still the caller's.
    pub fn submit(
        &mut self,
        engine: &mut Engine,
        task: u32,
        lun: u64,
        cdb: &[u8],
        direction: Direction,
        data_len: u32,
    ) -> Result<(), RequestRefused> {
        let tid = self.tid.ok_or(RequestRefused::NotLoggedIn)?;
        if !matches!(self.state, State::FullFeature(_)) {
            return Err(RequestRefused::NotLoggedIn);
        }
        let (itt, ddp) = if direction == Direction::Read && data_len > 0 {
            let reservation = engine.reserve_ddp(tid, task, task, data_len)?;
            (reservation.itt, reservation.ddp)
        } else {
            (engine.ppm_mut().reserve_itt(task, None)?.itt, None)
        };
        let State::FullFeature(session) = &mut self.state else {
            return Err(RequestRefused::NotLoggedIn);
        };
        let submitted = session.submit(Command {
            itt,
            lun,
            cdb: cdb.to_vec(),
            direction,
            data_len,
            attr: iscsi_proto::pdu::task_attr::SIMPLE,
        });
        if let Err(error) = submitted {
            if let Some(tag) = ddp {
                let _ = engine.ppm_mut().release(tag);
            }
            return Err(error.into());
        }
        // Counted once the session has taken the command: a refused one is the caller's.
        match direction {
            Direction::Read if data_len > 0 && ddp.is_some() => self.stats.reads_ddp += 1,
            Direction::Read if data_len > 0 => self.stats.reads_not_ddp += 1,
            Direction::Write => self.stats.writes += 1,
            _ => {}
        }
        self.in_flight.insert(itt, InFlight { task, ddp });
        self.flush_or_fail(engine);
        Ok(())
    }

    /// Logs out (after the tasks in flight) and closes the connection. `Ok`: the logout
    /// was taken; it ends in [`ConnEvent::Closed`], or [`ConnEvent::Failed`].
    pub fn logout(&mut self, engine: &mut Engine) -> Result<(), RequestRefused> {
        let itt = self.housekeeping_itt(engine)?;
        match std::mem::replace(&mut self.state, State::Closing) {
            State::FullFeature(mut session) => {
                if let Err(refused) = session.logout(itt) {
                    self.state = State::FullFeature(session);
                    return Err(refused.into());
                }
                self.state = State::LoggingOut(session);
                self.flush_or_fail(engine);
                Ok(())
            }
            other => {
                self.state = other;
                Err(RequestRefused::NotLoggedIn)
            }
        }
    }

    /// Sends an immediate NOP-Out; the reply arrives as a `Session(PingReply)` event.
    pub fn ping(&mut self, engine: &mut Engine) -> Result<u32, RequestRefused> {
        let itt = self.housekeeping_itt(engine)?;
        match &mut self.state {
            State::FullFeature(session) => session.ping(itt, Vec::new())?,
            _ => return Err(RequestRefused::NotLoggedIn),
        }
        self.flush_or_fail(engine);
        Ok(itt)
    }

    /// Sends a Text Request (e.g. SendTargets=All on a discovery session).
    pub fn text_request(
        &mut self,
        engine: &mut Engine,
        pairs: &[(String, String)],
    ) -> Result<u32, RequestRefused> {
        let itt = self.housekeeping_itt(engine)?;
        match &mut self.state {
            State::FullFeature(session) => session.text_request(itt, pairs)?,
            _ => return Err(RequestRefused::NotLoggedIn),
        }
        self.flush_or_fail(engine);
        Ok(itt)
    }

    /// Sends ABORT TASK for `task`'s command; the answer arrives as a
    /// `Session(TaskMgmtComplete)` event with the returned ITT (and, if the task is gone at
    /// the target, a `TaskDone` with an aborted outcome before it). A task still waiting for
    /// the CmdSN window is finished at once, nothing sent.
    pub fn abort_task(&mut self, engine: &mut Engine, task: u32) -> Result<u32, RequestRefused> {
        let referenced = self
            .in_flight
            .iter()
            .find_map(|(itt, f)| (f.task == task).then_some(*itt))
            .ok_or(RequestRefused::NoSuchTask { task })?;
        let itt = self.housekeeping_itt(engine)?;
        match &mut self.state {
            State::FullFeature(session) => session.abort_task(itt, referenced)?,
            _ => return Err(RequestRefused::NotLoggedIn),
        }
        let sent = self
            .drain_session_events(engine)
            .and_then(|()| self.flush(engine));
        if let Err(failure) = sent {
            self.fail(engine, failure);
        }
        Ok(itt)
    }

    /// Sends LOGICAL UNIT RESET for `lun`; the answer arrives as a
    /// `Session(TaskMgmtComplete)` event with the returned ITT, after a `TaskDone` for each
    /// task it ended.
    pub fn lun_reset(&mut self, engine: &mut Engine, lun: u64) -> Result<u32, RequestRefused> {
        let itt = self.housekeeping_itt(engine)?;
        match &mut self.state {
            State::FullFeature(session) => session.lun_reset(itt, lun)?,
            _ => return Err(RequestRefused::NotLoggedIn),
        }
        self.flush_or_fail(engine);
        Ok(itt)
    }

    /// Drops the connection at once (RST); outstanding tasks stay listed for recovery.
    pub fn abort(&mut self, engine: &mut Engine) {
        if let Some(tid) = self.tid {
            if !self.is_finished() {
                let _ = engine.post(WorkRequest::AbortReq { tid });
            }
        }
    }

    /// Gives the connection up: aborts it (RST) and stops it for good, so that nothing it
    /// still receives makes it send again; for a login that timed out. A connection the engine
    /// has not opened yet is aborted as soon as it opens. Unlike [`abort`](Self::abort), no
    /// completion is awaited: the connection is finished at once.
    pub fn abandon(&mut self, engine: &mut Engine) {
        self.abort(engine);
        self.state = State::Failed;
    }

    fn housekeeping_itt(&mut self, engine: &mut Engine) -> Result<u32, RequestRefused> {
        let n = self.next_housekeeping;
        self.next_housekeeping = self.next_housekeeping.wrapping_add(1);
        Ok(housekeeping_itt(engine.ppm().tag_format(), n)?)
    }

    /// Handles one engine completion for this connection (see [`owns`](Self::owns)).
    pub fn handle(&mut self, engine: &mut Engine, completion: Completion, rng: &mut impl RngCore) {
        if self.is_finished() {
            if let Completion::ActEstablish { tid, .. } = completion {
                // Opened after it was abandoned: close it again at once.
                self.tid = Some(tid);
                let _ = engine.post(WorkRequest::AbortReq { tid });
            }
            return;
        }
        if let Err(error) = self.handle_inner(engine, completion, rng) {
            self.fail(engine, error);
        }
    }

    fn fail(&mut self, engine: &mut Engine, error: ConnFailure) {
        // The owner gets the error as an event and decides how loudly to report it.
        tracing::debug!(peer = %self.peer, %error, "iSCSI connection failed");
        if let Some(tid) = self.tid {
            if !matches!(
                error,
                ConnFailure::Aborted { .. } | ConnFailure::Connect { .. } | ConnFailure::PeerClosed
            ) {
                let _ = engine.post(WorkRequest::AbortReq { tid });
            }
        }
        // Tags stay reserved for tasks still listed: the buffers may still receive placed data
        // until the abort completes. They are released when the owner reissues or fails them.
        self.state = State::Failed;
        self.events.push_back(ConnEvent::Failed(error));
    }

    /// Releases the DDP tags of tasks left by a failed connection, once the engine is done with
    /// the connection, and returns those tasks.
    pub fn take_outstanding(&mut self, engine: &mut Engine) -> Vec<u32> {
        self.in_flight
            .drain()
            .map(|(_, f)| {
                if let Some(tag) = f.ddp {
                    let _ = engine.ppm_mut().release(tag);
                }
                f.task
            })
            .collect()
    }

    fn handle_inner(
        &mut self,
        engine: &mut Engine,
        completion: Completion,
        rng: &mut impl RngCore,
    ) -> Result<(), ConnFailure> {
        match completion {
            Completion::ActEstablish { tid, .. } => {
                self.tid = Some(tid);
                let config = self
                    .login_config
                    .take()
                    .ok_or(ConnFailure::EstablishedTwice)?;
                let (login, first) = Login::start(config)?;
                self.state = State::LoggingIn(Box::new(login));
                self.send_pdu(engine, first)
            }
            Completion::ActOpenRpl { status, .. } => Err(ConnFailure::Connect {
                peer: self.peer,
                errno: status.act_open_errno(),
            }),
            Completion::IscsiHdr(hdr) => self.on_pdu(engine, hdr, rng),
            Completion::TxDmaAck { .. } => Ok(()),
            Completion::PeerClose { .. } => {
                if matches!(self.state, State::Closing) {
                    Ok(())
                } else {
                    Err(ConnFailure::PeerClosed)
                }
            }
            Completion::Abort { status, .. } => Err(ConnFailure::Aborted {
                errno: status.abort_errno(matches!(self.state, State::Closing)),
            }),
            Completion::CloseConRpl { .. } | Completion::AbortRpl { .. } => {
                if matches!(self.state, State::Closing) {
                    self.state = State::Closed;
                    self.events.push_back(ConnEvent::Closed);
                }
                Ok(())
            }
        }
    }

    fn on_pdu(
        &mut self,
        engine: &mut Engine,
        hdr: IscsiHdr,
        rng: &mut impl RngCore,
    ) -> Result<(), ConnFailure> {
        // libcxgbi fails the connection on header and data digest errors (ERL 0).
        if hdr.ddp_status.contains(DdpStatus::HDRCRC_ERR) {
            return Err(ConnFailure::HeaderDigest);
        }
        if hdr.ddp_status.contains(DdpStatus::DATACRC_ERR) {
            return Err(ConnFailure::DataDigest);
        }
        let placed = hdr.data_placed();
        let header = hdr.header?;
        match &mut self.state {
            State::LoggingIn(login) => {
                let pdu = Pdu::new(header, hdr.data);
                match login.handle(&pdu, rng)? {
                    LoginStep::Send(next) => self.send_pdu(engine, next),
                    LoginStep::Complete(outcome) => {
                        let tid = self.tid.ok_or(ConnFailure::NotEstablished)?;
                        self.submode = UlpSubmode {
                            header_digest: outcome.params.header_digest,
                            data_digest: outcome.params.data_digest,
                        };
                        // As cxgb3i does after login: digests, then the DDP page size.
                        engine.post(WorkRequest::SetTcbField(SetTcbField::ulp_submode(
                            tid,
                            self.submode,
                        )))?;
                        if let Ok(page_size) = engine.ppm().ddp_page_size() {
                            engine.post(WorkRequest::SetTcbField(SetTcbField::ddp_page_size(
                                tid, page_size,
                            )))?;
                        }
                        self.tsih = Some(outcome.tsih);
                        self.state = State::FullFeature(Box::new(Session::new(
                            outcome.params,
                            outcome.start,
                        )));
                        self.events.push_back(ConnEvent::LoggedIn);
                        Ok(())
                    }
                }
            }
            State::FullFeature(session) | State::LoggingOut(session) => {
                let segment = if placed {
                    Segment::Placed(hdr.data_len)
                } else {
                    Segment::Inline(&hdr.data)
                };
                if let Received::DataIn { itt, offset, len } = session.handle(&header, segment)? {
                    if !placed && len > 0 {
                        let task = self
                            .in_flight
                            .get(&itt)
                            .ok_or(ConnFailure::DataInForNoTask { itt })?
                            .task;
                        engine.copy_to_task(task, offset, &hdr.data)?;
                        self.stats.copied_bytes += u64::from(len);
                    }
                }
                self.drain_session_events(engine)?;
                self.flush(engine)
            }
            State::Connecting | State::Closing => Err(ConnFailure::PduOutsideSession {
                opcode: header.opcode(),
            }),
            State::Closed | State::Failed => Ok(()),
        }
    }

    fn drain_session_events(&mut self, engine: &mut Engine) -> Result<(), ConnFailure> {
        loop {
            let event = match &mut self.state {
                State::FullFeature(s) | State::LoggingOut(s) => s.poll_event(),
                _ => None,
            };
            let Some(event) = event else {
                return Ok(());
            };
            match event {
                Event::TaskComplete {
                    itt,
                    outcome,
                    data_in_bytes,
                } => {
                    let Some(flight) = self.in_flight.remove(&itt) else {
                        continue;
                    };
                    if let Some(tag) = flight.ddp {
                        engine
                            .ppm_mut()
                            .release(tag)
                            .map_err(|source| ConnFailure::ReleaseTag { tag, source })?;
                    }
                    self.events.push_back(ConnEvent::TaskDone {
                        task: flight.task,
                        outcome,
                        data_in_bytes,
                    });
                }
                Event::LoggedOut { time2wait, .. } => {
                    self.logout_time2wait = time2wait;
                    if let Some(tid) = self.tid {
                        engine.post(WorkRequest::CloseCon { tid })?;
                    }
                    self.state = State::Closing;
                }
                other => self.events.push_back(ConnEvent::Session(other)),
            }
        }
    }

    /// Hands every PDU the session wants sent to the engine, after a request was taken: a
    /// PDU that cannot be queued fails the connection, which the owner learns from the event.
    fn flush_or_fail(&mut self, engine: &mut Engine) {
        if let Err(failure) = self.flush(engine) {
            self.fail(engine, failure);
        }
    }

    /// Hands every PDU the session wants sent to the engine.
    fn flush(&mut self, engine: &mut Engine) -> Result<(), ConnFailure> {
        loop {
            let out = match &mut self.state {
                State::FullFeature(s) | State::LoggingOut(s) => s.poll_transmit(),
                _ => None,
            };
            let Some(out) = out else {
                return Ok(());
            };
            self.send_out(engine, out)?;
        }
    }

    fn send_out(&mut self, engine: &mut Engine, out: OutPdu) -> Result<(), ConnFailure> {
        let payload = match out.data {
            OutData::None => Payload::None,
            OutData::Inline(bytes) => Payload::Inline(bytes),
            OutData::Task { itt, offset, len } => {
                let task = self
                    .in_flight
                    .get(&itt)
                    .ok_or(ConnFailure::DataOutForNoTask { itt })?
                    .task;
                Payload::Task { task, offset, len }
            }
        };
        self.post_pdu(engine, &out.header, payload)
    }

    fn send_pdu(&mut self, engine: &mut Engine, pdu: Pdu) -> Result<(), ConnFailure> {
        let payload = if pdu.data.is_empty() {
            Payload::None
        } else {
            Payload::Inline(pdu.data)
        };
        self.post_pdu(engine, &pdu.header, payload)
    }

    fn post_pdu(
        &mut self,
        engine: &mut Engine,
        header: &Header,
        payload: Payload,
    ) -> Result<(), ConnFailure> {
        let tid = self.tid.ok_or(ConnFailure::NotEstablished)?;
        let encoded = header
            .encode(payload.len() as usize)
            .map_err(ConnFailure::Encode)?;
        let mut bytes = Vec::with_capacity(encoded.bhs.len() + encoded.ahs.len());
        bytes.extend_from_slice(&encoded.bhs);
        bytes.extend_from_slice(&encoded.ahs);
        let pdu = PduRef::new(bytes, payload)?;
        engine.post(WorkRequest::TxData(TxData::new(
            tid,
            pdu,
            self.submode,
            false,
        )))?;
        Ok(())
    }
}

// Housekeeping software tags sit above every task's software tag (so above every 16-bit task
// number too) and below 2^31, the limit of a non-DDP tag's software field; so none can equal a
// task's ITT or the reserved tag.
const _: () = assert!(HOUSEKEEPING_SW_BASE >= SW_TASK_TAG_LIMIT);
const _: () = assert!(HOUSEKEEPING_SW_BASE > u16::MAX as u32);
const _: () = assert!(HOUSEKEEPING_SW_BASE + 0xffff < 1 << 31);
const _: () = assert!(HOUSEKEEPING_SW_BASE < RESERVED_TAG);

#[cfg(test)]
mod tests;
