//! `unit-runner`: runs one instance of a systemd service unit the way systemd would, for VMs
//! whose init is not systemd. It speaks the notify protocol (a datagram socket in
//! NOTIFY_SOCKET; READY=1, STATUS=, STOPPING=1 accepted from the main process only, as
//! NotifyAccess=main says), waits TimeoutStartSec for READY=1, restarts the main process as
//! Restart=, RestartSec= and RestartPreventExitStatus= say (up to StartLimitBurst starts
//! unless StartLimitIntervalSec=0), and on SIGTERM runs ExecStop
//! with $MAINPID, then signals what is left and waits TimeoutStopSec.
//!
//! Every step is appended to the events file as `SECONDS EVENT [DETAIL]`, for a test to read:
//! STARTED pid, READY, READY-CHECK ok|failed, STATUS text, STOPPING, IGNORED pid, EXITED
//! status, EXEC-STOP-AFTER-EXIT status (ExecStop after a main process that was ready ended
//! on its own, as systemd runs it), START-TIMEOUT, RESTART n, START-LIMIT, STOP, EXEC-STOP
//! status, STOPPED status.
//!
//! usage: unit-runner --unit FILE --instance NAME --events FILE [--ready-check SHELL-COMMAND]
//! The ready check runs (sh -c) the moment READY=1 arrives, before anything else is read.

use std::fs::{File, OpenOptions};
use std::io::{IoSliceMut, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cxgb3i_tests::unit_file::{Restart, Service};
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, UnixAddr};

const POLL: Duration = Duration::from_millis(100);

static STOP_ASKED: AtomicBool = AtomicBool::new(false);

extern "C" fn ask_stop(_signal: libc::c_int) {
    STOP_ASKED.store(true, Ordering::SeqCst);
}

struct Args {
    unit: PathBuf,
    instance: String,
    events: PathBuf,
    ready_check: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut unit = None;
    let mut instance = None;
    let mut events = None;
    let mut ready_check = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--unit" => unit = Some(PathBuf::from(value)),
            "--instance" => instance = Some(value),
            "--events" => events = Some(PathBuf::from(value)),
            "--ready-check" => ready_check = Some(value),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Args {
        unit: unit.ok_or("--unit is required")?,
        instance: instance.ok_or("--instance is required")?,
        events: events.ok_or("--events is required")?,
        ready_check,
    })
}

struct Events {
    file: File,
    start: Instant,
}

impl Events {
    fn log(&mut self, event: &str, detail: &str) {
        let seconds = self.start.elapsed().as_secs_f64();
        let _ = writeln!(self.file, "{seconds:.3} {event} {detail}");
        let _ = self.file.flush();
    }
}

/// The notify socket, with the sender's credentials on every datagram.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    fn bind() -> std::io::Result<NotifySocket> {
        let path = std::env::temp_dir().join(format!("unit-runner-{}.notify", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path)?;
        setsockopt(&socket, sockopt::PassCred, &true)?;
        socket.set_read_timeout(Some(POLL))?;
        Ok(NotifySocket { socket, path })
    }

    /// One message and its sender's pid, waiting at most [`POLL`].
    fn receive(&self) -> Option<(i32, String)> {
        let mut buffer = [0u8; 4096];
        let mut control = nix::cmsg_space!(libc::ucred);
        let (bytes, pid) = {
            let mut iov = [IoSliceMut::new(&mut buffer)];
            let message = recvmsg::<UnixAddr>(
                self.socket.as_raw_fd(),
                &mut iov,
                Some(&mut control),
                MsgFlags::empty(),
            )
            .ok()?;
            let pid = message.cmsgs().ok()?.find_map(|cmsg| match cmsg {
                ControlMessageOwned::ScmCredentials(credentials) => Some(credentials.pid()),
                _ => None,
            });
            (message.bytes, pid.unwrap_or(0))
        };
        Some((pid, String::from_utf8_lossy(&buffer[..bytes]).into_owned()))
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// How a run of the main process ended.
enum Ended {
    Exited(ExitStatus),
    StartTimeout,
    Stopped,
}

struct Runner {
    service: Service,
    events: Events,
    notify: NotifySocket,
    ready_check: Option<String>,
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("code={code}"),
        (None, Some(signal)) => format!("signal={signal}"),
        _ => "unknown".into(),
    }
}

