//! The full-feature phase of one iSCSI session (one connection, ERL 0), as a pure state machine.
//!
//! The owner submits SCSI commands under ITTs it chooses (the engine puts its DDP tag there),
//! feeds every PDU the target sends through [`Session::handle`], and sends whatever
//! [`Session::poll_transmit`] hands back. Payload never passes through the session: outgoing
//! data is described as ranges of a task's buffer ([`OutData::Task`]) and incoming Data-In is
//! validated and answered with where it belongs ([`Received::DataIn`]), so the owner can place
//! it straight into the I/O buffer.
//!
//! Every unfinished task keeps its CDB, direction and length, so a later session recovery can
//! reissue it on a new connection.

mod error;
mod task;
mod window;

#[cfg(test)]
mod tests;

pub use error::{SessionError, SubmitError};
pub use task::{Direction, Residual, TaskOutcome};

use std::collections::{HashMap, VecDeque};

use crate::negotiation::SessionParams;
use crate::pdu::{
    async_event, logout_reason, tmf, AsyncMessage, DataIn, DataOut, Header, LogoutRequest,
    LogoutResponse, NopIn, NopOut, R2t, Reject, ScsiCommand, ScsiResponse, TaskMgmtRequest,
    TaskMgmtResponse, TextRequest, TextResponse, BHS_LEN, RESERVED_TAG,
};
use crate::serial::Sn;
use crate::text::{self, TextAssembler};
use task::{DataOutPlan, Task};
use window::CmdWindow;

/// Where a SCSI command's data goes and how much there is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub itt: u32,
    pub lun: u64,
    /// 1 to 260 bytes.
    pub cdb: Vec<u8>,
    pub direction: Direction,
    /// Expected data transfer length in bytes (0 for no data).
    pub data_len: u32,
    pub attr: u8,
}

/// The data segment of a PDU the session wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutData {
    None,
    /// Bytes owned by the session (ping data).
    Inline(Vec<u8>),
    /// `len` bytes at `offset` of the buffer of the task with this ITT.
    Task {
        itt: u32,
        offset: u32,
        len: u32,
    },
}

/// A PDU to send: typed header plus a description of its data segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutPdu {
    pub header: Header,
    pub data: OutData,
}

/// The data segment of a received PDU, as the receiver has it.
#[derive(Debug, Clone, Copy)]
pub enum Segment<'a> {
    /// The bytes are here (login/text/sense data, or payload that was not placed directly).
    Inline(&'a [u8]),
    /// The engine already placed this many payload bytes directly into the task's buffer.
    Placed(u32),
}

impl Segment<'_> {
    fn len(&self) -> u32 {
        match self {
            Segment::Inline(d) => d.len() as u32,
            Segment::Placed(n) => *n,
        }
    }
}

/// What the owner must do with a received PDU's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Nothing further: the session consumed it.
    Consumed,
    /// Payload of a Data-In: `len` bytes belong at `offset` of task `itt`'s buffer (already
    /// checked against the task's expected length). Copy it there unless it was placed.
    DataIn { itt: u32, offset: u32, len: u32 },
}

/// What happened, for the owner to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A SCSI task finished; its ITT may be reused.
    TaskComplete {
        itt: u32,
        outcome: TaskOutcome,
        /// Bytes of Data-In received for it.
        data_in_bytes: u32,
    },
    /// A task management request finished.
    TaskMgmtComplete {
        itt: u32,
        function: u8,
        response: u8,
    },
    /// Answer to our NOP-Out ping.
    PingReply { itt: u32, data: Vec<u8> },
    /// The target asks us to log out within `within_secs`.
    LogoutRequested { within_secs: u16 },
    /// The target will drop the connection (or session); reconnect after `time2wait`.
    TargetWillDrop {
        whole_session: bool,
        time2wait: u16,
        time2retain: u16,
    },
    /// A SCSI asynchronous event (sense data, e.g. capacity changed).
    ScsiAsyncEvent { lun: u64, sense: Vec<u8> },
    /// The target wants to renegotiate parameters (not supported: we log out instead).
    NegotiationRequested,
    /// The complete answer to a Text Request.
    TextResponse {
        itt: u32,
        pairs: Vec<(String, String)>,
    },
    /// Our logout finished; the connection can be closed.
    LoggedOut {
        response: u8,
        time2wait: u16,
        time2retain: u16,
    },
}

