//! The offload engine and the cxgb3i initiator glue against a real tgtd: the product's data
//! path (io_uring TCP, DDP placement into task buffers, digests) end to end.

use std::time::Duration;

use cxgb3i_tests::{Backing, Tgtd};
use iscsi_proto::login::{random_isid, LoginConfig};
use iscsi_proto::negotiation::DigestPreference;
use iscsi_proto::scsi::{self, BlockIo, Lun, OneCommandUsage, ScsiRequest, StandardInquiry};
use iscsi_proto::session::{Direction, SubmitError, TaskOutcome};
use t3_hw::initiator::{Client, CommandSpec, RequestRefused};
use t3_hw::{EngineConfig, PpmConfig};

const IQN: &str = "iqn.2026-11.org.ublk-cxgb3i:engine";
const LUN_SIZE: u64 = 64 << 20;
const T: Duration = Duration::from_secs(20);
const TASKS: usize = 32;
const TASK_LEN: usize = 1 << 20;

fn lun1() -> u64 {
    u64::from_be_bytes(Lun::new(1).unwrap().encode().0)
}

fn target() -> Tgtd {
    let tgtd = Tgtd::start().expect("tgtd starts (scripts/install-deps installs tgt)");
    let file = tgtd.scratch_file(LUN_SIZE).unwrap();
    tgtd.new_target(1, IQN)
        .unwrap()
        .add_lun(1, 1, Backing::File(file), None, &[])
        .unwrap()
        .bind_all(1)
        .unwrap();
    tgtd
}

fn login_config(digests: DigestPreference) -> LoginConfig {
    let isid = random_isid(&mut rand::thread_rng(), 0);
    let mut config = LoginConfig::normal("iqn.2026-11.org.ublk-cxgb3i:engine-tests", IQN, isid);
    config.operational.header_digest = digests;
    config.operational.data_digest = digests;
    config
}

fn client() -> Client {
    let mut client = Client::new(EngineConfig::new(PpmConfig::new(8192, 4096), 262_144), 256)
        .expect("io_uring engine");
    client.add_tasks(TASKS, TASK_LEN);
    client
}

fn run(client: &mut Client, conn: usize, task: u32, req: &ScsiRequest) -> TaskOutcome {
    client
        .command(conn, task, CommandSpec::new(lun1(), req), T)
        .unwrap()
        .0
}

fn ready(client: &mut Client, conn: usize) {
    for _ in 0..4 {
        if matches!(
            run(client, conn, 0, &scsi::test_unit_ready()),
            TaskOutcome::Status { status: 0, .. }
        ) {
            return;
        }
    }
    panic!("unit never became ready");
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(7919)) as u8)
        .collect()
}

fn good(outcome: TaskOutcome) {
    assert!(
        matches!(outcome, TaskOutcome::Status { status: 0, .. }),
        "{outcome:?}"
    );
}

/// `len` bytes at `lba` of the 512-byte-block LUN.
fn blocks_at(lba: u64, len: usize) -> BlockIo {
    BlockIo {
        lba,
        blocks: (len / 512) as u32,
        block_size: 512,
        fua: false,
    }
}

/// Writes a pattern of `io`'s length from task `writer`'s buffer and returns it.
fn write_pattern(client: &mut Client, conn: usize, writer: u32, io: BlockIo, seed: u32) -> Vec<u8> {
    let len = io.blocks as usize * 512;
    let data = pattern(len, seed);
    client.buffer_mut(writer).unwrap()[..len].copy_from_slice(&data);
    good(run(client, conn, writer, &scsi::write16(io).unwrap()));
    data
}

/// Writes patterns of several sizes from several tasks, reads them back into other tasks'
/// buffers, and checks every byte.
fn integrity(client: &mut Client, conn: usize) {
    let sizes = [512usize, 4096, 65536, 262_144, 1 << 20];
    let mut lba = 0u64;
    for (i, &len) in sizes.iter().enumerate() {
        let task = (i * 2) as u32 + 1;
        let io = blocks_at(lba, len);
        let data = write_pattern(client, conn, task, io, i as u32 + 11);
        let reader = task + 1;
        client.buffer_mut(reader).unwrap().fill(0xee);
        good(run(client, conn, reader, &scsi::read16(io).unwrap()));
        let got = client.buffer(reader).unwrap();
        assert!(got[..len] == data[..], "{len}-byte read differs");
        assert!(
            got[len..].iter().all(|&b| b == 0xee),
            "bytes past the {len}-byte transfer were written"
        );
        lba += (len / 512) as u64;
    }
}

