//! Smoke tests of the tgtd harness against the real tgtd (must be installed; CI installs it).

use std::io::ErrorKind;
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use cxgb3i_tests::{Backing, Tgtd};

const TID: u32 = 1;
const FILE_LUN_BYTES: u64 = 64 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

fn start_tgtd() -> Tgtd {
    // The error of a missing tgtd reads "tgtd not found: run scripts/install-deps ...".
    Tgtd::start().unwrap_or_else(|error| panic!("{error}"))
}

/// tgtadm prints LU sizes in decimal megabytes, rounded to nearest.
fn tgt_megabytes(bytes: u64) -> u64 {
    (bytes + 500_000) / 1_000_000
}

/// The lines tgtadm prints for one LUN, from its "LUN: N" header to the next header.
fn lun_section(show: &str, lun: u64) -> String {
    let header = format!("LUN: {lun}");
    show.lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| {
            !line.trim().starts_with("LUN: ") && !line.contains("Account information")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

struct Configured {
    tgtd: Tgtd,
    iqn: String,
    user: String,
    file: PathBuf,
}

fn start_configured(instance: usize) -> Configured {
    let tgtd = start_tgtd();
    let iqn = format!("iqn.2024-01.test.cxgb3i:harness-{instance}");
    let user = format!("initiator{instance}");
    let file = tgtd.scratch_file(FILE_LUN_BYTES).expect("scratch file");
    tgtd.new_target(TID, &iqn)
        .and_then(|t| t.add_lun(TID, 1, Backing::Null, None, &[]))
        .and_then(|t| {
            t.add_lun(
                TID,
                2,
                Backing::File(file.clone()),
                Some(4096),
                &[("thin_provisioning", "1")],
            )
        })
        .and_then(|t| t.new_account(&user, "secretsecret12"))
        .and_then(|t| t.new_account("target-answer", "othersecret34"))
        .and_then(|t| t.bind_account(TID, &user, false))
        .and_then(|t| t.bind_account(TID, "target-answer", true))
        .and_then(|t| t.bind_all(TID))
        .unwrap_or_else(|error| panic!("configuring instance {instance}: {error}"));
    Configured {
        tgtd,
        iqn,
        user,
        file,
    }
}

fn assert_listing_matches(configured: &Configured, other_iqn: &str) {
    let show = configured.tgtd.show().expect("show");
    assert!(
        show.contains(&format!("Target {TID}: {}", configured.iqn)),
        "{show}"
    );
    assert!(!show.contains(other_iqn), "instances share state:\n{show}");

    let null_lun = lun_section(&show, 1);
    let null_size = format!(
        "Size: {} MB, Block size: 512",
        tgt_megabytes(Backing::NULL_SIZE_BYTES)
    );
    assert!(null_lun.contains(&null_size), "{null_lun}");
    assert!(null_lun.contains("Backing store type: null"), "{null_lun}");

    let file_lun = lun_section(&show, 2);
    let file_size = format!(
        "Size: {} MB, Block size: 4096",
        tgt_megabytes(FILE_LUN_BYTES)
    );
    assert!(file_lun.contains(&file_size), "{file_lun}");
    assert!(file_lun.contains("Backing store type: rdwr"), "{file_lun}");
    assert!(
        file_lun.contains(&format!(
            "Backing store path: {}",
            configured.file.display()
        )),
        "{file_lun}"
    );
    assert!(file_lun.contains("Thin-provisioning: Yes"), "{file_lun}");

    let accounts = show
        .split("Account information:")
        .nth(1)
        .unwrap_or_default();
    assert!(accounts.contains(&configured.user), "{show}");
    assert!(accounts.contains("target-answer (outgoing)"), "{show}");
    assert!(show.contains("ACL information:\n        ALL"), "{show}");
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn two_concurrent_instances_are_isolated_and_cleaned_up() {
    let (first, second) = thread::scope(|scope| {
        let first = scope.spawn(|| start_configured(0));
        let second = scope.spawn(|| start_configured(1));
        (
            first.join().expect("instance 0"),
            second.join().expect("instance 1"),
        )
    });
    assert_ne!(first.tgtd.port(), second.tgtd.port());
    assert_ne!(first.tgtd.pid(), second.tgtd.pid());

    for (configured, other) in [(&first, &second), (&second, &first)] {
        assert_listing_matches(configured, &other.iqn);
        assert_eq!(
            configured.tgtd.portal(),
            format!("127.0.0.1:{}", configured.tgtd.port())
        );
        TcpStream::connect_timeout(&configured.tgtd.addr(), CONNECT_TIMEOUT)
            .unwrap_or_else(|error| panic!("connect to {}: {error}", configured.tgtd.portal()));
    }

    for configured in [first, second] {
        let (pid, addr, file) = (
            configured.tgtd.pid(),
            configured.tgtd.addr(),
            configured.file,
        );
        assert!(process_exists(pid));
        drop(configured.tgtd);
        assert!(!process_exists(pid), "tgtd {pid} survived drop");
        assert!(!file.exists(), "temp dir survived drop");
        TcpListener::bind(addr).unwrap_or_else(|error| panic!("port {addr} still busy: {error}"));
    }
}

#[test]
fn set_param_values_are_reported_by_the_target() {
    let tgtd = start_tgtd();
    tgtd.new_target(TID, "iqn.2024-01.test.cxgb3i:params")
        .expect("target");
    let wanted = [
        ("HeaderDigest", "CRC32C"),
        ("DataDigest", "CRC32C"),
        ("InitialR2T", "No"),
        ("ImmediateData", "No"),
        ("FirstBurstLength", "16384"),
        ("MaxRecvDataSegmentLength", "65536"),
        ("MaxBurstLength", "131072"),
        ("MaxOutstandingR2T", "4"),
    ];
    for (key, value) in wanted {
        tgtd.set_param(TID, key, value).expect("set_param");
    }
    let params = tgtd.target_params(TID).expect("target_params");
    for (key, value) in wanted {
        assert_eq!(
            params.get(key).map(String::as_str),
            Some(value),
            "{key}: {params:?}"
        );
    }
}

#[test]
fn tgtadm_failures_carry_its_message() {
    let tgtd = start_tgtd();
    tgtd.new_target(TID, "iqn.2024-01.test.cxgb3i:dup")
        .expect("first target");
    let error = tgtd
        .new_target(TID, "iqn.2024-01.test.cxgb3i:dup")
        .expect_err("duplicate tid must fail");
    assert!(
        error.to_string().contains("this target already exists"),
        "{error}"
    );
}

#[test]
fn restarts_on_the_same_port_after_stop() {
    let first = start_tgtd();
    let addr = first.addr();
    first.stop().expect("stop");
    let second = Tgtd::start_with(addr).expect("restart on the same port");
    assert_eq!(second.addr(), addr);
    TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).expect("connect after restart");
}

#[test]
fn busy_explicit_port_is_reported_as_addr_in_use() {
    let squatter = TcpListener::bind("127.0.0.1:0").expect("bind squatter");
    let addr = squatter.local_addr().expect("squatter addr");
    let error = Tgtd::start_with(addr).expect_err("port is taken");
    assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error}");
    assert!(error.to_string().contains("could not listen on"), "{error}");
}

#[test]
fn serves_an_ipv6_loopback_portal() {
    let tgtd =
        Tgtd::start_with(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))).expect("start on [::1]");
    assert_eq!(tgtd.portal(), format!("[::1]:{}", tgtd.port()));
    TcpStream::connect_timeout(&tgtd.addr(), CONNECT_TIMEOUT).expect("connect over IPv6");
}
