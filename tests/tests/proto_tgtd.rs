//! The sans-I/O protocol core (iscsi-proto) against a real tgtd on loopback, through the
//! blocking test driver: discovery, login with and without CHAP, digests, SCSI commands, and
//! transfers large enough to need R2T, multi-PDU Data-In and Data-Out.

use cxgb3i_tests::blocking::{discover, BlockingInitiator, Credentials};
use cxgb3i_tests::{Backing, Tgtd};
use iscsi_proto::chap::ChapCredentials;
use iscsi_proto::negotiation::DigestPreference;
use iscsi_proto::pdu::Opcode;
use iscsi_proto::scsi::{
    self, BlockIo, BlockLimits, Lun, ReadCapacity16, StandardInquiry, SupportedVpdPages,
    UnitSerialNumber,
};
use iscsi_proto::session::TaskOutcome;

const IQN: &str = "iqn.2026-11.org.ublk-cxgb3i:disk1";
const IQN2: &str = "iqn.2026-11.org.ublk-cxgb3i:disk2";
const LUN_SIZE: u64 = 64 << 20;

fn lun1() -> u64 {
    u64::from_be_bytes(Lun::new(1).unwrap().encode().0)
}

/// A tgtd with target 1 (file-backed LUN 1) and target 2 (null LUN 1), open to all.
fn target() -> Tgtd {
    let tgtd = Tgtd::start().expect("tgtd starts (scripts/install-deps installs tgt)");
    let file = tgtd.scratch_file(LUN_SIZE).unwrap();
    tgtd.new_target(1, IQN)
        .unwrap()
        .add_lun(1, 1, Backing::File(file), None, &[])
        .unwrap()
        .bind_all(1)
        .unwrap();
    tgtd.new_target(2, IQN2)
        .unwrap()
        .add_lun(2, 1, Backing::Null, None, &[])
        .unwrap()
        .bind_all(2)
        .unwrap();
    tgtd
}

/// Logs in to target 1 and clears the initial UNIT ATTENTION.
fn login_ready(tgtd: &Tgtd, creds: &Credentials) -> BlockingInitiator {
    let mut init = BlockingInitiator::login(tgtd.addr(), creds, IQN).unwrap();
    init.ready(lun1()).unwrap();
    init
}

fn good(outcome: &TaskOutcome) {
    assert!(
        matches!(outcome, TaskOutcome::Status { status: 0, .. }),
        "command failed: {outcome:?}"
    );
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed) as u8)
        .collect()
}

/// WRITE(16) a pattern and READ(16) it back, `len` bytes at `lba`.
fn write_read_back(init: &mut BlockingInitiator, lba: u64, len: usize, seed: u32) {
    let blocks = (len / 512) as u32;
    let io = BlockIo {
        lba,
        blocks,
        block_size: 512,
        fua: false,
    };
    let data = pattern(len, seed);
    let w = init
        .command(lun1(), &scsi::write16(io).unwrap(), Some(&data))
        .unwrap();
    good(&w.outcome);
    let r = init
        .command(lun1(), &scsi::read16(io).unwrap(), None)
        .unwrap();
    good(&r.outcome);
    assert!(r.data == data, "read back differs from what was written");
}

#[test]
fn discovery_lists_every_target() {
    let tgtd = target();
    let targets = discover(tgtd.addr(), &Credentials::default()).unwrap();
    let mut names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    names.sort();
    assert_eq!(names, vec![IQN, IQN2]);
    for t in &targets {
        assert!(
            t.addresses
                .iter()
                .any(|a| a.port == tgtd.port() && a.host == "127.0.0.1"),
            "{t:?}"
        );
    }
}