#[test]
fn inquiry_and_data_integrity_through_the_engine() {
    let tgtd = target();
    let mut client = client();
    let conn = client
        .login(tgtd.addr(), login_config(DigestPreference::None), T)
        .unwrap();
    ready(&mut client, conn);
    good(run(&mut client, conn, 2, &scsi::inquiry(96)));
    let inq = StandardInquiry::parse(&client.buffer(2).unwrap()[..96]).unwrap();
    assert_eq!(inq.vendor, "IET");

    integrity(&mut client, conn);

    let tid = client.conn(conn).tid().unwrap();
    let counters = client.engine().conn_counters(tid).unwrap();
    let stats = client.conn(conn).stats();
    // Reads of 4K and more went through DDP; the 512-byte read (below no threshold here) and the
    // INQUIRY are small: whichever path they took, the counters must agree with it.
    assert!(stats.reads_ddp >= 4, "{stats:?}");
    assert!(
        counters.ddp_bytes >= 4096 + 65536 + 262_144 + (1 << 20),
        "{counters:?}"
    );
    // Only the INQUIRY's few bytes were copied into a task buffer; every large read was
    // placed directly. (The engine's inline count also includes login text.)
    assert!(stats.copied_bytes < 512, "{stats:?}");
    assert!(
        counters.copied_bytes >= stats.copied_bytes,
        "{counters:?} {stats:?}"
    );
    // The socket is an ordinary host TCP connection to tgtd.
    let local = client.engine().local_addr(tid).unwrap();
    assert_eq!(client.engine().peer_addr(tid).unwrap(), tgtd.addr());
    assert!(local.ip().is_loopback());
    client.logout_all(T).unwrap();
}

#[test]
fn digests_on_through_the_engine() {
    let tgtd = target();
    tgtd.set_param(1, "HeaderDigest", "CRC32C")
        .unwrap()
        .set_param(1, "DataDigest", "CRC32C")
        .unwrap();
    let mut client = client();
    let conn = client
        .login(
            tgtd.addr(),
            login_config(DigestPreference::Crc32cPreferred),
            T,
        )
        .unwrap();
    let params = client.conn(conn).params().unwrap().clone();
    assert!(params.header_digest && params.data_digest, "{params:?}");
    ready(&mut client, conn);
    integrity(&mut client, conn);
    let tid = client.conn(conn).tid().unwrap();
    let counters = client.engine().conn_counters(tid).unwrap();
    assert_eq!(counters.hdr_digest_errors + counters.data_digest_errors, 0);
    assert!(counters.ddp_bytes > 0, "{counters:?}");
    client.logout_all(T).unwrap();
}

