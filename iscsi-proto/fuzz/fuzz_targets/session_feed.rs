//! A hostile target: arbitrary PDUs fed to a session with reads and writes in flight. The
//! session must never panic nor ask for data to be placed outside a task's transfer.
#![no_main]
use iscsi_proto::digest::Digests;
use iscsi_proto::negotiation::SessionParams;
use iscsi_proto::pdu::decode_pdu;
use iscsi_proto::session::{Command, Direction, Received, Segment, Session, SessionStart};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut session = Session::new(
        SessionParams::default(),
        SessionStart { cmdsn: 1, statsn: 0, expcmdsn: 1, maxcmdsn: 4 },
    );
    let lens = [(1u32, Direction::Read, 8192u32), (2, Direction::Write, 65536), (3, Direction::None, 0)];
    for (itt, direction, data_len) in lens {
        session
            .submit(Command { itt, lun: 0, cdb: vec![0; 16], direction, data_len, attr: 1 })
            .expect("fresh ITTs");
    }
    while session.poll_transmit().is_some() {}
    let mut rest = data;
    while let Ok(Some((pdu, used))) = decode_pdu(rest, Digests::NONE, 65536) {
        rest = &rest[used..];
        if let Ok(Received::DataIn { itt, offset, len }) =
            session.handle(&pdu.header, Segment::Inline(&pdu.data))
        {
            let limit = lens.iter().find(|l| l.0 == itt).map_or(0, |l| l.2);
            assert!(u64::from(offset) + u64::from(len) <= u64::from(limit));
        }
        while session.poll_transmit().is_some() {}
        while session.poll_event().is_some() {}
    }
});