fn spawn(argv: &[String], envs: &[(&str, String)]) -> std::io::Result<Child> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    Command::new(program)
        .args(args)
        .envs(envs.iter().cloned())
        .spawn()
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) of our own child, which has not been reaped yet.
    unsafe { libc::kill(child.id() as i32, signal) };
}

impl Runner {
    /// Reads what the main process says; returns whether READY=1 came.
    fn read_notifications(&mut self, main_pid: u32) -> bool {
        let mut ready = false;
        while let Some((pid, message)) = self.notify.receive() {
            if pid != main_pid as i32 {
                self.events
                    .log("IGNORED", &format!("pid={pid} {}", message.trim()));
                continue;
            }
            for line in message.lines() {
                if line == "READY=1" {
                    ready = true;
                    self.events.log("READY", "");
                    if let Some(check) = &self.ready_check {
                        let passed = Command::new("sh")
                            .args(["-c", check])
                            .status()
                            .is_ok_and(|status| status.success());
                        self.events
                            .log("READY-CHECK", if passed { "ok" } else { "failed" });
                    }
                } else if let Some(status) = line.strip_prefix("STATUS=") {
                    self.events.log("STATUS", status);
                } else if line == "STOPPING=1" {
                    self.events.log("STOPPING", "");
                }
            }
            if ready {
                break;
            }
        }
        ready
    }