/// tgtd's default MaxBurstLength (256 KiB) limits one R2T's Data-Out sequence and one Data-In
/// sequence, not a command: a 1 MiB WRITE(16) and READ(16) go through as one command each,
/// the write answered by several R2Ts and the read placed by DDP across several sequences.
#[test]
fn one_mebibyte_commands_span_several_bursts() {
    const LEN: usize = 1 << 20;
    let tgtd = target();
    let mut client = client();
    let conn = client
        .login(tgtd.addr(), login_config(DigestPreference::None), T)
        .unwrap();
    let params = client.conn(conn).params().unwrap().clone();
    assert_eq!(
        params.max_burst_length, 262_144,
        "tgtd's default: {params:?}"
    );
    ready(&mut client, conn);
    let session_stats = |client: &Client| client.conn(conn).session().unwrap().stats().clone();
    let before = session_stats(&client);

    let (writer, reader) = (3, 4);
    let io = blocks_at(2048, LEN);
    let data = write_pattern(&mut client, conn, writer, io, 0x1_0000);
    let after_write = session_stats(&client);
    let unsolicited_at_most = params.first_burst_length.min(LEN as u32);
    let min_r2ts = (LEN as u32 - unsolicited_at_most).div_ceil(params.max_burst_length);
    assert!(
        after_write.r2ts - before.r2ts >= u64::from(min_r2ts),
        "{min_r2ts} R2Ts at least: {before:?} -> {after_write:?}"
    );

    client.buffer_mut(reader).unwrap().fill(0xee);
    let reads_ddp = client.conn(conn).stats().reads_ddp;
    let tid = client.conn(conn).tid().unwrap();
    let ddp_bytes = client.engine().conn_counters(tid).unwrap().ddp_bytes;
    good(run(&mut client, conn, reader, &scsi::read16(io).unwrap()));
    let after_read = session_stats(&client);
    assert_eq!(
        after_read.commands_completed - after_write.commands_completed,
        1
    );
    assert!(
        after_read.data_in_pdus - after_write.data_in_pdus
            >= u64::from((LEN as u32).div_ceil(params.max_burst_length)),
        "Data-In spans several sequences: {after_write:?} -> {after_read:?}"
    );
    assert!(
        client.buffer(reader).unwrap()[..LEN] == data[..],
        "1 MiB read differs"
    );
    assert_eq!(client.conn(conn).stats().reads_ddp, reads_ddp + 1);
    let counters = client.engine().conn_counters(tid).unwrap();
    assert!(
        counters.ddp_bytes - ddp_bytes >= LEN as u64,
        "the whole read was placed: {counters:?}"
    );
    client.logout_all(T).unwrap();
}

/// A device declares MaxRecvDataSegmentLength 1 MiB (ublk-target's login) so that a whole
/// 1 MiB read can come as one Data-In PDU, one wake-up of the receiving thread instead of
/// four. tgtd honours it (it sends Data-In up to the initiator's MaxRecvDataSegmentLength
/// even past its MaxBurstLength), and the engine places the PDU whole.
#[test]
fn a_one_mebibyte_segment_length_takes_a_read_in_one_pdu() {
    const LEN: usize = 1 << 20;
    let tgtd = target();
    let mut client = Client::new(
        EngineConfig::new(PpmConfig::new(8192, 4096), LEN as u32),
        256,
    )
    .expect("io_uring engine");
    client.add_tasks(TASKS, TASK_LEN);
    let mut config = login_config(DigestPreference::None);
    config.operational.max_recv_data_segment_length = LEN as u32;
    let conn = client.login(tgtd.addr(), config, T).unwrap();
    ready(&mut client, conn);
    let (writer, reader) = (5, 6);
    let io = blocks_at(4096, LEN);
    let data = write_pattern(&mut client, conn, writer, io, 0x2_0000);
    client.buffer_mut(reader).unwrap().fill(0xee);
    let before = client.conn(conn).session().unwrap().stats().clone();
    good(run(&mut client, conn, reader, &scsi::read16(io).unwrap()));
    let after = client.conn(conn).session().unwrap().stats().clone();
    assert_eq!(
        after.data_in_pdus - before.data_in_pdus,
        1,
        "one Data-In PDU for the whole read: {before:?} -> {after:?}"
    );
    assert!(
        client.buffer(reader).unwrap()[..LEN] == data[..],
        "1 MiB read differs"
    );
    let tid = client.conn(conn).tid().unwrap();
    let counters = client.engine().conn_counters(tid).unwrap();
    assert!(counters.ddp_bytes >= LEN as u64, "placed: {counters:?}");
    client.logout_all(T).unwrap();
}