#[test]
fn inquiry_vpd_and_capacity() {
    let tgtd = target();
    let mut init = login_ready(&tgtd, &Credentials::default());
    let inq = init.command(lun1(), &scsi::inquiry(96), None).unwrap();
    good(&inq.outcome);
    let inq = StandardInquiry::parse(&inq.data).unwrap();
    assert_eq!(inq.peripheral_device_type, 0, "a disk");
    assert_eq!(inq.vendor, "IET");

    let cap = init
        .command(lun1(), &scsi::read_capacity16(32), None)
        .unwrap();
    good(&cap.outcome);
    let cap = ReadCapacity16::parse(&cap.data).unwrap();
    assert_eq!(cap.block_length, 512);
    assert_eq!(cap.block_count() * 512, LUN_SIZE);

    let pages = init
        .command(lun1(), &scsi::inquiry_vpd(0x00, 255), None)
        .unwrap();
    let pages = SupportedVpdPages::parse(&pages.data).unwrap();
    assert!(
        pages.pages.contains(&0x80) && pages.pages.contains(&0xb0),
        "{pages:?}"
    );
    let serial = init
        .command(lun1(), &scsi::inquiry_vpd(0x80, 255), None)
        .unwrap();
    UnitSerialNumber::parse(&serial.data).unwrap();
    let limits = init
        .command(lun1(), &scsi::inquiry_vpd(0xb0, 255), None)
        .unwrap();
    BlockLimits::parse(&limits.data).unwrap();
    init.logout().unwrap();
}

#[test]
fn one_way_chap_and_wrong_secret() {
    let tgtd = target();
    tgtd.new_account("alice", "alice-secret-12")
        .unwrap()
        .bind_account(1, "alice", false)
        .unwrap();
    // Without credentials the target refuses us.
    let err = BlockingInitiator::login(tgtd.addr(), &Credentials::default(), IQN)
        .expect_err("login without CHAP must fail");
    assert!(err.to_string().contains("login"), "{err}");

    let mut creds = Credentials {
        chap: Some(ChapCredentials::new("alice", "wrong-secret-99")),
        ..Credentials::default()
    };
    let err =
        BlockingInitiator::login(tgtd.addr(), &creds, IQN).expect_err("wrong secret must fail");
    assert!(
        err.to_string().contains("authentication failed"),
        "unclear error: {err}"
    );

    creds.chap = Some(ChapCredentials::new("alice", "alice-secret-12"));
    let mut init = login_ready(&tgtd, &creds);
    write_read_back(&mut init, 0, 4096, 1);
    init.logout().unwrap();
}

#[test]
fn mutual_chap() {
    let tgtd = target();
    tgtd.new_account("alice", "alice-secret-12")
        .unwrap()
        .bind_account(1, "alice", false)
        .unwrap()
        .new_account("bob-target", "bob-secret-1234")
        .unwrap()
        .bind_account(1, "bob-target", true)
        .unwrap();
    let mut creds = Credentials {
        chap: Some(ChapCredentials::new("alice", "alice-secret-12")),
        ..Credentials::default()
    };
    creds.mutual_chap = Some(ChapCredentials::new("bob-target", "bob-secret-1234"));
    let mut init = login_ready(&tgtd, &creds);
    write_read_back(&mut init, 8, 8192, 2);
    init.logout().unwrap();

    // A target that cannot prove the secret we expect is refused.
    creds.mutual_chap = Some(ChapCredentials::new("bob-target", "not-bobs-secret"));
    let err = BlockingInitiator::login(tgtd.addr(), &creds, IQN)
        .expect_err("target with wrong secret must be refused");
    assert!(err.to_string().contains("CHAP"), "{err}");
}

#[test]
fn digests_forced_on_by_the_target() {
    let tgtd = target();
    tgtd.set_param(1, "HeaderDigest", "CRC32C")
        .unwrap()
        .set_param(1, "DataDigest", "CRC32C")
        .unwrap();
    let mut creds = Credentials::default();
    creds.operational.header_digest = DigestPreference::NonePreferred;
    creds.operational.data_digest = DigestPreference::NonePreferred;
    let mut init = login_ready(&tgtd, &creds);
    assert!(
        init.digests().header && init.digests().data,
        "{:?}",
        init.params()
    );
    write_read_back(&mut init, 100, 512 * 1024, 3);
    init.logout().unwrap();

    // tgtd's CRC32C setting is its preference, not a requirement: offered only None it
    // settles for no digests, and the data path still works.
    let mut init = login_ready(&tgtd, &Credentials::default());
    assert!(!init.digests().header && !init.digests().data);
    write_read_back(&mut init, 100, 64 * 1024, 6);
    init.logout().unwrap();

    // Requiring CRC32C from a target configured for None fails the login clearly.
    let tgtd = target();
    tgtd.set_param(1, "HeaderDigest", "None").unwrap();
    let mut creds = Credentials::default();
    creds.operational.header_digest = DigestPreference::Crc32cRequired;
    let err = BlockingInitiator::login(tgtd.addr(), &creds, IQN)
        .expect_err("a required digest the target refuses must fail the login");
    assert!(err.to_string().contains("HeaderDigest"), "{err}");
}