    /// Waits for `child` up to `limit`, reading notifications from `main_pid` meanwhile.
    fn wait(&mut self, child: &mut Child, main_pid: u32, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.read_notifications(main_pid);
        }
    }

    /// ExecStop with $MAINPID, then SIGTERM and SIGKILL for what is left.
    fn stop(&mut self, main: &mut Child) -> ExitStatus {
        self.events.log("STOP", "");
        let main_pid = main.id();
        let deadline = Instant::now() + self.service.timeout_stop;
        for command in self.service.exec_stop.clone() {
            match spawn(&command.argv, &[("MAINPID", main_pid.to_string())]) {
                Ok(mut stopper) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let status = self.wait(&mut stopper, main_pid, left);
                    let detail = status.map_or("timeout".into(), describe);
                    self.events.log("EXEC-STOP", &detail);
                    if status.is_none() {
                        let _ = stopper.kill();
                        let _ = stopper.wait();
                    }
                }
                Err(error) => self
                    .events
                    .log("EXEC-STOP", &format!("spawn failed: {error}")),
            }
        }
        if let Ok(Some(status)) = main.try_wait() {
            return status;
        }
        signal(main, libc::SIGTERM);
        let left = deadline.saturating_duration_since(Instant::now());
        if let Some(status) = self.wait(main, main_pid, left) {
            return status;
        }
        signal(main, libc::SIGKILL);
        main.wait()
            .unwrap_or_else(|_| ExitStatus::from_raw(libc::SIGKILL))
    }

    /// What systemd does when the main process of a started service ends on its own: the
    /// stop commands run all the same, without $MAINPID and with $SERVICE_RESULT saying how
    /// it ended (systemd.service(5), systemd.exec(5)).
    fn stop_after_exit(&mut self, status: ExitStatus) {
        let result = match (status.success(), status.signal()) {
            (true, _) => "success",
            (false, Some(_)) if status.core_dumped() => "core-dump",
            (false, Some(_)) => "signal",
            (false, None) => "exit-code",
        };
        for command in self.service.exec_stop.clone() {
            let outcome = spawn(&command.argv, &[("SERVICE_RESULT", result.to_owned())])
                .and_then(|mut stopper| stopper.wait());
            let detail = match outcome {
                Ok(stopped) => format!("{} SERVICE_RESULT={result}", describe(stopped)),
                Err(error) => format!("spawn failed: {error}"),
            };
            self.events.log("EXEC-STOP-AFTER-EXIT", &detail);
        }
    }

    /// One start: ExecStartPre, ExecStart, READY=1 within TimeoutStartSec, then serving until
    /// the main process exits or a stop is asked.
    fn run_once(&mut self) -> Ended {
        for command in self.service.exec_start_pre.clone() {
            let passed = spawn(&command.argv, &[])
                .and_then(|mut child| child.wait())
                .is_ok_and(|status| status.success());
            if !passed && !command.ignore_failure {
                self.events.log("EXEC-START-PRE", "failed");
                return Ended::Exited(ExitStatus::from_raw(1 << 8));
            }
        }
        let notify_env = ("NOTIFY_SOCKET", self.notify.path.display().to_string());
        let mut main = match spawn(&self.service.exec_start.argv, &[notify_env]) {
            Ok(child) => child,
            Err(error) => {
                self.events.log("EXITED", &format!("spawn failed: {error}"));
                return Ended::Exited(ExitStatus::from_raw(1 << 8));
            }
        };
        let main_pid = main.id();
        self.events.log("STARTED", &format!("pid={main_pid}"));
        let started = Instant::now();
        let mut ready = false;
        loop {
            if STOP_ASKED.load(Ordering::SeqCst) {
                let status = self.stop(&mut main);
                self.events.log("STOPPED", &describe(status));
                return Ended::Stopped;
            }
            if let Ok(Some(status)) = main.try_wait() {
                self.read_notifications(main_pid);
                self.events.log("EXITED", &describe(status));
                if ready {
                    self.stop_after_exit(status);
                }
                return Ended::Exited(status);
            }
            ready |= self.read_notifications(main_pid);
            if !ready && started.elapsed() > self.service.timeout_start {
                self.events.log("START-TIMEOUT", "");
                let status = self.stop(&mut main);
                self.events.log("STOPPED", &describe(status));
                return Ended::StartTimeout;
            }
        }
    }

    fn restarts_after(&self, ended: &Ended) -> bool {
        match (self.service.restart, ended) {
            (_, Ended::Stopped) | (Restart::No, _) => false,
            (Restart::Always, _) | (Restart::OnFailure, Ended::StartTimeout) => true,
            (Restart::OnFailure, Ended::Exited(status)) => {
                !status.success()
                    && !status.code().is_some_and(|code| {
                        self.service.restart_prevent_exit_status.contains(&code)
                    })
            }
        }
    }

    fn run(&mut self) -> ExitCode {
        let mut starts = 0;
        loop {
            starts += 1;
            if self
                .service
                .start_limit_burst
                .is_some_and(|burst| starts > burst)
            {
                self.events.log("START-LIMIT", "");
                return ExitCode::FAILURE;
            }
            let ended = self.run_once();
            if !self.restarts_after(&ended) {
                return match ended {
                    Ended::Stopped => ExitCode::SUCCESS,
                    Ended::Exited(status) if status.success() => ExitCode::SUCCESS,
                    _ => ExitCode::FAILURE,
                };
            }
            self.events.log("RESTART", &starts.to_string());
            let resume = Instant::now() + self.service.restart_sec;
            while Instant::now() < resume {
                if STOP_ASKED.load(Ordering::SeqCst) {
                    return ExitCode::SUCCESS;
                }
                std::thread::sleep(POLL);
            }
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("unit-runner: {error}");
            return ExitCode::from(2);
        }
    };
    let setup = || -> Result<Runner, String> {
        let text = std::fs::read_to_string(&args.unit)
            .map_err(|error| format!("{}: {error}", args.unit.display()))?;
        let service = Service::parse(&text, &args.instance)
            .map_err(|error| format!("{}: {error}", args.unit.display()))?;
        if service.service_type != "notify" {
            return Err(format!(
                "Type={} (the runner runs Type=notify)",
                service.service_type
            ));
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&args.events)
            .map_err(|error| format!("{}: {error}", args.events.display()))?;
        let notify = NotifySocket::bind().map_err(|error| format!("notify socket: {error}"))?;
        Ok(Runner {
            service,
            events: Events {
                file,
                start: Instant::now(),
            },
            notify,
            ready_check: args.ready_check.clone(),
        })
    };
    let mut runner = match setup() {
        Ok(runner) => runner,
        Err(error) => {
            eprintln!("unit-runner: {error}");
            return ExitCode::from(2);
        }
    };
    let handler = ask_stop as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
    runner.run()
}
