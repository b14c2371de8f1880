//! Full-feature phase of the hostile target: well-formed answers, except the scenario's.

use std::io::{self, Write};
use std::net::TcpStream;
use std::time::Duration;

use iscsi_proto::pdu::{
    DataIn, Header, LogoutResponse, NopIn, R2t, ScsiCommand, ScsiResponse, RESERVED_TAG,
};

use super::login::{serve_login, LoggedIn, WINDOW};
use super::wire::{bhs_of, read_header, send};
use super::{
    Scenario, SeenCommand, Shared, BEYOND_LEN, CLAIMED_SENSE_LEN, GOOD_BYTE, HOSTILE_BYTE,
    HUGE_DATA_SEGMENT, RESERVED_OPCODE, SENT_SENSE_LEN, UNKNOWN_ITT,
};

/// Largest Data-In the target sends (well under the initiator's MaxRecvDataSegmentLength).
const DATA_IN_CHUNK: usize = 65_536;
/// How much of the huge segment is actually sent.
const HUGE_SENT: usize = 65_536;
/// SCSI status CHECK CONDITION.
const CHECK_CONDITION: u8 = 0x02;
/// A write that blocks this long means the initiator stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

struct Conn<'a> {
    stream: TcpStream,
    scenario: Scenario,
    shared: &'a Shared,
    statsn: u32,
    expcmdsn: u32,
    /// SCSI commands received so far.
    commands: u32,
    /// ITTs of the commands completed well.
    completed: Vec<u32>,
}

/// Serves one connection: login, then commands until the initiator leaves.
pub(super) fn serve(mut stream: TcpStream, scenario: Scenario, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let Some(LoggedIn { statsn, expcmdsn }) = serve_login(&mut stream, scenario, shared)? else {
        // Keep the connection until the initiator gives up on it.
        return drain(&mut stream);
    };
    let mut conn = Conn {
        stream,
        scenario,
        shared,
        statsn,
        expcmdsn,
        commands: 0,
        completed: Vec::new(),
    };
    conn.run()
}

/// Reads and discards until the end of the stream.
fn drain(stream: &mut TcpStream) -> io::Result<()> {
    io::copy(stream, &mut io::sink()).map(|_| ())
}