/// Counters that benchmarks and tests read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    pub commands_sent: u64,
    pub commands_completed: u64,
    pub window_stalls: u64,
    pub data_out_pdus: u64,
    pub data_in_pdus: u64,
    pub r2ts: u64,
}

/// Sequence numbers at the moment the login reached full-feature phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStart {
    /// CmdSN for the first non-immediate command (the last login request's CmdSN).
    pub cmdsn: u32,
    /// StatSN of the final login response.
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
}

/// One full-feature iSCSI session over one connection.
#[derive(Debug)]
pub struct Session {
    params: SessionParams,
    window: CmdWindow,
    expstatsn: Sn,
    tasks: HashMap<u32, Task>,
    /// Non-immediate requests not yet sent because the CmdSN window is closed, in order.
    waiting: VecDeque<Queued>,
    /// Other PDUs ready to go (data, task management, NOP, logout), in order.
    outbox: VecDeque<OutPdu>,
    events: VecDeque<Event>,
    /// Outstanding ITTs of our own non-SCSI requests: task management, pings, logout.
    pending_tmf: HashMap<u32, PendingTmf>,
    pending_pings: HashMap<u32, ()>,
    /// Text requests awaiting (the rest of) their response: the C-bit assembler and the
    /// pairs of earlier responses in the same exchange (F=0 ones).
    pending_text: HashMap<u32, (TextAssembler, Vec<(String, String)>)>,
    logout_itt: Option<u32>,
    stats: SessionStats,
}

/// A task management request awaiting its response.
#[derive(Debug, Clone, Copy)]
struct PendingTmf {
    function: u8,
    /// The task ABORT TASK refers to (the reserved tag otherwise) and the CmdSN it was sent
    /// with: the ITT alone may name a newer task by the time the response comes.
    referenced: u32,
    refcmdsn: Sn,
    lun: u64,
}

/// A non-immediate request waiting for a CmdSN.
#[derive(Debug)]
enum Queued {
    Command(u32),
    /// A Text Request; its CmdSN and ExpStatSN are filled in when it is released.
    Text(TextRequest, Vec<u8>),
}

