//! Logging through `tracing` (filter with RUST_LOG, default `info`): to stderr while the
//! process has one worth writing to, to syslog (as `ublksrvd-cxgb3i`, like ublksrv's
//! daemons) once the daemon has detached from it.

use std::ffi::CString;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

static TO_SYSLOG: AtomicBool = AtomicBool::new(false);
static SYSLOG_IDENT: &std::ffi::CStr = c"ublksrvd-cxgb3i";

/// Without RUST_LOG: what reaches a terminal is warnings and errors (a failed command says why
/// in one line of its own, so the engine's own report of a refused login is left out) ...
const TERMINAL_FILTER: &str = "warn,t3_hw=error";
/// ... and the daemon's syslog gets the whole story.
const SYSLOG_FILTER: &str = "info";

type FilterHandle = reload::Handle<EnvFilter, Registry>;
static FILTER: OnceLock<FilterHandle> = OnceLock::new();

/// Installs the subscriber (once; later calls do nothing). Also routes libublk's `log`
/// records into it.
pub fn init() {
    let explicit = std::env::var_os(EnvFilter::DEFAULT_ENV).is_some();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(TERMINAL_FILTER));
    let (filter, handle) = reload::Layer::new(filter);
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(Sink)
                .with_ansi(io::stderr().is_terminal())
                .with_target(false),
        )
        .try_init()
        .is_ok();
    if installed && !explicit {
        let _ = FILTER.set(handle);
    }
}

/// From now on, log lines go to syslog (with the daemon's filter unless RUST_LOG says
/// otherwise).
pub(crate) fn switch_to_syslog() {
    if !TO_SYSLOG.swap(true, Ordering::SeqCst) {
        // SAFETY: the ident is a 'static C string, as openlog requires.
        unsafe { libc::openlog(SYSLOG_IDENT.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        if let Some(handle) = FILTER.get() {
            let _ = handle.reload(EnvFilter::new(SYSLOG_FILTER));
        }
    }
}

/// Whether log lines go to syslog now.
pub(crate) fn is_syslog() -> bool {
    TO_SYSLOG.load(Ordering::Relaxed)
}

/// Where formatted lines go.
struct Sink;

/// One formatted event, written out when the formatter is done with it.
struct Line {
    bytes: Vec<u8>,
    priority: libc::c_int,
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if TO_SYSLOG.load(Ordering::Relaxed) {
            if let Ok(message) = CString::new(plain_text(&self.bytes)) {
                // SAFETY: "%s" with one valid C string argument.
                unsafe { libc::syslog(self.priority, c"%s".as_ptr(), message.as_ptr()) };
            }
        } else {
            let _ = io::stderr().write_all(&self.bytes);
        }
    }
}

/// The line without ANSI colour sequences, NULs or newlines (syslog wants plain text).
fn plain_text(bytes: &[u8]) -> Vec<u8> {
    let mut text = Vec::with_capacity(bytes.len());
    let mut in_escape = false;
    for &byte in bytes {
        match (in_escape, byte) {
            (false, 0x1b) => in_escape = true,
            (true, b'm') => in_escape = false,
            (true, _) | (false, 0 | b'\n') => {}
            (false, other) => text.push(other),
        }
    }
    text
}

fn priority(level: &Level) -> libc::c_int {
    match *level {
        Level::ERROR => libc::LOG_ERR,
        Level::WARN => libc::LOG_WARNING,
        Level::INFO => libc::LOG_INFO,
        Level::DEBUG | Level::TRACE => libc::LOG_DEBUG,
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            bytes: Vec::new(),
            priority: libc::LOG_INFO,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line {
        Line {
            bytes: Vec::new(),
            priority: priority(meta.level()),
        }
    }
}

#[cfg(test)]
mod tests;