/// A read the session refuses (here one with an empty CDB) takes nothing: it is not counted
/// as a read, and the same task's next read is placed and counted once.
#[test]
fn a_refused_read_takes_nothing_and_is_not_counted() {
    let tgtd = target();
    let mut client = client();
    let conn = client
        .login(tgtd.addr(), login_config(DigestPreference::None), T)
        .unwrap();
    ready(&mut client, conn);
    let before = client.conn(conn).stats();
    let (iscsi, engine) = client.conn_mut(conn).unwrap();
    let refused = iscsi.submit(engine, 3, lun1(), &[], Direction::Read, 4096);
    assert_eq!(
        refused,
        Err(RequestRefused::Session(SubmitError::CdbLength(0)))
    );
    let after_refusal = client.conn(conn).stats();
    assert_eq!(
        after_refusal.reads_ddp, before.reads_ddp,
        "{after_refusal:?}"
    );
    assert_eq!(after_refusal.reads_not_ddp, before.reads_not_ddp);

    let data = write_pattern(&mut client, conn, 1, blocks_at(0, 4096), 7);
    good(run(
        &mut client,
        conn,
        3,
        &scsi::read16(blocks_at(0, 4096)).unwrap(),
    ));
    assert!(client.buffer(3).unwrap()[..4096] == data[..]);
    let after_read = client.conn(conn).stats();
    assert_eq!(after_read.reads_ddp, before.reads_ddp + 1, "{after_read:?}");
    assert_eq!(after_read.writes, before.writes + 1, "{after_read:?}");
    client.logout_all(T).unwrap();
}

/// With DDP unavailable (a page-pod region too small for the T3's minimum) every read takes
/// the non-DDP path: payload arrives inline and is copied, and the data is still right.
#[test]
fn non_ddp_path() {
    let tgtd = target();
    let mut client = Client::new(EngineConfig::new(PpmConfig::new(512, 4096), 262_144), 256)
        .expect("io_uring engine");
    client.add_tasks(TASKS, TASK_LEN);
    let conn = client
        .login(tgtd.addr(), login_config(DigestPreference::None), T)
        .unwrap();
    ready(&mut client, conn);
    integrity(&mut client, conn);
    let tid = client.conn(conn).tid().unwrap();
    let counters = client.engine().conn_counters(tid).unwrap();
    let stats = client.conn(conn).stats();
    assert_eq!(stats.reads_ddp, 0, "{stats:?}");
    assert_eq!(counters.ddp_bytes, 0, "{counters:?}");
    assert!(stats.copied_bytes >= 1 << 20, "{stats:?}");
    client.logout_all(T).unwrap();
}

#[test]
fn queue_depth_32_mixed_reads_and_writes() {
    let tgtd = target();
    let mut client = client();
    let conn = client
        .login(tgtd.addr(), login_config(DigestPreference::None), T)
        .unwrap();
    ready(&mut client, conn);
    let len = 16384usize;
    for task in 0..TASKS as u32 {
        let data = pattern(len, task);
        client.buffer_mut(task).unwrap()[..len].copy_from_slice(&data);
        let io = blocks_at(u64::from(task) * 32, 32 * 512);
        let req = scsi::write16(io).unwrap();
        client
            .submit(conn, task, CommandSpec::new(lun1(), &req))
            .unwrap();
    }
    let mut done = 0;
    while done < TASKS {
        let (_, event) = client.wait_event(T).unwrap();
        if let t3_hw::initiator::ConnEvent::TaskDone { outcome, .. } = event {
            good(outcome);
            done += 1;
        }
    }
    for task in 0..TASKS as u32 {
        client.buffer_mut(task).unwrap().fill(0);
        let io = blocks_at(u64::from(task) * 32, 32 * 512);
        let req = scsi::read16(io).unwrap();
        client
            .submit(conn, task, CommandSpec::new(lun1(), &req))
            .unwrap();
    }
    done = 0;
    while done < TASKS {
        let (_, event) = client.wait_event(T).unwrap();
        if let t3_hw::initiator::ConnEvent::TaskDone { task, outcome, .. } = event {
            good(outcome);
            assert!(client.buffer(task).unwrap()[..len] == pattern(len, task)[..]);
            done += 1;
        }
    }
    client.logout_all(T).unwrap();
}

#[test]
fn unreachable_portal_and_unknown_target_fail_clearly() {
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut client = client();
    let err = client
        .login(free_port, login_config(DigestPreference::None), T)
        .expect_err("nothing listens there");
    assert!(err.to_string().contains("refused"), "{err}");

    let tgtd = target();
    let mut cfg = login_config(DigestPreference::None);
    cfg.target_name = Some("iqn.2026-11.org.ublk-cxgb3i:missing".into());
    let err = client
        .login(tgtd.addr(), cfg, T)
        .expect_err("no such target");
    assert!(err.to_string().contains("target not found"), "{err}");
}

