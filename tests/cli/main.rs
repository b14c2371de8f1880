//! The `ublk.cxgb3i` command line against a real tgtd: discover, probe, perf, clear
//! one-line errors for bad input and bad configuration files, and passwords kept out of argv.

mod internal;
mod samples;

use std::process::{Command, Output};

use cxgb3i_tests::hostile::Redirector;
use cxgb3i_tests::{Backing, Tgtd};

const IQN: &str = "iqn.2026-11.org.ublk-cxgb3i:cli";

fn ublk_cxgb3i(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ublk-cxgb3i"))
        .args(args)
        .output()
        .expect("run ublk.cxgb3i")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn target() -> Tgtd {
    let tgtd = Tgtd::start().expect("tgtd");
    tgtd.new_target(1, IQN)
        .unwrap()
        .add_lun(1, 1, Backing::Null, None, &[])
        .unwrap()
        .bind_all(1)
        .unwrap();
    tgtd
}

fn url(tgtd: &Tgtd) -> String {
    format!("iscsi://{}/{IQN}/1", tgtd.portal())
}

#[test]
fn discover_prints_portal_and_target() {
    let tgtd = target();
    let out = ublk_cxgb3i(&["discover", &tgtd.portal()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("{},1 {IQN}", tgtd.portal()));
    let out = ublk_cxgb3i(&["discover", &tgtd.portal(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["target"], IQN);
}

#[test]
fn probe_describes_the_lun() {
    let tgtd = target();
    let out = ublk_cxgb3i(&["probe", &url(&tgtd), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["vendor"], "IET");
    assert_eq!(json["logical_block_size"], 512);
    assert_eq!(json["capacity_bytes"], 1u64 << 40);
    let human = stdout(&ublk_cxgb3i(&["probe", &url(&tgtd)]));
    assert!(human.contains("capacity:         1T"), "{human}");
}

#[test]
fn perf_reports_numbers() {
    let tgtd = target();
    for (rw, bs) in [
        ("randread", "4k"),
        ("randwrite", "4k"),
        ("read", "1M"),
        ("write", "64k"),
    ] {
        let out = ublk_cxgb3i(&[
            "perf",
            &url(&tgtd),
            "--rw",
            rw,
            "--bs",
            bs,
            "--iodepth",
            "4",
            "--runtime",
            "1",
            "--json",
        ]);
        assert!(out.status.success(), "{rw}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(json["ios"].as_u64().unwrap() > 0, "{json}");
        assert!(json["iops"].as_f64().unwrap() > 0.0);
        assert!(json["cpu_us_per_io"].as_f64().unwrap() > 0.0);
        if rw.contains("read") {
            assert!(
                json["ddp_bytes"].as_u64().unwrap() > 0,
                "reads are placed: {json}"
            );
        }
    }
}

#[test]
fn bad_input_gives_one_clear_line() {
    let tgtd = target();
    let good_url = url(&tgtd);
    let unknown = format!(
        "iscsi://{}/iqn.2026-11.org.ublk-cxgb3i:nope/1",
        tgtd.portal()
    );
    let wrong_secret = format!("iscsi://alice%wrong-secret-1@{}/{IQN}/1", tgtd.portal());
    let cases = [
        (vec!["probe", "iscsi://host:99999/iqn.x/1"], "bad port"),
        (vec!["probe", "http://host/iqn.x/1"], "scheme"),
        (vec!["probe", &unknown], "target not found"),
        (vec!["probe", "iscsi://127.0.0.1:1/iqn.x/1"], "refused"),
        (vec!["perf", &good_url, "--bs", "4q"], "bad size"),
        (vec!["probe", &wrong_secret], "authentication"),
    ];
    tgtd.new_account("alice", "alice-secret-12")
        .unwrap()
        .bind_account(1, "alice", false)
        .unwrap();
    for (args, expected) in cases {
        let out = ublk_cxgb3i(&args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(expected), "{args:?}: {err}");
        // One line of error; clap adds its usual "--help" hint to usage errors (exit code 2).
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("For more information"))
            .collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(!err.contains("wrong-secret"), "secret leaked: {err}");
    }
}

/// `add` refuses a request buffer size ublk cannot use before it looks for ublk_drv (this
/// host may not have it), in one line.
#[test]
fn add_refuses_bad_buffer_sizes() {
    for (bytes, expected) in [
        ("5000", "not a whole number of 4096-byte pages"),
        ("67108864", "over the 33554432-byte maximum"),
    ] {
        let out = ublk_cxgb3i(&[
            "add",
            "--max_io_buf_bytes",
            bytes,
            "iscsi://127.0.0.1/iqn.2026-11.org.ublk-cxgb3i:cli/1",
        ]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{bytes} accepted");
        assert!(err.contains(expected), "{bytes}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

fn ublk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ublk"))
        .args(args)
        .output()
        .expect("run ublk")
}

/// `help` prints usage and exits 0, as ublksrv's does; `-t cxgb3i` (what `ublk help -t
/// cxgb3i` runs) gives the add options, another type is refused in one line.
#[test]
fn help_with_and_without_a_target_type() {
    let out = ublk_cxgb3i(&["help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Commands:"), "{}", stdout(&out));
    assert!(stdout(&out).contains("discover"), "{}", stdout(&out));

    for args in [
        &["help", "-t", "cxgb3i"][..],
        &["help", "add"],
        &["help", "--type=cxgb3i"],
    ] {
        let out = ublk_cxgb3i(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("Usage: ublk.cxgb3i add"), "{args:?}: {text}");
        assert!(text.contains("--max_io_buf_bytes"), "{args:?}: {text}");
        assert!(
            text.contains("128 MiB"),
            "the memory cost is stated: {text}"
        );
    }

    for (args, expected) in [
        (&["help", "-t", "loop"][..], "-t loop is not it"),
        (&["help", "nosuch"], "no command nosuch"),
    ] {
        let out = ublk_cxgb3i(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
}

/// The front end: `ublk help` is its own usage; `ublk help -t cxgb3i` runs `ublk.cxgb3i help
/// -t cxgb3i` in the foreground; an unknown type is an error.
#[test]
fn front_end_help() {
    let out = ublk(&["help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ublk help [-t TYPE]"),
        "{}",
        stdout(&out)
    );

    let out = ublk(&["help", "-t", "cxgb3i"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("--max_io_buf_bytes"),
        "{}",
        stdout(&out)
    );

    let out = ublk(&["help", "-t", "nosuch"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no such target"), "{}", stderr(&out));
}

/// A portal that redirects the login (temporarily and permanently) sends the probe to the
/// real target, as a load-balanced portal does.
#[test]
fn probe_follows_a_login_redirection() {
    let tgtd = target();
    for temporary in [true, false] {
        let redirector = Redirector::start(tgtd.addr(), temporary).unwrap();
        let url = format!("iscsi://{}/{IQN}/1", redirector.addr());
        let out = ublk_cxgb3i(&["probe", &url, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["vendor"], "IET");
        assert_eq!(redirector.logins(), 1);
    }
}

/// A redirection to a portal that is gone ends with the connect error, naming the portal.
#[test]
fn a_redirection_to_a_dead_portal_ends_with_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let redirector = Redirector::start(dead, true).unwrap();
    let url = format!("iscsi://{}/{IQN}/1", redirector.addr());
    let out = ublk_cxgb3i(&["probe", &url]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&dead.to_string()), "{err}");
    assert_eq!(redirector.logins(), 1);
}

/// A portal that redirects to itself is followed a few times, then given up on with the
/// redirection named.
#[test]
fn a_redirection_loop_is_given_up_on() {
    let redirector = Redirector::start_loop(false).unwrap();
    let url = format!("iscsi://{}/{IQN}/1", redirector.addr());
    let out = ublk_cxgb3i(&["probe", &url]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("redirects the login"), "{err}");
    assert_eq!(
        redirector.logins(),
        5,
        "the first login and four redirections"
    );
}

/// A scratch directory for configuration files, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cxgb3i-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str, mode: u32) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path.display().to_string()
    }

    /// Runs `program args` with this directory as the configuration directory.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .env("UBLK_CXGB3I_CONFIG_DIR", &self.0)
            .output()
            .expect("run")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An invalid configuration file is refused before anything else happens, in one line that
/// names the file, the line and the key; through the `ublk` front end as well (ublk.cxgb3i
/// keeps its stderr until the device is live).
#[test]
fn a_bad_configuration_names_file_line_and_key() {
    let scratch = Scratch::new("bad-config");
    let typo = scratch.write(
        "typo.toml",
        "url = \"iscsi://127.0.0.1/iqn.x:y/1\"\n\n[timeouts]\ncomand = 5\n",
        0o644,
    );
    let wrong_type = scratch.write("type.toml", "queues = \"two\"\n", 0o644);
    let out_of_range = scratch.write("range.toml", "# a comment\ndepth = 5000\n", 0o644);
    for (file, expected) in [
        (
            &typo,
            format!("{typo}:4: timeouts.comand: unknown field `comand`"),
        ),
        (&wrong_type, format!("{wrong_type}:1: queues: invalid type")),
        (
            &out_of_range,
            format!("{out_of_range}:2: depth: 5000 is not in 1..=4096"),
        ),
    ] {
        for out in [
            scratch.run(
                env!("CARGO_BIN_EXE_ublk-cxgb3i"),
                &["add", "--config", file],
            ),
            scratch.run(
                env!("CARGO_BIN_EXE_ublk"),
                &["add", "-t", "cxgb3i", "--config", file],
            ),
        ] {
            let err = stderr(&out);
            assert!(!out.status.success(), "{file} accepted");
            assert!(err.contains(&expected), "{file}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "{err}");
        }
    }
    // A name in the configuration directory, and the defaults file checked as well.
    scratch.write("defaults.toml", "url = \"iscsi://h/iqn.x:y/1\"\n", 0o644);
    let out = scratch.run(
        env!("CARGO_BIN_EXE_ublk-cxgb3i"),
        &["add", "--config", "type"],
    );
    let err = stderr(&out);
    assert!(
        err.contains("defaults.toml:1: url: belongs in a device's file"),
        "{err}"
    );
}

/// A secret file that group or others can read is not read; the error names it and its
/// mode. So is a configuration file holding a secret itself.
#[test]
fn secret_files_must_be_private() {
    let scratch = Scratch::new("secret-mode");
    let secret = scratch.write("alice.secret", "alice-secret-12\n", 0o640);
    let config = scratch.write(
        "disk.toml",
        "url = \"iscsi://127.0.0.1/iqn.x:y/1\"\nchap_user = \"alice\"\nchap_secret_file = \"alice.secret\"\n",
        0o644,
    );
    let out = scratch.run(
        env!("CARGO_BIN_EXE_ublk-cxgb3i"),
        &["add", "--config", &config],
    );
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("{config}:3: chap_secret_file")),
        "{err}"
    );
    assert!(
        err.contains(&format!("refusing to read {secret}: it is mode 0640")),
        "{err}"
    );
    assert!(!err.contains("alice-secret-12"), "{err}");

    let inline = scratch.write(
        "inline.toml",
        "url = \"iscsi://127.0.0.1/iqn.x:y/1\"\nchap_user = \"alice\"\nchap_secret = \"alice-secret-12\"\n",
        0o604,
    );
    let out = scratch.run(
        env!("CARGO_BIN_EXE_ublk-cxgb3i"),
        &["add", "--config", &inline],
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{inline}:3: chap_secret: the file holds a secret but is mode 0604"
        )),
        "{err}"
    );
    assert!(!err.contains("alice-secret-12"), "{err}");
}

/// What /proc/PID/cmdline shows of a process, arguments joined by spaces.
fn cmdline(pid: u32) -> String {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&bytes).replace('\0', " ")
}

/// `ublk.cxgb3i probe` with a CHAP password in its URL logs in with it, and while it runs
/// /proc/PID/cmdline shows the URL with the password overwritten.
#[test]
fn a_password_on_the_command_line_is_not_in_proc_cmdline() {
    const SECRET: &str = "cmdline-secret-12";
    let tgtd = target();
    tgtd.new_account("alice", SECRET)
        .unwrap()
        .bind_account(1, "alice", false)
        .unwrap();
    let with_chap = format!("iscsi://alice%{SECRET}@{}/{IQN}/1", tgtd.portal());
    let out = ublk_cxgb3i(&["probe", &with_chap, "--json"]);
    assert!(
        out.status.success(),
        "the password still logs in: {}",
        stderr(&out)
    );

    // A portal that accepts and never answers holds the probe in its login: by then the
    // process is well past the start of main.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "iscsi://alice%{SECRET}@{}/{IQN}/1",
        listener.local_addr().unwrap()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_ublk-cxgb3i"))
        .args(["probe", &url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (_connection, _) = listener.accept().unwrap();
    let shown = cmdline(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(
        shown.contains(&format!("iscsi://alice%{}@", "*".repeat(SECRET.len()))),
        "{shown}"
    );
}

/// The `ublk` front end hands a URL's passwords to the target program through a pipe
/// (`--secrets-fd N`), not its argv, and hides them in its own argv too. A stand-in target
/// program beside a copy of `ublk` records what it got.
#[test]
fn the_front_end_passes_passwords_through_a_pipe() {
    use std::os::unix::fs::PermissionsExt;
    const SECRET: &str = "piped-secret-12";
    const TARGET_SECRET: &str = "mutual-secret-34";
    let scratch = Scratch::new("front-end-pipe");
    let front = scratch.0.join("ublk");
    std::fs::copy(env!("CARGO_BIN_EXE_ublk"), &front).unwrap();
    scratch.write(
        "ublk.cxgb3i",
        r#"#!/bin/bash
seen=$(dirname "$0")/seen
printf '%s\n' "$@" >"$seen.argv"
tr '\0' ' ' <"/proc/$PPID/cmdline" >"$seen.parent"
prev=
for arg in "$@"; do
	[[ $prev == --secrets-fd ]] && cat "/proc/$$/fd/$arg" >"$seen.secrets"
	prev=$arg
done
exit 1
"#,
        0o755,
    );
    std::fs::set_permissions(&front, std::fs::Permissions::from_mode(0o755)).unwrap();
    let url = format!(
        "iscsi://alice%{SECRET}@127.0.0.1/{IQN}/1?target_user=tgt&target_password={TARGET_SECRET}"
    );
    let out = scratch.run(
        front.to_str().unwrap(),
        &["add", "-t", "cxgb3i", "-q", "2", &url],
    );
    assert_eq!(out.status.code(), Some(234), "{}", stderr(&out));
    let read = |name: &str| std::fs::read_to_string(scratch.0.join(name)).unwrap();
    let argv = read("seen.argv");
    assert!(
        !argv.contains(SECRET) && !argv.contains(TARGET_SECRET),
        "{argv}"
    );
    assert!(
        argv.contains(&format!(
            "iscsi://alice%@127.0.0.1/{IQN}/1?target_user=tgt&target_password=\n"
        )),
        "{argv}"
    );
    assert!(argv.contains("--secrets-fd\n"), "{argv}");
    assert_eq!(
        read("seen.secrets"),
        format!("LIBISCSI_CHAP_PASSWORD={SECRET}\nLIBISCSI_CHAP_TARGET_PASSWORD={TARGET_SECRET}\n")
    );
    let parent = read("seen.parent");
    assert!(
        parent.contains("alice%*") && !parent.contains(SECRET),
        "{parent}"
    );
}
