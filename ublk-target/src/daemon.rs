//! Process plumbing for the device daemon: standard descriptors, going to the background,
//! its own mount namespace, and the signals the control thread waits for.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::{fork, setsid, ForkResult};

use crate::device::notify;

/// ublksrv's `ublk` starts targets with stdin, stdout and stderr closed. Anything opened then
/// would get descriptor 0, 1 or 2 and receive stray prints (the iSCSI socket!), so they are
/// pointed at /dev/null first.
pub(crate) fn ensure_standard_fds() -> io::Result<()> {
    for fd in 0..=2 {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 && Errno::last() == Errno::EBADF {
            // The lowest free descriptor is `fd` itself: the lower ones are open by now.
            let null = OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")?;
            if null.as_raw_fd() != fd {
                // SAFETY: dup2 onto a descriptor we just found closed.
                if unsafe { libc::dup2(null.as_raw_fd(), fd) } == -1 {
                    return Err(io::Error::last_os_error());
                }
            } else {
                std::mem::forget(null);
            }
        }
    }
    Ok(())
}

/// Points stdin, stdout and stderr at /dev/null: the daemon is on its own once the device is
/// live and must not keep its starter's terminal or pipes open.
pub(crate) fn detach_standard_fds() -> io::Result<()> {
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..=2 {
        // SAFETY: dup2 replaces a standard descriptor with /dev/null.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Which side of [`fork_to_background`] we are on.
pub(crate) enum Forked {
    /// The shell's process: wait on this pipe for the daemon's startup report.
    Parent(File),
    /// The daemon (new session): report on this pipe.
    Daemon(OwnedFd),
}

/// Forks the daemon off, in a session of its own. Must be called while the process has a
/// single thread.
pub(crate) fn fork_to_background() -> io::Result<Forked> {
    let (read, write) = nix::unistd::pipe()?;
    // SAFETY: the caller guarantees no other thread exists, so the child inherits a
    // consistent process.
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => {
            drop(write);
            Ok(Forked::Parent(File::from(read)))
        }
        ForkResult::Child => {
            drop(read);
            setsid()?;
            Ok(Forked::Daemon(write))
        }
    }
}

/// What the daemon reported on the pipe about starting the device (see `device::notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartupReport {
    Live(u32),
    Failed,
    /// The pipe closed with nothing (or a short value) written.
    Silent,
}

/// Reads the daemon's report: `dev_id + 1`, or the failure value.
pub(crate) fn read_startup_report(mut pipe: impl Read) -> StartupReport {
    let mut bytes = [0u8; 8];
    let mut filled = 0;
    while filled < bytes.len() {
        match pipe.read(&mut bytes[filled..]) {
            Ok(0) => return StartupReport::Silent,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return StartupReport::Silent,
        }
    }
    let value = u64::from_ne_bytes(bytes);
    if value == notify::FAILED {
        return StartupReport::Failed;
    }
    match value.checked_sub(1).map(u32::try_from) {
        Some(Ok(id)) => StartupReport::Live(id),
        _ => StartupReport::Failed,
    }
}

/// Gives the daemon its own mount namespace with private propagation, so a file system
/// mounted on its device elsewhere never pins it (ublksrv README; libublk-rs #50/#51). Must
/// be called while the process has a single thread.
///
/// The new namespace starts as a copy of the caller's: a daemon started by `ublk recover`
/// while a file system on a ublk device is mounted would hold its own copy of that mount, and
/// the file system would outlive its `umount` inside the daemon, which then cannot stop (the
/// kernel's STOP_DEV waits for the file system's writes, which need the daemon). So every
/// mount of a ublk device is detached in the copy; the caller's namespace keeps its mounts.
pub(crate) fn private_mount_namespace() -> io::Result<()> {
    unshare(CloneFlags::CLONE_NEWNS)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    for target in ublk_mount_points(&mountinfo).iter().rev() {
        if let Err(error) = nix::mount::umount2(target.as_str(), nix::mount::MntFlags::MNT_DETACH) {
            tracing::warn!(target, %error, "cannot detach a ublk device's mount in the daemon's namespace");
        }
    }
    Ok(())
}

/// Mount points, in mountinfo order, whose source is a ublk block device.
fn ublk_mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (fields, after) = line.split_once(" - ")?;
            let mount_point = fields.split(' ').nth(4)?;
            let source = after.split(' ').nth(1)?;
            source
                .starts_with("/dev/ublkb")
                .then(|| unescape_mountinfo(mount_point))
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the control thread is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ControlSignal {
    /// SIGTERM, SIGINT, SIGHUP: stop and remove the device.
    Stop,
    /// SIGUSR1: have the queues log their counters.
    Stats,
}

fn control_signals() -> SigSet {
    let mut set = SigSet::empty();
    for signal in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
    ] {
        set.add(signal);
    }
    set
}

/// Blocks the control signals in this thread and every thread it starts afterwards, so they
/// wait for [`wait_control_signal`].
pub(crate) fn block_control_signals() {
    if let Err(error) =
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&control_signals()), None)
    {
        tracing::warn!(%error, "cannot block termination signals");
    }
}

/// Waits up to `timeout` for a control signal.
pub(crate) fn wait_control_signal(timeout: Duration) -> Option<ControlSignal> {
    let set = control_signals();
    let timespec = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: the set and timespec are valid for the call; no siginfo is requested.
    let signo = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &timespec) };
    match Signal::try_from(signo) {
        Ok(Signal::SIGUSR1) => Some(ControlSignal::Stats),
        Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP) => Some(ControlSignal::Stop),
        _ => None,
    }
}

/// The CPUs thread `tid` may run on.
pub(crate) fn thread_cpus(tid: i32) -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the set is valid for writes of its own size.
    let result =
        unsafe { libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if result != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: the index is below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

#[cfg(test)]
mod tests;