#[test]
fn probe_reads_geometry_limits_and_caching() {
    let tgtd = target();
    let file = tgtd.scratch_file(LUN_SIZE).unwrap();
    tgtd.new_target(2, "iqn.2026-11.org.ublk-cxgb3i:4k")
        .unwrap()
        .add_lun(
            2,
            1,
            Backing::File(file),
            Some(4096),
            &[("thin_provisioning", "1")],
        )
        .unwrap()
        .bind_all(2)
        .unwrap();
    let mut client = client();
    let conn = client
        .login(tgtd.addr(), login_config(DigestPreference::None), T)
        .unwrap();
    let info = t3_hw::initiator::probe::probe_lun(&mut client, conn, 0, lun1(), T).unwrap();
    assert_eq!(
        (info.vendor.as_str(), info.logical_block_size),
        ("IET", 512)
    );
    assert_eq!(info.capacity_bytes(), LUN_SIZE);
    assert!(!info.read_only);
    assert!(info.serial.is_some(), "{info:?}");

    let mut cfg = login_config(DigestPreference::None);
    cfg.target_name = Some("iqn.2026-11.org.ublk-cxgb3i:4k".into());
    let conn4k = client.login(tgtd.addr(), cfg, T).unwrap();
    let info = t3_hw::initiator::probe::probe_lun(&mut client, conn4k, 0, lun1(), T).unwrap();
    assert_eq!(info.logical_block_size, 4096, "{info:?}");
    assert_eq!(info.capacity_bytes(), LUN_SIZE);
    assert!(info.thin_provisioned, "{info:?}");
    assert!(info.unmap.is_some(), "thin LUN supports UNMAP: {info:?}");
    client.logout_all(T).unwrap();
}

/// The probe asks REPORT SUPPORTED OPERATION CODES whether WRITE SAME(16)'s NDOB bit is
/// evaluated. tgt 1.0.85 answers "supported" with NDOB absent from the usage mask; whatever the
/// answer, the probe succeeds and agrees with it.
#[test]
fn probe_learns_write_same_ndob_from_supported_opcodes() {
    let tgtd = target();
    let file = tgtd.scratch_file(LUN_SIZE).unwrap();
    tgtd.new_target(2, "iqn.2026-11.org.ublk-cxgb3i:thin")
        .unwrap()
        .add_lun(
            2,
            1,
            Backing::File(file),
            None,
            &[("thin_provisioning", "1")],
        )
        .unwrap()
        .bind_all(2)
        .unwrap();
    let mut client = client();
    let mut cfg = login_config(DigestPreference::None);
    cfg.target_name = Some("iqn.2026-11.org.ublk-cxgb3i:thin".into());
    let conn = client.login(tgtd.addr(), cfg, T).unwrap();
    let info = t3_hw::initiator::probe::probe_lun(&mut client, conn, 0, lun1(), T).unwrap();
    let write_same = info.write_same.expect("a thin LUN supports WRITE SAME(16)");

    let request = scsi::report_supported_operation_code(scsi::opcode::WRITE_SAME_16, 64).unwrap();
    let (outcome, received) = client
        .command(conn, 1, CommandSpec::new(lun1(), &request), T)
        .unwrap();
    let answer = &client.buffer(1).unwrap()[..received as usize];
    eprintln!("tgtd's REPORT SUPPORTED OPERATION CODES for 0x93: {outcome:?} {answer:02x?}");
    let evaluated = match outcome {
        TaskOutcome::Status { status: 0, .. } => {
            OneCommandUsage::parse(answer, scsi::opcode::WRITE_SAME_16)
                .is_ok_and(|usage| usage.evaluates(1, 0))
        }
        _ => false,
    };
    assert_eq!(write_same.ndob, evaluated, "{info:?}");
    client.logout_all(T).unwrap();
}