impl Session {
    pub fn new(params: SessionParams, start: SessionStart) -> Session {
        Session {
            window: CmdWindow::new(start.cmdsn, start.expcmdsn, start.maxcmdsn),
            expstatsn: Sn(start.statsn).next(),
            params,
            tasks: HashMap::new(),
            waiting: VecDeque::new(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            pending_tmf: HashMap::new(),
            pending_pings: HashMap::new(),
            pending_text: HashMap::new(),
            logout_itt: None,
            stats: SessionStats::default(),
        }
    }

    pub fn params(&self) -> &SessionParams {
        &self.params
    }

    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// Commands the target's window admits right now, beyond those already queued.
    pub fn window_room(&self) -> u32 {
        self.window.room().saturating_sub(self.waiting.len() as u32)
    }

    /// Every unfinished SCSI task's ITT, CDB, direction and length: what recovery reissues.
    pub fn unfinished(&self) -> impl Iterator<Item = (u32, &[u8], Direction, u32)> {
        self.tasks
            .iter()
            .map(|(itt, t)| (*itt, t.cdb.as_slice(), t.direction, t.data_len))
    }

    fn itt_in_use(&self, itt: u32) -> bool {
        self.tasks.contains_key(&itt)
            || self.pending_tmf.contains_key(&itt)
            || self.pending_pings.contains_key(&itt)
            || self.pending_text.contains_key(&itt)
            || self.logout_itt == Some(itt)
    }

    fn check_new_itt(&self, itt: u32) -> Result<(), SubmitError> {
        if self.logout_itt.is_some() {
            return Err(SubmitError::LoggingOut);
        }
        if itt == RESERVED_TAG {
            return Err(SubmitError::ReservedItt);
        }
        if self.itt_in_use(itt) {
            return Err(SubmitError::IttInUse(itt));
        }
        Ok(())
    }

    /// Queues a SCSI command. It is sent once the CmdSN window admits it.
    pub fn submit(&mut self, cmd: Command) -> Result<(), SubmitError> {
        self.check_new_itt(cmd.itt)?;
        if cmd.cdb.is_empty() || cmd.cdb.len() > 260 {
            return Err(SubmitError::CdbLength(cmd.cdb.len()));
        }
        if cmd.direction == Direction::None && cmd.data_len != 0 {
            return Err(SubmitError::DataWithoutDirection);
        }
        let task = Task::new(cmd);
        let itt = task.itt;
        self.tasks.insert(itt, task);
        self.waiting.push_back(Queued::Command(itt));
        Ok(())
    }

    /// Queues a Text Request (e.g. SendTargets=All); the whole answer arrives as
    /// [`Event::TextResponse`], continuations fetched on the way.
    pub fn text_request(
        &mut self,
        itt: u32,
        pairs: &[(String, String)],
    ) -> Result<(), SubmitError> {
        self.check_new_itt(itt)?;
        let data = text::encode(pairs).map_err(SubmitError::Text)?;
        if data.len() > self.params.max_xmit_data_segment_length as usize {
            return Err(SubmitError::TextTooLong(data.len()));
        }
        self.pending_text
            .insert(itt, (TextAssembler::new(), Vec::new()));
        self.queue_text(itt, RESERVED_TAG, data);
        Ok(())
    }

    fn queue_text(&mut self, itt: u32, ttt: u32, data: Vec<u8>) {
        let request = TextRequest {
            immediate: false,
            final_: true,
            cont: false,
            lun: 0,
            itt,
            ttt,
            cmdsn: 0,
            expstatsn: 0,
        };
        self.waiting.push_back(Queued::Text(request, data));
    }

    /// The next PDU to send, if any. Call until it returns `None` after any other call.
    pub fn poll_transmit(&mut self) -> Option<OutPdu> {
        if self.outbox.is_empty() {
            self.release_waiting_command();
        }
        let pdu = self.outbox.pop_front()?;
        if let Header::DataOut(d) = &pdu.header {
            // The last Data-Out of a solicited sequence closes that R2T.
            if d.final_ && d.ttt != RESERVED_TAG {
                if let Some(task) = self.tasks.get_mut(&d.itt) {
                    task.r2t_sequence_sent();
                }
            }
        }
        Some(pdu)
    }

    /// Moves the oldest waiting command (and its unsolicited data) to the outbox if the window
    /// is open.
    fn release_waiting_command(&mut self) {
        // A CmdSN taken must go out on a PDU, or the target waits for it forever: drop entries
        // whose task is gone or was already sent before taking one.
        while let Some(Queued::Command(itt)) = self.waiting.front() {
            if self.tasks.get(itt).is_some_and(|t| t.cmdsn.is_none()) {
                break;
            }
            self.waiting.pop_front();
        }
        if self.waiting.is_empty() {
            return;
        }
        let Some(cmdsn) = self.window.take() else {
            self.stats.window_stalls += 1;
            return;
        };
        match self.waiting.pop_front() {
            Some(Queued::Command(itt)) => self.release_command(itt, cmdsn),
            Some(Queued::Text(mut request, data)) => {
                request.cmdsn = cmdsn.0;
                request.expstatsn = self.expstatsn.0;
                let data = if data.is_empty() {
                    OutData::None
                } else {
                    OutData::Inline(data)
                };
                self.outbox.push_back(OutPdu {
                    header: Header::TextRequest(request),
                    data,
                });
            }
            None => {}
        }
    }

    fn release_command(&mut self, itt: u32, cmdsn: Sn) {
        // release_waiting_command only takes a CmdSN for a task that exists and is unsent.
        let Some(task) = self.tasks.get_mut(&itt) else {
            debug_assert!(false, "CmdSN {} taken for vanished task {itt:#x}", cmdsn.0);
            return;
        };
        debug_assert!(task.cmdsn.is_none(), "task {itt:#x} released twice");
        task.cmdsn = Some(cmdsn);
        let plan = DataOutPlan::unsolicited(&self.params, task.direction, task.data_len);
        let mut cdb = [0u8; 16];
        let head = task.cdb.len().min(16);
        cdb[..head].copy_from_slice(&task.cdb[..head]);
        let header = Header::ScsiCommand(ScsiCommand {
            immediate: false,
            final_: plan.unsolicited_data_out == 0,
            read: task.direction == Direction::Read,
            write: task.direction == Direction::Write,
            attr: task.attr,
            lun: task.lun,
            itt,
            expected_len: task.data_len,
            cmdsn: cmdsn.0,
            expstatsn: self.expstatsn.0,
            cdb,
            extended_cdb: task.cdb.get(16..).map(<[u8]>::to_vec).unwrap_or_default(),
            bidi_read_len: None,
        });
        let data = if plan.immediate > 0 {
            OutData::Task {
                itt,
                offset: 0,
                len: plan.immediate,
            }
        } else {
            OutData::None
        };
        self.outbox.push_back(OutPdu { header, data });
        self.stats.commands_sent += 1;
        if plan.unsolicited_data_out > 0 {
            let lun = task.lun;
            self.queue_data_out(
                itt,
                lun,
                RESERVED_TAG,
                plan.immediate,
                plan.unsolicited_data_out,
            );
        }
    }

    /// Splits `len` bytes at `offset` of task `itt` into Data-Out PDUs no larger than the
    /// target's MaxRecvDataSegmentLength; DataSN restarts at 0 for each sequence.
    fn queue_data_out(&mut self, itt: u32, lun: u64, ttt: u32, offset: u32, len: u32) {
        let max_seg = self.params.max_xmit_data_segment_length.max(512);
        let end = offset + len;
        let mut at = offset;
        let mut datasn = 0u32;
        while at < end {
            let chunk = (end - at).min(max_seg);
            self.outbox.push_back(OutPdu {
                header: Header::DataOut(DataOut {
                    final_: at + chunk == end,
                    lun,
                    itt,
                    ttt,
                    expstatsn: self.expstatsn.0,
                    datasn,
                    buffer_offset: at,
                }),
                data: OutData::Task {
                    itt,
                    offset: at,
                    len: chunk,
                },
            });
            self.stats.data_out_pdus += 1;
            at += chunk;
            datasn += 1;
        }
    }

    /// Queues an immediate NOP-Out ping; the reply arrives as [`Event::PingReply`].
    pub fn ping(&mut self, itt: u32, data: Vec<u8>) -> Result<(), SubmitError> {
        self.check_new_itt(itt)?;
        if data.len() > self.params.max_xmit_data_segment_length as usize {
            return Err(SubmitError::PingTooLong(data.len()));
        }
        self.pending_pings.insert(itt, ());
        self.outbox.push_back(OutPdu {
            header: Header::NopOut(NopOut {
                immediate: true,
                lun: 0,
                itt,
                ttt: RESERVED_TAG,
                cmdsn: self.window.next().0,
                expstatsn: self.expstatsn.0,
            }),
            data: if data.is_empty() {
                OutData::None
            } else {
                OutData::Inline(data)
            },
        });
        Ok(())
    }

    /// Queues ABORT TASK for the task `referenced`.
    pub fn abort_task(&mut self, itt: u32, referenced: u32) -> Result<(), SubmitError> {
        let task = self
            .tasks
            .get(&referenced)
            .ok_or(SubmitError::NoSuchTask(referenced))?;
        let (lun, refcmdsn) = (task.lun, task.cmdsn);
        let Some(refcmdsn) = refcmdsn else {
            // Never sent: nothing to abort at the target.
            self.waiting
                .retain(|w| !matches!(w, Queued::Command(c) if *c == referenced));
            self.finish_task(referenced, TaskOutcome::Aborted);
            return Ok(());
        };
        self.task_mgmt(itt, tmf::ABORT_TASK, lun, referenced, refcmdsn)
    }

    /// Queues LOGICAL UNIT RESET for `lun`.
    pub fn lun_reset(&mut self, itt: u32, lun: u64) -> Result<(), SubmitError> {
        self.task_mgmt(itt, tmf::LOGICAL_UNIT_RESET, lun, RESERVED_TAG, Sn(0))
    }

    fn task_mgmt(
        &mut self,
        itt: u32,
        function: u8,
        lun: u64,
        referenced: u32,
        refcmdsn: Sn,
    ) -> Result<(), SubmitError> {
        self.check_new_itt(itt)?;
        self.pending_tmf.insert(
            itt,
            PendingTmf {
                function,
                referenced,
                refcmdsn,
                lun,
            },
        );
        self.outbox.push_back(OutPdu {
            header: Header::TaskMgmtRequest(TaskMgmtRequest {
                immediate: true,
                function,
                lun,
                itt,
                referenced_itt: referenced,
                cmdsn: self.window.next().0,
                expstatsn: self.expstatsn.0,
                refcmdsn: refcmdsn.0,
                expdatasn: 0,
            }),
            data: OutData::None,
        });
        Ok(())
    }

    /// Queues a Logout (close the session). New submissions are refused from now on.
    pub fn logout(&mut self, itt: u32) -> Result<(), SubmitError> {
        self.check_new_itt(itt)?;
        self.logout_itt = Some(itt);
        self.outbox.push_back(OutPdu {
            header: Header::LogoutRequest(LogoutRequest {
                immediate: true,
                reason: logout_reason::CLOSE_SESSION,
                itt,
                cid: 0,
                cmdsn: self.window.next().0,
                expstatsn: self.expstatsn.0,
            }),
            data: OutData::None,
        });
        Ok(())
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Acknowledges a StatSN and takes the CmdSN window update a target response carries.
    fn on_status(&mut self, statsn: u32) {
        if Sn(statsn).gt(self.expstatsn) || Sn(statsn) == self.expstatsn {
            self.expstatsn = Sn(statsn).next();
        }
    }

    /// Handles one PDU from the target. An error means the connection must be dropped
    /// (ERL 0: the session is then recovered by logging in again).
    pub fn handle(
        &mut self,
        header: &Header,
        segment: Segment<'_>,
    ) -> Result<Received, SessionError> {
        match header {
            Header::DataIn(h) => self.on_data_in(h, segment),
            Header::ScsiResponse(h) => self
                .on_scsi_response(h, segment)
                .map(|_| Received::Consumed),
            Header::R2t(h) => self.on_r2t(h).map(|_| Received::Consumed),
            Header::NopIn(h) => self.on_nop_in(h, segment).map(|_| Received::Consumed),
            Header::TaskMgmtResponse(h) => self.on_tmf_response(h).map(|_| Received::Consumed),
            Header::AsyncMessage(h) => self.on_async(h, segment).map(|_| Received::Consumed),
            Header::Reject(h) => self.on_reject(h, segment).map(|_| Received::Consumed),
            Header::LogoutResponse(h) => self.on_logout_response(h).map(|_| Received::Consumed),
            Header::TextResponse(h) => self
                .on_text_response(h, segment)
                .map(|_| Received::Consumed),
            other => Err(SessionError::UnexpectedPdu(other.opcode())),
        }
    }

    fn inline<'a>(segment: Segment<'a>) -> Result<&'a [u8], SessionError> {
        match segment {
            Segment::Inline(d) => Ok(d),
            Segment::Placed(_) => Err(SessionError::PlacedNonPayload),
        }
    }