/// Large transfers under each combination of ImmediateData and InitialR2T, with small segment
/// and burst limits on the target so R2T sequences, multi-PDU Data-Out and Data-In all occur.
#[test]
fn large_transfers_under_every_unsolicited_data_setting() {
    for (immediate, initial_r2t) in [("Yes", "No"), ("No", "Yes"), ("Yes", "Yes"), ("No", "No")] {
        let tgtd = target();
        tgtd.set_param(1, "ImmediateData", immediate)
            .unwrap()
            .set_param(1, "InitialR2T", initial_r2t)
            .unwrap()
            .set_param(1, "MaxRecvDataSegmentLength", "4096")
            .unwrap()
            .set_param(1, "FirstBurstLength", "16384")
            .unwrap()
            .set_param(1, "MaxBurstLength", "65536")
            .unwrap();
        let mut creds = Credentials::default();
        // Our own receive limit forces the target to split Data-In.
        creds.operational.max_recv_data_segment_length = 8192;
        let mut init = login_ready(&tgtd, &creds);
        let p = init.params().clone();
        assert_eq!(p.immediate_data, immediate == "Yes", "{p:?}");
        // InitialR2T is OR-negotiated: we ask for No, so the target's choice wins.
        assert_eq!(p.initial_r2t, initial_r2t == "Yes", "{p:?}");
        assert_eq!(p.max_xmit_data_segment_length, 4096);
        assert_eq!((p.first_burst_length, p.max_burst_length), (16384, 65536));
        write_read_back(&mut init, 2048, 1024 * 1024, 4);
        write_read_back(&mut init, 7, 512, 5);
        let r2ts = init.received.get(&Opcode::R2t).copied().unwrap_or(0);
        let data_ins = init.received.get(&Opcode::DataIn).copied().unwrap_or(0);
        assert!(r2ts >= 15, "1 MiB in 64 KiB bursts needs R2Ts: saw {r2ts}");
        assert!(data_ins >= 128, "1 MiB in 8 KiB Data-In: saw {data_ins}");
        assert!(init.session().stats().data_out_pdus >= 240);
        init.logout().unwrap();
    }
}

/// Many commands in flight at once: the CmdSN window, interleaved Data-In and R2T.
#[test]
fn many_outstanding_commands() {
    let tgtd = target();
    let mut init = login_ready(&tgtd, &Credentials::default());
    let mut writes = Vec::new();
    for i in 0..48u64 {
        let io = BlockIo {
            lba: i * 128,
            blocks: 128,
            block_size: 512,
            fua: i % 2 == 0,
        };
        let data = pattern(65536, i as u32);
        writes.push(
            init.submit(lun1(), &scsi::write16(io).unwrap(), Some(&data))
                .unwrap(),
        );
    }
    for itt in writes {
        good(&init.wait(itt).unwrap().outcome);
    }
    let mut reads = Vec::new();
    for i in 0..48u64 {
        let io = BlockIo {
            lba: i * 128,
            blocks: 128,
            block_size: 512,
            fua: false,
        };
        reads.push((
            i,
            init.submit(lun1(), &scsi::read16(io).unwrap(), None)
                .unwrap(),
        ));
    }
    for (i, itt) in reads {
        let done = init.wait(itt).unwrap();
        good(&done.outcome);
        assert!(
            done.data == pattern(65536, i as u32),
            "block run {i} differs"
        );
    }
    let sync = init
        .command(lun1(), &scsi::synchronize_cache16(0, 0, false), None)
        .unwrap();
    good(&sync.outcome);
    init.logout().unwrap();
}

