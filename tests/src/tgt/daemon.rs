//! Lifecycle of one private tgtd: pick a port, spawn, wait until it serves, kill on drop.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::private_dir::PrivateDir;
use super::programs::locate;
use super::tgtadm::{Tgtadm, IPC_SOCKET_ENV};

/// tgtd answers tgtadm within ~15 ms on an idle machine; this bound only guards against hangs
/// on a loaded CI box.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
const STARTUP_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A port found free can be taken by someone else before tgtd binds it; try a few others.
const PORT_ATTEMPTS: u32 = 5;

/// `sun_path` holds 108 bytes including the terminating NUL.
const UNIX_SOCKET_PATH_MAX: usize = 107;

/// What tgtd appends to `TGT_IPC_SOCKET`: "." and the control port (always the default, 0).
const CONTROL_PORT_SUFFIX: &str = ".0";

/// A running tgtd serving iSCSI on one loopback portal, private to its owner.
///
/// Dropping it SIGKILLs tgtd (which ignores SIGTERM while it has targets), reaps it, and
/// removes its temp dir. Configure targets with the methods in the setup module
/// ([`Tgtd::new_target`], [`Tgtd::add_lun`], ...).
#[derive(Debug)]
pub struct Tgtd {
    process: Child,
    reaped: bool,
    portal: SocketAddr,
    tgtadm: Tgtadm,
    scratch_files_created: AtomicU64,
    /// Declared last so it is removed only after the process is gone.
    dir: PrivateDir,
}