    /// The task a target PDU refers to. The target can only answer a command it received, so
    /// one for a task still waiting for the CmdSN window is a protocol error: accepting it would
    /// finish the task, and the CmdSN it would have taken is then never sent.
    ///
    /// A task that is no longer listed (completed, or ended by ABORT TASK or LUN RESET) is an
    /// unknown ITT, see [`Session::on_tmf_response`].
    fn sent_task(tasks: &mut HashMap<u32, Task>, itt: u32) -> Result<&mut Task, SessionError> {
        let task = tasks.get_mut(&itt).ok_or(SessionError::UnknownItt(itt))?;
        if task.cmdsn.is_none() {
            return Err(SessionError::NotSent(itt));
        }
        Ok(task)
    }

    fn on_data_in(&mut self, h: &DataIn, segment: Segment<'_>) -> Result<Received, SessionError> {
        self.window.update(h.expcmdsn, h.maxcmdsn);
        self.stats.data_in_pdus += 1;
        let len = segment.len();
        let task = Self::sent_task(&mut self.tasks, h.itt)?;
        task.accept_data_in(h, len)?;
        let placement = Received::DataIn {
            itt: h.itt,
            offset: h.buffer_offset,
            len,
        };
        if h.has_status {
            if !h.final_ {
                return Err(SessionError::StatusWithoutFinal(h.itt));
            }
            if h.overflow && h.underflow {
                return Err(SessionError::BothResiduals(h.itt));
            }
            let residual = Residual::from_flags(h.overflow, h.underflow, h.residual);
            let outcome = task.outcome_for_status(h.status, None, residual)?;
            self.on_status(h.statsn);
            self.finish_task(h.itt, outcome);
        }
        Ok(placement)
    }

