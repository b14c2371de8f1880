//! The status socket: a small thread of the daemon answers each connection on
//! `/run/ublk-cxgb3i/<id>.sock` with the device's [`LiveStatus`] as one line of JSON and
//! closes it. No request is read, so a client cannot make the daemon do anything but
//! describe itself. The socket is mode 0600 (root's, like the device) and removed when the
//! daemon stops; one left by a daemon that crashed refuses connections, which tells `ublk
//! list` the live part is unavailable.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use thiserror::Error;

use super::{DeviceStatus, LiveStatus};

/// Where the daemons' status sockets are.
pub(crate) const SOCKET_DIR: &str = "/run/ublk-cxgb3i";
/// How often the status thread looks whether it should stop.
const STOP_POLL: Duration = Duration::from_millis(200);
/// A client that does not take its answer within this is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest answer a client reads (a 32-queue device's is some 40 KiB).
const MAX_ANSWER: u64 = 4 << 20;

/// Device `dev_id`'s status socket in `dir`.
pub(crate) fn socket_path(dir: &Path, dev_id: u32) -> PathBuf {
    dir.join(format!("{dev_id}.sock"))
}

/// The status socket cannot be served or read.
#[derive(Debug, Error)]
pub(crate) enum StatusError {
    #[error("cannot create {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("{path} exists and is not a socket")]
    NotASocket { path: PathBuf },
    #[error("cannot listen on {path}: {source}")]
    Listen { path: PathBuf, source: io::Error },
    #[error("cannot start the status thread: {0}")]
    Thread(io::Error),
    #[error("no daemon answers on {path}: {source}")]
    Connect { path: PathBuf, source: io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} answered something that is not a status: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The status thread, serving until dropped; dropping it removes the socket.
#[derive(Debug)]
pub(crate) struct StatusServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StatusServer {
    /// Listens on `path` (replacing a socket a dead daemon left there) and serves `status`
    /// from a thread of its own.
    pub(crate) fn start(
        path: &Path,
        status: Arc<DeviceStatus>,
    ) -> Result<StatusServer, StatusError> {
        let listener = listen(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let span = tracing::Span::current();
        let thread = std::thread::Builder::new()
            .name("ublk-status".into())
            .spawn(move || {
                let _entered = span.entered();
                serve(&listener, &status, &thread_stop);
            })
            .map_err(|error| {
                let _ = std::fs::remove_file(path);
                StatusError::Thread(error)
            })?;
        Ok(StatusServer {
            path: path.to_owned(),
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::debug!(path = %self.path.display(), %error, "status socket already gone");
        }
    }
}

fn listen(path: &Path) -> Result<UnixListener, StatusError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| StatusError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // A daemon of this device that died left it (only one daemon serves a device).
            let _ = std::fs::remove_file(path);
        }
        Ok(_) => {
            return Err(StatusError::NotASocket {
                path: path.to_owned(),
            })
        }
        Err(_) => {}
    }
    let listen_error = |source| StatusError::Listen {
        path: path.to_owned(),
        source,
    };
    let listener = UnixListener::bind(path).map_err(listen_error)?;
    // Between bind and chmod the socket has the umask's mode; what it tells holds no secret.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(listen_error)?;
    listener.set_nonblocking(true).map_err(listen_error)?;
    Ok(listener)
}

/// Answers connections until `stop` is set.
fn serve(listener: &UnixListener, status: &DeviceStatus, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        if !wait_readable(listener, STOP_POLL) {
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(error) = answer(stream, status) {
                    tracing::debug!(%error, "status client went away");
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => {
                tracing::warn!(%error, "status socket: accept failed");
                std::thread::sleep(STOP_POLL);
            }
        }
    }
}

/// Whether a connection waits on the listener, waiting at most `timeout`.
fn wait_readable(listener: &UnixListener, timeout: Duration) -> bool {
    let mut poll_fd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&mut poll_fd, 1, millis) };
    ready > 0 && poll_fd.revents & libc::POLLIN != 0
}

fn answer(mut stream: UnixStream, status: &DeviceStatus) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut json = serde_json::to_vec(&status.snapshot()).map_err(io::Error::other)?;
    json.push(b'\n');
    stream.write_all(&json)
}

/// Asks the daemon listening on `path` for its status, waiting at most `timeout`.
pub(crate) fn query(path: &Path, timeout: Duration) -> Result<LiveStatus, StatusError> {
    let stream = UnixStream::connect(path).map_err(|source| StatusError::Connect {
        path: path.to_owned(),
        source,
    })?;
    let read_error = |source| StatusError::Read {
        path: path.to_owned(),
        source,
    };
    stream.set_read_timeout(Some(timeout)).map_err(read_error)?;
    let mut bytes = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    serde_json::from_slice(&bytes).map_err(|source| StatusError::Parse {
        path: path.to_owned(),
        source,
    })
}