impl Conn<'_> {
    fn run(&mut self) -> io::Result<()> {
        while let Some((header, data)) = read_header(&mut self.stream)? {
            match header {
                Header::ScsiCommand(cmd) => {
                    if !cmd.immediate {
                        self.expcmdsn = cmd.cmdsn.wrapping_add(1);
                    }
                    self.shared.update(|r| {
                        r.commands.push(SeenCommand {
                            itt: cmd.itt,
                            cmdsn: cmd.cmdsn,
                            expected_len: cmd.expected_len,
                            read: cmd.read,
                            write: cmd.write,
                        });
                    });
                    let nth = self.commands;
                    self.commands += 1;
                    self.on_command(&cmd, nth)?;
                }
                Header::DataOut(_) => {
                    self.shared
                        .update(|r| r.data_out_bytes += data.len() as u64);
                }
                Header::NopOut(ping) if ping.itt != RESERVED_TAG => {
                    let (statsn, expcmdsn, maxcmdsn) = self.status_sns();
                    let reply = Header::NopIn(NopIn {
                        lun: ping.lun,
                        itt: ping.itt,
                        ttt: RESERVED_TAG,
                        statsn,
                        expcmdsn,
                        maxcmdsn,
                    });
                    send(&mut self.stream, reply, &data)?;
                }
                Header::LogoutRequest(logout) => {
                    let (statsn, expcmdsn, maxcmdsn) = self.status_sns();
                    let reply = Header::LogoutResponse(LogoutResponse {
                        itt: logout.itt,
                        statsn,
                        expcmdsn,
                        maxcmdsn,
                        ..LogoutResponse::default()
                    });
                    send(&mut self.stream, reply, &[])?;
                    return drain(&mut self.stream);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// StatSN (used up), ExpCmdSN and MaxCmdSN for a PDU carrying status.
    fn status_sns(&mut self) -> (u32, u32, u32) {
        let statsn = self.statsn;
        self.statsn = self.statsn.wrapping_add(1);
        (
            statsn,
            self.expcmdsn,
            self.expcmdsn.wrapping_add(WINDOW - 1),
        )
    }

    fn misbehaved(&self) {
        self.shared.update(|r| r.misbehaved = true);
    }

    fn on_command(&mut self, cmd: &ScsiCommand, nth: u32) -> io::Result<()> {
        let misbehave_now = match self.scenario {
            Scenario::StaleItt => nth == 1,
            _ => nth == 0,
        };
        if !misbehave_now {
            return self.complete(cmd);
        }
        let len = cmd.expected_len;
        match self.scenario {
            Scenario::ReservedOpcode => {
                let mut bhs = [0u8; 48];
                bhs[0] = RESERVED_OPCODE;
                bhs[1] = 0x80;
                bhs[16..20].copy_from_slice(&cmd.itt.to_be_bytes());
                self.misbehaved();
                self.stream.write_all(&bhs)?;
            }
            Scenario::HugeDataSegment => {
                let header = self.data_in(cmd, 0, 0, false);
                let mut bhs = bhs_of(&header, 0)?;
                bhs[5..8].copy_from_slice(&HUGE_DATA_SEGMENT.to_be_bytes()[1..]);
                self.misbehaved();
                self.stream.write_all(&bhs)?;
                self.stream.write_all(&[HOSTILE_BYTE; HUGE_SENT])?;
            }
            Scenario::UnknownItt => {
                let mut header = self.data_in(cmd, 0, 0, true);
                if let Header::DataIn(h) = &mut header {
                    h.itt = if cmd.itt == UNKNOWN_ITT {
                        !UNKNOWN_ITT
                    } else {
                        UNKNOWN_ITT
                    };
                }
                self.misbehaved();
                send(&mut self.stream, header, &vec![HOSTILE_BYTE; len as usize])?;
            }
            Scenario::StaleItt => {
                let Some(&stale) = self.completed.first() else {
                    return self.complete(cmd);
                };
                let mut header = self.data_in(cmd, 0, 0, true);
                if let Header::DataIn(h) = &mut header {
                    h.itt = stale;
                }
                self.misbehaved();
                send(&mut self.stream, header, &vec![HOSTILE_BYTE; len as usize])?;
            }
            Scenario::OffsetPastEnd => {
                let first = self.data_in(cmd, 0, 0, false);
                send(&mut self.stream, first, &vec![GOOD_BYTE; len as usize])?;
                let beyond = self.data_in(cmd, 1, len, true);
                self.misbehaved();
                send(
                    &mut self.stream,
                    beyond,
                    &vec![HOSTILE_BYTE; BEYOND_LEN as usize],
                )?;
            }
            Scenario::CrossesEnd => {
                let half = len / 2;
                let first = self.data_in(cmd, 0, 0, false);
                send(&mut self.stream, first, &vec![GOOD_BYTE; half as usize])?;
                let crossing = self.data_in(cmd, 1, half, true);
                self.misbehaved();
                send(
                    &mut self.stream,
                    crossing,
                    &vec![HOSTILE_BYTE; len as usize],
                )?;
            }
            Scenario::R2tBeyondTransfer => {
                let (statsn, expcmdsn, maxcmdsn) = self.sns_without_status();
                let r2t = Header::R2t(R2t {
                    lun: cmd.lun,
                    itt: cmd.itt,
                    ttt: 0x0000_1000,
                    statsn,
                    expcmdsn,
                    maxcmdsn,
                    r2tsn: 0,
                    buffer_offset: len,
                    desired_len: BEYOND_LEN,
                });
                self.misbehaved();
                send(&mut self.stream, r2t, &[])?;
            }
            Scenario::SenseLongerThanSegment => {
                let (statsn, expcmdsn, maxcmdsn) = self.status_sns();
                let response = Header::ScsiResponse(ScsiResponse {
                    status: CHECK_CONDITION,
                    itt: cmd.itt,
                    statsn,
                    expcmdsn,
                    maxcmdsn,
                    ..ScsiResponse::default()
                });
                let mut segment = CLAIMED_SENSE_LEN.to_be_bytes().to_vec();
                // Fixed-format sense, MEDIUM ERROR, then hostile filler.
                let mut sense = vec![HOSTILE_BYTE; SENT_SENSE_LEN];
                sense[0] = 0x70;
                sense[2] = 0x03;
                sense[7] = (SENT_SENSE_LEN - 8) as u8;
                segment.extend_from_slice(&sense);
                self.misbehaved();
                send(&mut self.stream, response, &segment)?;
            }
            // Login scenarios never get here.
            Scenario::EndlessLogin | Scenario::SlowLogin | Scenario::BadLoginStatus => {
                return self.complete(cmd)
            }
        }
        Ok(())
    }

    /// StatSN (current, not used up), ExpCmdSN and MaxCmdSN for a PDU without status.
    fn sns_without_status(&self) -> (u32, u32, u32) {
        (
            self.statsn,
            self.expcmdsn,
            self.expcmdsn.wrapping_add(WINDOW - 1),
        )
    }

    /// A Data-In header for `cmd`; with `status`, final and carrying GOOD status.
    fn data_in(&mut self, cmd: &ScsiCommand, datasn: u32, offset: u32, status: bool) -> Header {
        let (statsn, expcmdsn, maxcmdsn) = if status {
            self.status_sns()
        } else {
            (0, self.expcmdsn, self.expcmdsn.wrapping_add(WINDOW - 1))
        };
        Header::DataIn(DataIn {
            final_: status,
            has_status: status,
            status: 0,
            lun: cmd.lun,
            itt: cmd.itt,
            ttt: RESERVED_TAG,
            statsn,
            expcmdsn,
            maxcmdsn,
            datasn,
            buffer_offset: offset,
            ..DataIn::default()
        })
    }

    /// Completes a command as a well-behaved target would: a READ gets [`GOOD_BYTE`] data and
    /// GOOD status, anything else GOOD status (a WRITE's data is not asked for: its whole
    /// length is reported as residual).
    fn complete(&mut self, cmd: &ScsiCommand) -> io::Result<()> {
        if cmd.read && cmd.expected_len > 0 {
            let len = cmd.expected_len as usize;
            let mut offset = 0;
            let mut datasn = 0;
            while offset < len {
                let chunk = (len - offset).min(DATA_IN_CHUNK);
                let last = offset + chunk == len;
                let header = self.data_in(cmd, datasn, offset as u32, last);
                send(&mut self.stream, header, &vec![GOOD_BYTE; chunk])?;
                offset += chunk;
                datasn += 1;
            }
        } else {
            let (statsn, expcmdsn, maxcmdsn) = self.status_sns();
            let response = Header::ScsiResponse(ScsiResponse {
                itt: cmd.itt,
                statsn,
                expcmdsn,
                maxcmdsn,
                underflow: cmd.expected_len > 0,
                residual: cmd.expected_len,
                ..ScsiResponse::default()
            });
            send(&mut self.stream, response, &[])?;
        }
        self.completed.push(cmd.itt);
        Ok(())
    }
}