    fn on_scsi_response(
        &mut self,
        h: &ScsiResponse,
        segment: Segment<'_>,
    ) -> Result<(), SessionError> {
        let data = Self::inline(segment)?;
        self.window.update(h.expcmdsn, h.maxcmdsn);
        self.on_status(h.statsn);
        if h.overflow && h.underflow {
            return Err(SessionError::BothResiduals(h.itt));
        }
        let task = Self::sent_task(&mut self.tasks, h.itt)?;
        let outcome = if h.response != 0 {
            TaskOutcome::TargetFailure {
                response: h.response,
            }
        } else {
            let sense = task::sense_from_segment(data)?;
            let residual = Residual::from_flags(h.overflow, h.underflow, h.residual);
            task.outcome_for_status(h.status, sense, residual)?
        };
        self.finish_task(h.itt, outcome);
        Ok(())
    }

    fn on_r2t(&mut self, h: &R2t) -> Result<(), SessionError> {
        self.window.update(h.expcmdsn, h.maxcmdsn);
        self.stats.r2ts += 1;
        let max_r2t = self.params.max_outstanding_r2t;
        let max_burst = self.params.max_burst_length;
        let task = Self::sent_task(&mut self.tasks, h.itt)?;
        task.accept_r2t(h, max_burst, u32::from(max_r2t))?;
        let lun = task.lun;
        self.queue_data_out(h.itt, lun, h.ttt, h.buffer_offset, h.desired_len);
        Ok(())
    }

