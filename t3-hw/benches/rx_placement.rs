//! Loopback receive throughput of Data-In PDUs placed straight into a bound task buffer.
//!
//! A peer thread streams pre-encoded Data-In PDUs over 127.0.0.1; the engine places each into
//! a 1 MiB buffer through its DDP tag. Prints PDUs/s, MiB/s and ring trips per PDU.
//! Run with `cargo bench -p t3-hw --bench rx_placement`.

use std::io::Write;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use iscsi_proto::digest::Digests;
use iscsi_proto::pdu::{encode_pdu, DataIn, Header, Pdu};
use t3_hw::SetTcbField;
use t3_hw::{
    Completion, DdpStatus, Engine, EngineConfig, OwnedRing, PpmConfig, UlpSubmode, WorkRequest,
};

const BUFFER_LEN: usize = 1 << 20;
const TASK: u32 = 0;

fn run(pdu_len: usize, pdus: usize, digests: Digests) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = EngineConfig::new(PpmConfig::new(4096, 4096), 1 << 20);
    let mut ring = OwnedRing::new(Engine::new(config).unwrap(), 256).unwrap();
    ring.engine_mut()
        .post(WorkRequest::ActOpen {
            atid: 1,
            peer: addr,
            local: None,
        })
        .unwrap();
    // Accept on another thread: the connect only starts once the ring is driven.
    let acceptor = thread::spawn(move || listener.accept().unwrap().0);
    let mut tid = None;
    ring.run_until(
        |engine| {
            if let Some(Completion::ActEstablish {
                tid: established, ..
            }) = engine.poll_completion()
            {
                tid = Some(established);
            }
            tid.is_some()
        },
        Duration::from_secs(5),
    )
    .unwrap();
    let tid = tid.unwrap();
    let mut stream = acceptor.join().unwrap();
    let submode = UlpSubmode {
        header_digest: digests.header,
        data_digest: digests.data,
    };
    ring.engine_mut()
        .post(WorkRequest::SetTcbField(SetTcbField::ulp_submode(
            tid, submode,
        )))
        .unwrap();
    let mut buffer = vec![0u8; BUFFER_LEN + 4096];
    let offset = buffer.as_ptr().align_offset(4096);
    let body = buffer[offset..].as_mut_ptr();
    // SAFETY: `buffer` lives until the end of this function and is only touched by the engine.
    unsafe {
        ring.engine_mut()
            .register_task_buffer(TASK, body, BUFFER_LEN)
    };
    let itt = ring
        .engine_mut()
        .reserve_ddp(tid, TASK, 0, BUFFER_LEN as u32)
        .unwrap()
        .itt;

    // One pass over the buffer, encoded once and written repeatedly.
    let per_pass = BUFFER_LEN / pdu_len;
    let data = vec![0x5Au8; pdu_len];
    let mut pass = Vec::new();
    for index in 0..per_pass {
        let header = Header::DataIn(DataIn {
            itt,
            buffer_offset: (index * pdu_len) as u32,
            ..DataIn::default()
        });
        pass.extend(encode_pdu(&Pdu::new(header, data.clone()), digests).unwrap());
    }
    let writer = thread::spawn(move || {
        let mut left = pdus;
        while left > 0 {
            let count = left.min(per_pass);
            let bytes = pass.len() / per_pass * count;
            stream.write_all(&pass[..bytes]).unwrap();
            left -= count;
        }
        stream
    });

    let start = Instant::now();
    let mut received = 0;
    ring.run_until(
        |engine| {
            while let Some(completion) = engine.poll_completion() {
                match completion {
                    Completion::IscsiHdr(header) if header.ddp_status == DdpStatus::DDP_PDU => {
                        received += 1
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            received == pdus
        },
        Duration::from_secs(120),
    )
    .unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let _stream = writer.join().unwrap();
    let counters = ring.engine().conn_counters(tid).unwrap();
    println!(
        "{:>4} KiB Data-In, digests {:<5}: {:>9.0} PDUs/s {:>8.1} MiB/s  ring trips/PDU {:.3}  recv SQEs/PDU {:.2}",
        pdu_len / 1024,
        if digests.data { "on" } else { "off" },
        pdus as f64 / elapsed,
        (pdus * pdu_len) as f64 / elapsed / (1024.0 * 1024.0),
        counters.rx_chains as f64 / counters.pdus_rx as f64,
        counters.recv_calls as f64 / counters.pdus_rx as f64,
    );
}

fn main() {
    for digests in [Digests::NONE, Digests::BOTH] {
        run(4096, 100_000, digests);
        run(256 * 1024, 2_000, digests);
    }
}
