//! Running `tgtadm` against one instance's management socket.

use std::ffi::OsStr;
use std::io;
use std::path::PathBuf;
use std::process::Command;

/// The environment variable both tgtd and tgtadm derive the management socket path from.
pub(crate) const IPC_SOCKET_ENV: &str = "TGT_IPC_SOCKET";

/// How to reach one tgtd: the tgtadm binary and the `TGT_IPC_SOCKET` value it must share.
#[derive(Debug)]
pub(crate) struct Tgtadm {
    program: PathBuf,
    ipc_socket: PathBuf,
}

impl Tgtadm {
    pub(crate) fn new(program: PathBuf, ipc_socket: PathBuf) -> Self {
        Self {
            program,
            ipc_socket,
        }
    }

    /// Runs `tgtadm --lld iscsi ARGS` and returns its stdout; a non-zero exit becomes an error
    /// carrying the command line, the exit status and tgtadm's own diagnostics.
    pub(crate) fn run<I, S>(&self, args: I) -> io::Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(&self.program);
        command
            .env(IPC_SOCKET_ENV, &self.ipc_socket)
            .args(["--lld", "iscsi"])
            .args(args);
        let output = command.output().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot run {}: {error}", self.program.display()),
            )
        })?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            return Ok(stdout);
        }
        let command_line = command
            .get_args()
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ");
        Err(io::Error::other(format!(
            "`tgtadm {command_line}` (TGT_IPC_SOCKET={}) failed with {}: {}{}",
            self.ipc_socket.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end(),
            if stdout.trim().is_empty() {
                String::new()
            } else {
                format!("\nstdout: {}", stdout.trim_end())
            }
        )))
    }
}