#[test]
fn unknown_target_is_a_clear_error() {
    let tgtd = target();
    let err = BlockingInitiator::login(
        tgtd.addr(),
        &Credentials::default(),
        "iqn.2026-11.org.ublk-cxgb3i:nope",
    )
    .expect_err("unknown target must fail");
    assert!(err.to_string().contains("target not found"), "{err}");
}

#[test]
fn reading_past_the_end_is_a_check_condition() {
    let tgtd = target();
    let mut init = login_ready(&tgtd, &Credentials::default());
    let io = BlockIo {
        lba: LUN_SIZE / 512,
        blocks: 8,
        block_size: 512,
        fua: false,
    };
    let r = init
        .command(lun1(), &scsi::read16(io).unwrap(), None)
        .unwrap();
    let TaskOutcome::Status {
        status: 2,
        sense: Some(sense),
        ..
    } = r.outcome
    else {
        panic!("expected CHECK CONDITION, got {:?}", r.outcome)
    };
    let sense = scsi::Sense::parse(&sense).unwrap();
    assert_eq!(sense.key, scsi::SenseKey::IllegalRequest, "{sense}");
    init.logout().unwrap();
}

#[test]
fn ipv6_portal() {
    let tgtd = Tgtd::start_with("[::1]:0".parse().unwrap()).expect("tgtd on [::1]");
    let file = tgtd.scratch_file(LUN_SIZE).unwrap();
    tgtd.new_target(1, IQN)
        .unwrap()
        .add_lun(1, 1, Backing::File(file), None, &[])
        .unwrap()
        .bind_all(1)
        .unwrap();
    let targets = discover(tgtd.addr(), &Credentials::default()).unwrap();
    assert!(
        targets[0].addresses.iter().any(|a| a.host == "::1"),
        "{targets:?}"
    );
    let mut init = login_ready(&tgtd, &Credentials::default());
    write_read_back(&mut init, 0, 16384, 7);
    init.logout().unwrap();
}

/// The sessions (I_T nexuses) tgtd lists for target 1.
fn sessions_of_target_1(tgtd: &Tgtd) -> usize {
    let shown = tgtd
        .tgtadm(&["--lld", "iscsi", "--op", "show", "--mode", "target"])
        .unwrap();
    let target_1 = shown.split("Target 2:").next().unwrap_or_default();
    target_1.matches("I_T nexus:").count()
}

/// What the device's queues rely on after a reconnect: logging in again with the same ISID
/// and TSIH 0 makes the target end the old session (RFC 7143 session reinstatement), even
/// while the old connection is still open at the target, as one the initiator gave up on
/// can be. No command of the old session can then run after its reissued copy.
#[test]
fn relogin_with_the_same_isid_reinstates_the_session() {
    let tgtd = target();
    let creds = Credentials {
        isid: Some([0x80, 0, 0, 7, 0, 1]),
        ..Credentials::default()
    };
    let mut replaced = Vec::new();
    for round in 0..10u32 {
        let mut init = login_ready(&tgtd, &creds);
        write_read_back(&mut init, u64::from(round) * 8, 4096, round);
        assert_eq!(sessions_of_target_1(&tgtd), 1, "after login {round}");
        replaced.push(init);
    }
    let current = replaced.pop().unwrap();
    for (round, old) in replaced.iter_mut().enumerate() {
        assert!(
            old.ready(lun1()).is_err(),
            "the session of login {round} still serves commands"
        );
    }
    // Another ISID is another session.
    let other = Credentials {
        isid: Some([0x80, 0, 0, 7, 0, 2]),
        ..Credentials::default()
    };
    let second = login_ready(&tgtd, &other);
    assert_eq!(sessions_of_target_1(&tgtd), 2);
    second.logout().unwrap();
    current.logout().unwrap();
}