    fn on_nop_in(&mut self, h: &NopIn, segment: Segment<'_>) -> Result<(), SessionError> {
        let data = Self::inline(segment)?;
        self.window.update(h.expcmdsn, h.maxcmdsn);
        if h.itt != RESERVED_TAG {
            // The answer to our ping; it carries a StatSN.
            if self.pending_pings.remove(&h.itt).is_none() {
                return Err(SessionError::UnknownItt(h.itt));
            }
            self.on_status(h.statsn);
            self.events.push_back(Event::PingReply {
                itt: h.itt,
                data: data.to_vec(),
            });
        }
        if h.ttt != RESERVED_TAG {
            // The target pings us: answer with the same TTT and its data.
            self.outbox.push_back(OutPdu {
                header: Header::NopOut(NopOut {
                    immediate: true,
                    lun: h.lun,
                    itt: RESERVED_TAG,
                    ttt: h.ttt,
                    cmdsn: self.window.next().0,
                    expstatsn: self.expstatsn.0,
                }),
                data: if data.is_empty() {
                    OutData::None
                } else {
                    OutData::Inline(data.to_vec())
                },
            });
        }
        Ok(())
    }

    /// A task ended here is forgotten: a Data-In, R2T or SCSI Response for it afterwards is an
    /// unknown ITT, a protocol error that drops the connection, and no data is placed for it.
    /// At ERL 0 that is the right answer, not a case to tolerate: once the target answers a
    /// TMF with "function complete" it sends nothing more for the tasks it ended (RFC 7143
    /// §11.5.1), and whatever it sent for them before that answer arrived before it on the one
    /// TCP connection. So a late PDU means the target broke the protocol, or the ITT is not
    /// the one we think; placing its data could only write into a buffer now given back.
    fn on_tmf_response(&mut self, h: &TaskMgmtResponse) -> Result<(), SessionError> {
        self.window.update(h.expcmdsn, h.maxcmdsn);
        self.on_status(h.statsn);
        let PendingTmf {
            function,
            referenced,
            refcmdsn,
            lun,
        } = self
            .pending_tmf
            .remove(&h.itt)
            .ok_or(SessionError::UnknownItt(h.itt))?;
        // "Function complete" and, for ABORT TASK, "task does not exist" both mean the task is
        // gone at the target; its outstanding responses will not come.
        let done = h.response == 0 || (function == tmf::ABORT_TASK && h.response == 1);
        if done {
            match function {
                // Only the task the request named: if that one completed meanwhile and its ITT
                // went to a new command, the new one is not aborted.
                tmf::ABORT_TASK
                    if self
                        .tasks
                        .get(&referenced)
                        .is_some_and(|t| t.cmdsn == Some(refcmdsn)) =>
                {
                    self.finish_task(referenced, TaskOutcome::Aborted);
                }
                tmf::LOGICAL_UNIT_RESET | tmf::ABORT_TASK_SET | tmf::CLEAR_TASK_SET => {
                    let victims: Vec<u32> = self
                        .tasks
                        .iter()
                        .filter(|(_, t)| t.lun == lun && t.cmdsn.is_some())
                        .map(|(itt, _)| *itt)
                        .collect();
                    for itt in victims {
                        self.finish_task(itt, TaskOutcome::Aborted);
                    }
                }
                _ => {}
            }
        }
        self.events.push_back(Event::TaskMgmtComplete {
            itt: h.itt,
            function,
            response: h.response,
        });
        Ok(())
    }

