//! A blocking client on its own io_uring: an engine, its connections, and task buffers. The
//! command-line tools (discover, probe, perf) and the integration tests use it; the ublk device
//! drives `IscsiConn` from its queue loop instead.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use iscsi_proto::login::LoginConfig;
use iscsi_proto::session::Direction;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::buffers::AlignedBuf;
use super::{ConnEvent, ConnFailure, IscsiConn, RequestRefused};
use crate::engine::driver::OwnedRing;
use crate::engine::{Engine, EngineConfig};
use crate::ppm::PpmConfigError;

/// A SCSI command for a task: what `submit` and `command` take.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec<'a> {
    pub lun: u64,
    pub cdb: &'a [u8],
    pub direction: Direction,
    pub data_len: u32,
}

impl<'a> CommandSpec<'a> {
    /// The command a SCSI request builder produced, for `lun`.
    pub fn new(lun: u64, request: &'a iscsi_proto::scsi::ScsiRequest) -> CommandSpec<'a> {
        use iscsi_proto::scsi::DataDirection;
        CommandSpec {
            lun,
            cdb: request.cdb.as_bytes(),
            direction: match request.direction {
                DataDirection::None => Direction::None,
                DataDirection::Read => Direction::Read,
                DataDirection::Write => Direction::Write,
            },
            data_len: request.transfer_len,
        }
    }
}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("io_uring: {0}")]
    Io(#[from] io::Error),
    #[error("engine: {0}")]
    Driver(#[from] crate::engine::driver::DriverError),
    #[error("page-pod region: {0}")]
    Ppm(#[from] PpmConfigError),
    /// A connection refused the request; the task is idle again.
    #[error("{0}")]
    Refused(#[from] RequestRefused),
    /// The connection failed (its tasks are idle again).
    #[error("{0}")]
    Conn(#[from] ConnFailure),
    #[error("timed out after {0:?} waiting for {1}")]
    TimedOut(Duration, &'static str),
    #[error("task {0} does not exist or is busy")]
    TaskBusy(u32),
}

struct Task {
    buffer: AlignedBuf,
    busy: bool,
}

/// Connections and task buffers on one engine and one ring, driven by the calling thread.
pub struct Client {
    ring: OwnedRing,
    conns: Vec<IscsiConn>,
    tasks: Vec<Task>,
    events: VecDeque<(usize, ConnEvent)>,
    rng: StdRng,
}

impl Client {
    /// An engine with `config` on a ring of `ring_entries` entries.
    pub fn new(config: EngineConfig, ring_entries: u32) -> Result<Client, ClientError> {
        let engine = Engine::new(config)?;
        Ok(Client {
            ring: OwnedRing::new(engine, ring_entries)?,
            conns: Vec::new(),
            tasks: Vec::new(),
            events: VecDeque::new(),
            rng: StdRng::from_entropy(),
        })
    }

    pub fn engine(&self) -> &Engine {
        self.ring.engine()
    }

    pub fn conn(&self, conn: usize) -> &IscsiConn {
        &self.conns[conn]
    }

    pub fn conns(&self) -> &[IscsiConn] {
        &self.conns
    }

    /// A connection together with the engine, for requests the client has no shortcut for.
    pub fn conn_mut(&mut self, conn: usize) -> Option<(&mut IscsiConn, &mut Engine)> {
        let engine = self.ring.engine_mut();
        self.conns.get_mut(conn).map(|c| (c, engine))
    }

    /// Adds `count` task buffers of `len` bytes; returns the first new task number.
    pub fn add_tasks(&mut self, count: usize, len: usize) -> u32 {
        let first = self.tasks.len() as u32;
        for i in 0..count {
            let mut buffer = AlignedBuf::new(len);
            let task = first + i as u32;
            // SAFETY: the buffer lives in `self.tasks` as long as the engine (both are dropped
            // together, the ring first), and userspace touches it only while the task is idle
            // (`buffer`/`buffer_mut` refuse busy tasks).
            unsafe {
                self.ring.engine_mut().register_task_buffer(
                    task,
                    buffer.as_mut_slice().as_mut_ptr(),
                    len,
                )
            };
            self.tasks.push(Task {
                buffer,
                busy: false,
            });
        }
        first
    }

    /// An idle task's buffer.
    pub fn buffer(&self, task: u32) -> Result<&[u8], ClientError> {
        match self.tasks.get(task as usize) {
            Some(t) if !t.busy => Ok(t.buffer.as_slice()),
            _ => Err(ClientError::TaskBusy(task)),
        }
    }

    /// An idle task's buffer, to fill before a write.
    pub fn buffer_mut(&mut self, task: u32) -> Result<&mut [u8], ClientError> {
        match self.tasks.get_mut(task as usize) {
            Some(t) if !t.busy => Ok(t.buffer.as_mut_slice()),
            _ => Err(ClientError::TaskBusy(task)),
        }
    }

    /// Opens a connection and starts its login; returns its index.
    pub fn connect(&mut self, peer: SocketAddr, login: LoginConfig) -> Result<usize, ClientError> {
        let index = self.conns.len();
        let conn = IscsiConn::open(self.ring.engine_mut(), index as u32 + 1, peer, login)?;
        self.conns.push(conn);
        Ok(index)
    }

    /// Connects and waits until logged in. A login that fails or times out leaves the
    /// connection aborted and finished.
    pub fn login(
        &mut self,
        peer: SocketAddr,
        login: LoginConfig,
        timeout: Duration,
    ) -> Result<usize, ClientError> {
        let conn = self.connect(peer, login)?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(error) = self.take_failure(conn) {
                return Err(error.into());
            }
            if self.conns[conn].is_logged_in() {
                self.events
                    .retain(|(c, e)| !(*c == conn && *e == ConnEvent::LoggedIn));
                return Ok(conn);
            }
            if let Err(error) = self.poll_until(deadline, "login") {
                // Stop the login here: left alone, it would go on answering the target
                // whenever the client is driven again.
                self.conns[conn].abandon(self.ring.engine_mut());
                return Err(error);
            }
        }
    }

    fn take_failure(&mut self, conn: usize) -> Option<ConnFailure> {
        let at = self
            .events
            .iter()
            .position(|(c, e)| *c == conn && matches!(e, ConnEvent::Failed(_)))?;
        match self.events.remove(at) {
            Some((_, ConnEvent::Failed(error))) => Some(error),
            _ => None,
        }
    }

    /// Submits a command for an idle task on connection `conn`.
    pub fn submit(
        &mut self,
        conn: usize,
        task: u32,
        cmd: CommandSpec<'_>,
    ) -> Result<(), ClientError> {
        let slot = self
            .tasks
            .get_mut(task as usize)
            .filter(|t| !t.busy && t.buffer.len() >= cmd.data_len as usize)
            .ok_or(ClientError::TaskBusy(task))?;
        slot.busy = true;
        let result = self.conns[conn].submit(
            self.ring.engine_mut(),
            task,
            cmd.lun,
            cmd.cdb,
            cmd.direction,
            cmd.data_len,
        );
        if let Err(error) = result {
            slot_idle(&mut self.tasks, task);
            return Err(error.into());
        }
        Ok(())
    }

    /// Waits for CQEs once (up to `timeout`) and dispatches every completion; returns the
    /// connection events that resulted, in order.
    pub fn poll(&mut self, timeout: Duration) -> Result<(), ClientError> {
        self.poll_until(Instant::now() + timeout, "events")
            .or_else(|e| match e {
                ClientError::TimedOut(..) => Ok(()),
                other => Err(other),
            })
    }

    /// Drives the ring until a completion produces a connection event, or `deadline` passes.
    /// Completions are handled as their CQEs are routed, so whatever they make the
    /// connections send (and the commands the caller submitted before) leaves in the flush
    /// before the next wait.
    fn poll_until(&mut self, deadline: Instant, what: &'static str) -> Result<(), ClientError> {
        let Client {
            ring,
            conns,
            tasks,
            events,
            rng,
        } = self;
        if dispatch(ring.engine_mut(), conns, tasks, events, rng) > 0 {
            return Ok(());
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return Err(ClientError::TimedOut(Duration::ZERO, what));
        };
        // Only completions of received data produce connection events.
        let result = ring.run_until_received(
            |engine| dispatch(engine, conns, tasks, events, rng) > 0,
            left,
        );
        match result {
            Ok(()) => Ok(()),
            Err(crate::engine::driver::DriverError::TimedOut(d)) => {
                Err(ClientError::TimedOut(d, what))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The next connection event, if one is pending.
    pub fn next_event(&mut self) -> Option<(usize, ConnEvent)> {
        self.events.pop_front()
    }

    /// Waits for the next connection event.
    pub fn wait_event(&mut self, timeout: Duration) -> Result<(usize, ConnEvent), ClientError> {
        if let Some(event) = self.events.pop_front() {
            // The common case under load: no clock read.
            return Ok(event);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            self.poll_until(deadline, "a connection event")?;
        }
    }

    /// Submits and waits for one command; returns its outcome and Data-In byte count.
    pub fn command(
        &mut self,
        conn: usize,
        task: u32,
        cmd: CommandSpec<'_>,
        timeout: Duration,
    ) -> Result<(iscsi_proto::session::TaskOutcome, u32), ClientError> {
        self.submit(conn, task, cmd)?;
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.events.iter().position(|(c, e)| {
                *c == conn
                    && (matches!(e, ConnEvent::TaskDone { task: t, .. } if *t == task)
                        || matches!(e, ConnEvent::Failed(_)))
            });
            if let Some(at) = found {
                match self.events.remove(at) {
                    Some((
                        _,
                        ConnEvent::TaskDone {
                            outcome,
                            data_in_bytes,
                            ..
                        },
                    )) => return Ok((outcome, data_in_bytes)),
                    Some((_, ConnEvent::Failed(error))) => return Err(error.into()),
                    _ => unreachable!("position matched one of the two"),
                }
            }
            self.poll_until(deadline, "a command")?;
        }
    }

    /// Logs out every logged-in connection and waits for them to close.
    pub fn logout_all(&mut self, timeout: Duration) -> Result<(), ClientError> {
        for conn in &mut self.conns {
            if conn.is_logged_in() {
                conn.logout(self.ring.engine_mut())?;
            }
        }
        let deadline = Instant::now() + timeout;
        while !self.conns.iter().all(IscsiConn::is_finished) {
            self.poll_until(deadline, "logout")?;
            while let Some((_, event)) = self.events.pop_front() {
                if let ConnEvent::Failed(error) = event {
                    return Err(error.into());
                }
            }
        }
        Ok(())
    }

    /// The underlying engine, e.g. for its per-connection counters.
    pub fn engine_mut(&mut self) -> &mut Engine {
        self.ring.engine_mut()
    }
}

/// Routes every pending completion to its connection, then collects the connections' events
/// (also those of requests made since the last call: a connection that fails while taking a
/// request reports it as an event); returns how many events resulted.
fn dispatch(
    engine: &mut Engine,
    conns: &mut [IscsiConn],
    tasks: &mut [Task],
    events: &mut VecDeque<(usize, ConnEvent)>,
    rng: &mut StdRng,
) -> usize {
    while let Some(completion) = engine.poll_completion() {
        let Some(conn) = conns.iter_mut().find(|c| c.owns(&completion)) else {
            tracing::debug!(?completion, "completion for no connection");
            continue;
        };
        conn.handle(engine, completion, rng);
    }
    let mut produced = 0;
    for (index, conn) in conns.iter_mut().enumerate() {
        while let Some(event) = conn.poll_event() {
            if let ConnEvent::TaskDone { task, .. } = &event {
                slot_idle(tasks, *task);
            }
            if matches!(event, ConnEvent::Failed(_)) {
                for task in conn.take_outstanding(engine) {
                    slot_idle(tasks, task);
                }
            }
            events.push_back((index, event));
            produced += 1;
        }
    }
    produced
}

fn slot_idle(tasks: &mut [Task], task: u32) {
    if let Some(t) = tasks.get_mut(task as usize) {
        t.busy = false;
    }
}