impl Tgtd {
    /// Starts a tgtd on `127.0.0.1` and a free port.
    pub fn start() -> io::Result<Tgtd> {
        Self::start_with(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// Starts a tgtd whose only portal is `portal` (e.g. `[::1]:0`). Port 0 picks a free port
    /// (retrying if it is taken meanwhile); any other port is used as given, which lets a test
    /// bring a "crashed" target back on the address its initiator reconnects to.
    pub fn start_with(portal: SocketAddr) -> io::Result<Tgtd> {
        let tgtd_program = locate("tgtd")?;
        let tgtadm_program = locate("tgtadm")?;
        if portal.port() != 0 {
            return Self::spawn(&tgtd_program, &tgtadm_program, portal);
        }
        let mut attempt = 1;
        loop {
            let candidate = SocketAddr::new(portal.ip(), unused_port(portal.ip())?);
            match Self::spawn(&tgtd_program, &tgtadm_program, candidate) {
                Err(error)
                    if error.kind() == io::ErrorKind::AddrInUse && attempt < PORT_ATTEMPTS =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn spawn(tgtd_program: &Path, tgtadm_program: &Path, portal: SocketAddr) -> io::Result<Tgtd> {
        let dir = PrivateDir::create()?;
        let ipc_socket = dir.path().join("socket");
        let socket_path_len = ipc_socket.as_os_str().len() + CONTROL_PORT_SUFFIX.len();
        if socket_path_len > UNIX_SOCKET_PATH_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "tgtd socket path {}{CONTROL_PORT_SUFFIX} is {socket_path_len} bytes, over the \
                     {UNIX_SOCKET_PATH_MAX}-byte unix socket limit: set TMPDIR to a shorter dir",
                    ipc_socket.display()
                ),
            ));
        }
        // A file, not a pipe: nobody drains tgtd's output while tests run, and a full pipe
        // would block tgtd.
        let log = File::create(log_path_in(&dir))?;
        let process = Command::new(tgtd_program)
            .arg("-f")
            .arg("--iscsi")
            .arg(format!("portal={portal}"))
            .env(IPC_SOCKET_ENV, &ipc_socket)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot run {}: {error}", tgtd_program.display()),
                )
            })?;
        // Owned from here on, so every early return below kills it.
        let mut tgtd = Tgtd {
            process,
            reaped: false,
            portal,
            tgtadm: Tgtadm::new(tgtadm_program.to_path_buf(), ipc_socket),
            scratch_files_created: AtomicU64::new(0),
            dir,
        };
        tgtd.wait_until_serving()?;
        Ok(tgtd)
    }

    /// Polls tgtadm until tgtd answers, then checks it really listens on our portal.
    ///
    /// tgtd opens its management socket before binding portals but only serves requests from
    /// its event loop, which starts after the portals are set up: the first answer is final.
    fn wait_until_serving(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.process.try_wait()? {
                self.reaped = true;
                return Err(io::Error::other(format!(
                    "tgtd for portal {} exited with {status} during start-up; its output:\n{}",
                    self.portal,
                    self.log_or_reason()
                )));
            }
            match self.tgtadm.run(["--mode", "portal", "--op", "show"]) {
                Ok(portals) => return self.check_portal_listed(&portals),
                Err(error) if Instant::now() >= deadline => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "tgtd for portal {} did not answer tgtadm within {STARTUP_TIMEOUT:?}: \
                             {error}\ntgtd output:\n{}",
                            self.portal,
                            self.log_or_reason()
                        ),
                    ));
                }
                Err(_) => thread::sleep(STARTUP_POLL_INTERVAL),
            }
        }
    }

    /// tgtd keeps running when it cannot bind the requested portal (it falls back to
    /// 0.0.0.0:3260), so a missing portal is reported as `AddrInUse` for the caller to retry.
    fn check_portal_listed(&self, portal_listing: &str) -> io::Result<()> {
        let wanted = self.portal.to_string();
        let listed = portal_listing
            .lines()
            .filter_map(|line| line.trim().strip_prefix("Portal: "))
            .filter_map(|portal_and_group| portal_and_group.rsplit_once(','))
            .any(|(address, _portal_group)| address == wanted);
        if listed {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "tgtd could not listen on {wanted}; it lists:\n{}\ntgtd output:\n{}",
                portal_listing.trim_end(),
                self.log_or_reason()
            ),
        ))
    }

    /// Kills and reaps tgtd and removes its temp dir, reporting failures that `Drop` ignores.
    pub fn stop(mut self) -> io::Result<()> {
        self.kill_and_reap()
    }

    fn kill_and_reap(&mut self) -> io::Result<()> {
        if self.reaped {
            return Ok(());
        }
        self.process.kill()?;
        self.process.wait()?;
        self.reaped = true;
        Ok(())
    }

    /// The iSCSI portal port.
    pub fn port(&self) -> u16 {
        self.portal.port()
    }

    /// The iSCSI portal address.
    pub fn addr(&self) -> SocketAddr {
        self.portal
    }

    /// The portal as initiators write it: `127.0.0.1:PORT` or `[::1]:PORT`.
    pub fn portal(&self) -> String {
        self.portal.to_string()
    }

    /// tgtd's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Everything tgtd has written to stdout/stderr so far.
    pub fn log(&self) -> io::Result<String> {
        let bytes = fs::read(log_path_in(&self.dir))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn log_or_reason(&self) -> String {
        self.log()
            .unwrap_or_else(|error| format!("(cannot read tgtd's log: {error})"))
    }

    /// Runs `tgtadm --lld iscsi ARGS` against this instance and returns its stdout, for
    /// operations without a dedicated method (e.g. `--mode conn --op delete` to drop a
    /// connection). Errors carry tgtadm's stderr.
    pub fn tgtadm(&self, args: &[&str]) -> io::Result<String> {
        self.tgtadm.run(args)
    }

    /// Creates a sparse file of `size_bytes` in this instance's temp dir (removed with it),
    /// for [`Backing::File`](super::Backing::File) LUNs.
    pub fn scratch_file(&self, size_bytes: u64) -> io::Result<PathBuf> {
        let number = self.scratch_files_created.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("scratch-{number}.img"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.set_len(size_bytes)?;
        Ok(path)
    }
}

impl Drop for Tgtd {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; `stop` exists for callers who want them.
        let _ = self.kill_and_reap();
    }
}

fn log_path_in(dir: &PrivateDir) -> PathBuf {
    dir.path().join("tgtd.log")
}

/// Asks the kernel for a free port on `ip` and releases it for tgtd to bind.
fn unused_port(ip: IpAddr) -> io::Result<u16> {
    let listener = TcpListener::bind((ip, 0)).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot bind a probe socket on {ip} to find a free port: {error}"),
        )
    })?;
    Ok(listener.local_addr()?.port())
}