    fn on_async(&mut self, h: &AsyncMessage, segment: Segment<'_>) -> Result<(), SessionError> {
        let data = Self::inline(segment)?;
        self.window.update(h.expcmdsn, h.maxcmdsn);
        self.on_status(h.statsn);
        let event = match h.event {
            async_event::SCSI_EVENT => Event::ScsiAsyncEvent {
                lun: h.lun,
                sense: task::sense_from_segment(data)?.unwrap_or_default(),
            },
            async_event::LOGOUT_REQUESTED => Event::LogoutRequested {
                within_secs: h.param3,
            },
            async_event::CONNECTION_DROP | async_event::SESSION_DROP => Event::TargetWillDrop {
                whole_session: h.event == async_event::SESSION_DROP,
                time2wait: h.param2,
                time2retain: h.param3,
            },
            async_event::NEGOTIATION_REQUESTED => Event::NegotiationRequested,
            // Vendor-specific and task-termination notices need no action at ERL 0.
            _ => return Ok(()),
        };
        self.events.push_back(event);
        Ok(())
    }

    fn on_reject(&mut self, h: &Reject, segment: Segment<'_>) -> Result<(), SessionError> {
        let data = Self::inline(segment)?;
        self.window.update(h.expcmdsn, h.maxcmdsn);
        self.on_status(h.statsn);
        let rejected: &[u8; BHS_LEN] = data
            .first_chunk()
            .ok_or(SessionError::ShortReject(data.len()))?;
        let itt = u32::from_be_bytes([rejected[16], rejected[17], rejected[18], rejected[19]]);
        let opcode = rejected[0] & 0x3f;
        if opcode == crate::pdu::Opcode::ScsiCommand as u8 && self.tasks.contains_key(&itt) {
            Self::sent_task(&mut self.tasks, itt)?;
            self.finish_task(itt, TaskOutcome::Rejected { reason: h.reason });
            return Ok(());
        }
        // A rejected Data-Out, NOP-Out, TMF or logout at ERL 0 leaves the connection in an
        // unknown state: recover it.
        Err(SessionError::Rejected {
            reason: h.reason,
            opcode,
            itt,
        })
    }

