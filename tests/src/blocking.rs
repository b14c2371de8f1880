//! A blocking iSCSI initiator over `std::net`, for integration tests of the sans-I/O core.
//!
//! It is deliberately simple (one thread, one connection, copies into per-task `Vec`s): the
//! product's data path is the io_uring engine in `t3-hw`. What this exercises is the protocol
//! core against a real target: login, negotiation, CHAP, digests, the CmdSN window, R2T,
//! multi-PDU Data-In and Data-Out.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use iscsi_proto::chap::ChapCredentials;
use iscsi_proto::digest::{self, Digests};
use iscsi_proto::discovery::{parse_send_targets_response, send_targets_request, DiscoveredTarget};
use iscsi_proto::login::{random_isid, Login, LoginConfig, LoginError, LoginStep};
use iscsi_proto::negotiation::{OperationalConfig, SessionParams, SessionType};
use iscsi_proto::pdu::{self, decode_pdu, encode_pdu, Pdu, PduError};
use iscsi_proto::scsi::{DataDirection, ScsiRequest};
use iscsi_proto::session::{
    Command, Direction, Event, OutData, OutPdu, Received, Segment, Session, SessionError,
    SubmitError, TaskOutcome,
};

/// Anything that ends an exchange of the blocking initiator (login, discovery, a command).
#[derive(Debug, thiserror::Error)]
pub enum BlockingInitiatorError {
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    #[error("PDU: {0}")]
    Pdu(#[from] PduError),
    #[error("login: {0}")]
    Login(#[from] LoginError),
    #[error("session: {0}")]
    Session(#[from] SessionError),
    #[error("submit: {0}")]
    Submit(#[from] SubmitError),
    #[error("discovery: {0}")]
    Discovery(#[from] iscsi_proto::discovery::DiscoveryError),
    #[error("connection closed by the target")]
    Closed,
    #[error("unexpected: {0}")]
    Unexpected(String),
}

/// Who we are and how we log in.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub initiator_name: String,
    pub chap: Option<ChapCredentials>,
    pub mutual_chap: Option<ChapCredentials>,
    pub operational: OperationalConfig,
    /// The session's ISID; a random one when `None`. Logging in again with the same ISID
    /// (and TSIH 0) reinstates the session.
    pub isid: Option<[u8; 6]>,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            initiator_name: "iqn.2026-11.org.ublk-cxgb3i:tests".into(),
            chap: None,
            mutual_chap: None,
            operational: OperationalConfig::default(),
            isid: None,
        }
    }
}

/// The result of one SCSI command.
#[derive(Debug, Clone)]
pub struct Completed {
    pub outcome: TaskOutcome,
    /// Data-In bytes (read commands), truncated to what arrived.
    pub data: Vec<u8>,
}

/// One logged-in connection.
#[derive(Debug)]
pub struct BlockingInitiator {
    stream: TcpStream,
    rx: Vec<u8>,
    digests: Digests,
    max_recv: u32,
    session: Session,
    /// Per-task buffers: Data-Out source and Data-In destination.
    buffers: HashMap<u32, Vec<u8>>,
    done: HashMap<u32, TaskOutcome>,
    next_itt: u32,
    text: HashMap<u32, Vec<(String, String)>>,
    events: Vec<Event>,
    logged_out: bool,
    /// Count of PDUs received, by opcode, for tests that must show a path was taken.
    pub received: HashMap<pdu::Opcode, u64>,
}

const LOGIN_MAX_RECV: u32 = 65536;

fn connect(portal: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&portal, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn read_pdu(
    stream: &mut TcpStream,
    rx: &mut Vec<u8>,
    digests: Digests,
    max: u32,
) -> Result<Pdu, BlockingInitiatorError> {
    loop {
        if let Some((pdu, used)) = decode_pdu(rx, digests, max)? {
            rx.drain(..used);
            return Ok(pdu);
        }
        let mut chunk = [0u8; 65536];
        // With SO_RCVTIMEO set, Linux fails a read with EINTR after any signal, even a
        // stop/continue with no handler (signal(7)); that is no reason to give up.
        let n = match stream.read(&mut chunk) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            result => result?,
        };
        if n == 0 {
            return Err(BlockingInitiatorError::Closed);
        }
        rx.extend_from_slice(&chunk[..n]);
    }
}

/// Runs a login on a fresh connection.
fn login(
    portal: SocketAddr,
    creds: &Credentials,
    target: Option<&str>,
    session_type: SessionType,
) -> Result<(TcpStream, Vec<u8>, iscsi_proto::login::LoginOutcome), BlockingInitiatorError> {
    let mut rng = rand::thread_rng();
    let mut stream = connect(portal)?;
    let isid = creds.isid.unwrap_or_else(|| random_isid(&mut rng, 0));
    let config = LoginConfig {
        target_name: target.map(str::to_owned),
        session_type,
        chap: creds.chap.clone(),
        mutual_chap: creds.mutual_chap.clone(),
        operational: creds.operational.clone(),
        ..LoginConfig::discovery(&creds.initiator_name, isid)
    };
    let (mut login, first) = Login::start(config)?;
    stream.write_all(&encode_pdu(&first, Digests::NONE)?)?;
    let mut rx = Vec::new();
    loop {
        let response = read_pdu(&mut stream, &mut rx, Digests::NONE, LOGIN_MAX_RECV)?;
        match login.handle(&response, &mut rng)? {
            LoginStep::Send(next) => stream.write_all(&encode_pdu(&next, Digests::NONE)?)?,
            LoginStep::Complete(outcome) => return Ok((stream, rx, outcome)),
        }
    }
}

/// SendTargets=All on a discovery session, then logout.
pub fn discover(
    portal: SocketAddr,
    creds: &Credentials,
) -> Result<Vec<DiscoveredTarget>, BlockingInitiatorError> {
    let (stream, rx, outcome) = login(portal, creds, None, SessionType::Discovery)?;
    let mut initiator = BlockingInitiator::from_login(stream, rx, outcome);
    initiator
        .session
        .text_request(0x10, &send_targets_request())?;
    let pairs = loop {
        initiator.pump_once()?;
        if let Some(pairs) = initiator.take_text(0x10) {
            break pairs;
        }
    };
    initiator.logout()?;
    Ok(parse_send_targets_response(&pairs)?)
}

impl BlockingInitiator {
    /// Logs in to `target` with a normal session.
    pub fn login(
        portal: SocketAddr,
        creds: &Credentials,
        target: &str,
    ) -> Result<BlockingInitiator, BlockingInitiatorError> {
        let (stream, rx, outcome) = login(portal, creds, Some(target), SessionType::Normal)?;
        Ok(BlockingInitiator::from_login(stream, rx, outcome))
    }

    fn from_login(
        stream: TcpStream,
        rx: Vec<u8>,
        outcome: iscsi_proto::login::LoginOutcome,
    ) -> BlockingInitiator {
        let digests = Digests {
            header: outcome.params.header_digest,
            data: outcome.params.data_digest,
        };
        BlockingInitiator {
            stream,
            rx,
            digests,
            max_recv: outcome.params.max_recv_data_segment_length,
            session: Session::new(outcome.params, outcome.start),
            buffers: HashMap::new(),
            done: HashMap::new(),
            next_itt: 0x100,
            text: HashMap::new(),
            events: Vec::new(),
            logged_out: false,
            received: HashMap::new(),
        }
    }

    pub fn params(&self) -> &SessionParams {
        self.session.params()
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Submits a command without waiting; returns its ITT.
    pub fn submit(
        &mut self,
        lun: u64,
        request: &ScsiRequest,
        data_out: Option<&[u8]>,
    ) -> Result<u32, BlockingInitiatorError> {
        let itt = self.next_itt;
        self.next_itt += 1;
        let direction = match request.direction {
            DataDirection::None => Direction::None,
            DataDirection::Read => Direction::Read,
            DataDirection::Write => Direction::Write,
        };
        let len = request.transfer_len as usize;
        let buffer = match data_out {
            Some(data) if data.len() == len => data.to_vec(),
            Some(data) => {
                return Err(BlockingInitiatorError::Unexpected(format!(
                    "write data of {} bytes for a {len}-byte transfer",
                    data.len()
                )))
            }
            None => vec![0u8; len],
        };
        self.buffers.insert(itt, buffer);
        self.session.submit(Command {
            itt,
            lun,
            cdb: request.cdb.as_bytes().to_vec(),
            direction,
            data_len: request.transfer_len,
            attr: iscsi_proto::pdu::task_attr::SIMPLE,
        })?;
        Ok(itt)
    }

    /// Waits for a submitted command to finish.
    pub fn wait(&mut self, itt: u32) -> Result<Completed, BlockingInitiatorError> {
        loop {
            if let Some(outcome) = self.done.remove(&itt) {
                let data = self.buffers.remove(&itt).unwrap_or_default();
                return Ok(Completed { outcome, data });
            }
            self.pump_once()?;
        }
    }

    /// TEST UNIT READY until the unit answers GOOD, consuming the UNIT ATTENTION a fresh
    /// I_T nexus reports first (power on / reset). Fails after a few tries.
    pub fn ready(&mut self, lun: u64) -> Result<(), BlockingInitiatorError> {
        let mut last = None;
        for _ in 0..4 {
            let done = self.command(lun, &iscsi_proto::scsi::test_unit_ready(), None)?;
            if matches!(done.outcome, TaskOutcome::Status { status: 0, .. }) {
                return Ok(());
            }
            last = Some(done.outcome);
        }
        Err(BlockingInitiatorError::Unexpected(format!(
            "unit never became ready: {last:?}"
        )))
    }

    /// Submits a command and waits for it.
    pub fn command(
        &mut self,
        lun: u64,
        request: &ScsiRequest,
        data_out: Option<&[u8]>,
    ) -> Result<Completed, BlockingInitiatorError> {
        let itt = self.submit(lun, request, data_out)?;
        self.wait(itt)
    }

    fn send(&mut self, out: OutPdu) -> Result<(), BlockingInitiatorError> {
        let data = match &out.data {
            OutData::None => Vec::new(),
            OutData::Inline(bytes) => bytes.clone(),
            OutData::Task { itt, offset, len } => {
                let buffer = self.buffers.get(itt).ok_or_else(|| {
                    BlockingInitiatorError::Unexpected(format!("no buffer for {itt:#x}"))
                })?;
                buffer[*offset as usize..(*offset + *len) as usize].to_vec()
            }
        };
        let wire = encode_pdu(&Pdu::new(out.header, data), self.digests)?;
        self.stream.write_all(&wire)?;
        Ok(())
    }

    /// Sends everything pending, then reads and handles one PDU.
    fn pump_once(&mut self) -> Result<(), BlockingInitiatorError> {
        while let Some(out) = self.session.poll_transmit() {
            self.send(out)?;
        }
        let pdu = read_pdu(&mut self.stream, &mut self.rx, self.digests, self.max_recv)?;
        *self.received.entry(pdu.header.opcode()).or_default() += 1;
        if let Received::DataIn { itt, offset, len } = self
            .session
            .handle(&pdu.header, Segment::Inline(&pdu.data))?
        {
            let buffer = self.buffers.get_mut(&itt).ok_or_else(|| {
                BlockingInitiatorError::Unexpected(format!("Data-In for {itt:#x}"))
            })?;
            // The session checked offset + len against the task's transfer length, which is
            // this buffer's length.
            buffer[offset as usize..(offset + len) as usize].copy_from_slice(&pdu.data);
        }
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::TaskComplete { itt, outcome, .. } => {
                    self.done.insert(itt, outcome);
                }
                Event::TextResponse { itt, pairs } => {
                    self.text.insert(itt, pairs);
                }
                Event::LoggedOut { .. } => self.logged_out = true,
                other => self.events.push(other),
            }
        }
        while let Some(out) = self.session.poll_transmit() {
            self.send(out)?;
        }
        Ok(())
    }

    fn take_text(&mut self, itt: u32) -> Option<Vec<(String, String)>> {
        self.text.remove(&itt)
    }

    /// Logs out and closes the connection.
    pub fn logout(mut self) -> Result<(), BlockingInitiatorError> {
        self.session.logout(0xffff_0000)?;
        while !self.logged_out {
            self.pump_once()?;
        }
        Ok(())
    }

    /// Events other than completions seen so far (pings, async messages).
    pub fn other_events(&self) -> &[Event] {
        &self.events
    }

    /// Digests in effect after login.
    pub fn digests(&self) -> Digests {
        self.digests
    }

    /// A CRC32C over a buffer, for tests comparing large patterns.
    pub fn checksum(data: &[u8]) -> u32 {
        digest::crc32c(data)
    }
}
