//! A hostile target: arbitrary PDUs fed to a session with reads and writes in flight and one
//! command still waiting for the CmdSN window. The session must never panic, never ask for data
//! to be placed outside a task's transfer, and send its commands with consecutive CmdSNs (a
//! CmdSN taken and never sent stalls the target forever).
#![no_main]
use iscsi_proto::digest::Digests;
use iscsi_proto::negotiation::SessionParams;
use iscsi_proto::pdu::{decode_pdu, Header};
use iscsi_proto::session::{Command, Direction, Event, Received, Segment, Session, SessionStart};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut session = Session::new(
        SessionParams::default(),
        SessionStart {
            cmdsn: 1,
            statsn: 0,
            expcmdsn: 1,
            maxcmdsn: 2,
        },
    );
    let mut next_cmdsn = 1u32;
    let mut sent = |session: &mut Session| {
        while let Some(out) = session.poll_transmit() {
            if let Header::ScsiCommand(cmd) = &out.header {
                assert_eq!(cmd.cmdsn, next_cmdsn, "CmdSN skipped or reused");
                next_cmdsn = next_cmdsn.wrapping_add(1);
            }
        }
    };
    let lens = [
        (1u32, Direction::Read, 8192u32),
        (2, Direction::Write, 65536),
        (3, Direction::None, 0),
    ];
    for (itt, direction, data_len) in lens {
        session
            .submit(Command {
                itt,
                lun: 0,
                cdb: vec![0; 16],
                direction,
                data_len,
                attr: 1,
            })
            .expect("fresh ITTs");
    }
    sent(&mut session);
    let mut next_itt = 16;
    let mut rest = data;
    while let Ok(Some((pdu, used))) = decode_pdu(rest, Digests::NONE, 65536) {
        rest = &rest[used..];
        if let Ok(Received::DataIn { itt, offset, len }) =
            session.handle(&pdu.header, Segment::Inline(&pdu.data))
        {
            let limit = lens.iter().find(|l| l.0 == itt).map_or(0, |l| l.2);
            assert!(u64::from(offset) + u64::from(len) <= u64::from(limit));
        }
        // Each finished task is followed by a new command, whose CmdSN shows any skipped.
        while let Some(event) = session.poll_event() {
            if matches!(event, Event::TaskComplete { .. }) && next_itt < 64 {
                let command = Command {
                    itt: next_itt,
                    lun: 0,
                    cdb: vec![0; 6],
                    direction: Direction::None,
                    data_len: 0,
                    attr: 1,
                };
                session.submit(command).expect("fresh ITT");
                next_itt += 1;
            }
        }
        sent(&mut session);
    }
    // A CmdSN lost to a vanished task only shows when the next command goes out.
    sent(&mut session);
});