    fn on_text_response(
        &mut self,
        h: &TextResponse,
        segment: Segment<'_>,
    ) -> Result<(), SessionError> {
        let data = Self::inline(segment)?;
        self.window.update(h.expcmdsn, h.maxcmdsn);
        self.on_status(h.statsn);
        if h.final_ && h.cont {
            return Err(SessionError::TextFinalAndContinue(h.itt));
        }
        // An answer to a request (or a continuation fetch) still waiting for its CmdSN.
        if self
            .waiting
            .iter()
            .any(|w| matches!(w, Queued::Text(r, _) if r.itt == h.itt))
        {
            return Err(SessionError::NotSent(h.itt));
        }
        let (assembler, gathered) = self
            .pending_text
            .get_mut(&h.itt)
            .ok_or(SessionError::UnknownItt(h.itt))?;
        if let Some(pairs) = assembler.push(data, h.cont).map_err(SessionError::Text)? {
            gathered.extend(pairs);
        }
        if h.final_ {
            let pairs = self
                .pending_text
                .remove(&h.itt)
                .map(|(_, pairs)| pairs)
                .unwrap_or_default();
            self.events
                .push_back(Event::TextResponse { itt: h.itt, pairs });
            return Ok(());
        }
        // More to come: an empty request with the target's TTT fetches it.
        if h.ttt == RESERVED_TAG {
            return Err(SessionError::TextContinueWithoutTtt(h.itt));
        }
        self.queue_text(h.itt, h.ttt, Vec::new());
        Ok(())
    }

    fn on_logout_response(&mut self, h: &LogoutResponse) -> Result<(), SessionError> {
        self.window.update(h.expcmdsn, h.maxcmdsn);
        self.on_status(h.statsn);
        if self.logout_itt != Some(h.itt) {
            return Err(SessionError::UnknownItt(h.itt));
        }
        self.logout_itt = None;
        self.events.push_back(Event::LoggedOut {
            response: h.response,
            time2wait: h.time2wait,
            time2retain: h.time2retain,
        });
        Ok(())
    }

    fn finish_task(&mut self, itt: u32, outcome: TaskOutcome) {
        if let Some(task) = self.tasks.remove(&itt) {
            self.stats.commands_completed += 1;
            self.events.push_back(Event::TaskComplete {
                itt,
                outcome,
                data_in_bytes: task.data_in_bytes,
            });
        }
    }
}
