//! Keeping CHAP passwords out of what other users can read about our processes.
//!
//! - [`scrub_argv`]: a password given in a URL on the command line is overwritten in the
//!   process's own argument strings, which are what `/proc/PID/cmdline` (and so `ps`) shows.
//!   Both `ublk` and `ublk.cxgb3i` do it first thing in `main`, before anything else runs.
//! - [`SecretPipe`]: the `ublk` front end does not pass a URL's passwords on in the target
//!   program's argv. It takes them out of the URL (`user%pw@host` becomes `user%@host`, a
//!   `target_password=` argument loses its value) and writes them into a pipe whose read end
//!   the child inherits, named by the hidden option `--secrets-fd N`. The pipe holds one
//!   `NAME=value` line per password, named like libiscsi's environment variables
//!   (`LIBISCSI_CHAP_PASSWORD`, `LIBISCSI_CHAP_TARGET_PASSWORD`); the front end writes it
//!   whole and closes its end before starting the child, which reads it to the end
//!   ([`PipedSecrets::read`]). An empty password in a URL means "look it up", so the child
//!   finds the piped one exactly where the URL had it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use iscsi_proto::chap::CredentialRole;
use iscsi_proto::url::{env_vars, password_spans};
use zeroize::Zeroizing;

/// What a password's bytes become in the process's argv.
const SCRUBBED: u8 = b'*';

/// Whether an argument holds an iSCSI URL (possibly as `--iscsi=URL`).
fn holds_url(argument: &[u8]) -> bool {
    argument
        .windows(b"iscsi://".len())
        .any(|window| window.eq_ignore_ascii_case(b"iscsi://"))
}

/// The byte ranges of the passwords in one argument.
fn argument_password_ranges(argument: &[u8]) -> Vec<std::ops::Range<usize>> {
    if !holds_url(argument) {
        return Vec::new();
    }
    match std::str::from_utf8(argument) {
        Ok(text) => password_spans(text)
            .into_iter()
            .map(|span| span.range)
            .filter(|range| !range.is_empty())
            .collect(),
        // A URL that is not UTF-8 does not parse either: hide all of it.
        Err(_) => std::iter::once(0..argument.len()).collect(),
    }
}

/// The argv area as `/proc/self/stat` gives it: fields 48 and 49, `arg_start` and `arg_end`.
fn argv_area() -> io::Result<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let bad = || io::Error::other("cannot find arg_start and arg_end in /proc/self/stat");
    // The command name (field 2) is in parentheses and may hold spaces and parentheses.
    let (_, after_name) = stat.rsplit_once(')').ok_or_else(bad)?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `fields[0]` is field 3.
    let field = |number: usize| -> io::Result<usize> {
        fields
            .get(number - 3)
            .and_then(|text| text.parse().ok())
            .ok_or_else(bad)
    };
    Ok((field(48)?, field(49)?))
}

/// Overwrites the passwords of iSCSI URLs in this process's argument strings with `*`, so
/// `/proc/PID/cmdline` no longer shows them; returns how many were overwritten. Must run
/// while the process has one thread, after the arguments have been copied (read
/// `std::env::args_os()` first: it reads the same memory). Nothing is read or written when no
/// argument holds a password, nor unless the memory holds exactly the process's arguments.
pub fn scrub_argv() -> io::Result<usize> {
    let expected: Vec<OsString> = std::env::args_os().collect();
    if expected
        .iter()
        .all(|arg| argument_password_ranges(arg.as_bytes()).is_empty())
    {
        return Ok(0);
    }
    let (start, end) = argv_area()?;
    if end <= start {
        return Ok(0);
    }
    // SAFETY: [arg_start, arg_end) is this process's argument area (proc(5)): the kernel
    // placed the argument strings there at exec, on the initial stack, which stays mapped
    // for the life of the process. It is only read here, and copied.
    let area = unsafe { std::slice::from_raw_parts(start as *const u8, end - start) }.to_vec();
    let mut strings = area.split(|&byte| byte == 0).collect::<Vec<_>>();
    // The area ends with the last string's NUL, which leaves one empty piece behind.
    if strings.last().is_some_and(|last| last.is_empty()) {
        strings.pop();
    }
    let same = strings.len() == expected.len()
        && strings
            .iter()
            .zip(&expected)
            .all(|(found, arg)| *found == arg.as_bytes());
    if !same {
        return Err(io::Error::other(
            "the argument area does not hold this process's arguments",
        ));
    }
    let mut offset = 0;
    let mut scrubbed = 0;
    for string in strings {
        for range in argument_password_ranges(string) {
            for index in range {
                // SAFETY: inside the argument area (the index is within this string, whose
                // bytes lie between arg_start and arg_end), which is writable stack memory of
                // this single-threaded process; the NUL terminators are left as they are.
                unsafe { std::ptr::write_volatile((start + offset + index) as *mut u8, SCRUBBED) };
            }
            scrubbed += 1;
        }
        offset += string.len() + 1;
    }
    Ok(scrubbed)
}

/// Passwords taken out of a command line, by the environment variable name that stands for
/// each (`LIBISCSI_CHAP_PASSWORD`, `LIBISCSI_CHAP_TARGET_PASSWORD`).
#[derive(Default)]
pub(crate) struct PipedSecrets {
    values: HashMap<&'static str, Zeroizing<String>>,
}

impl std::fmt::Debug for PipedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&&str> = self.values.keys().collect();
        names.sort();
        f.debug_struct("PipedSecrets")
            .field("names", &names)
            .finish()
    }
}

fn variable_of(role: CredentialRole) -> &'static str {
    match role {
        CredentialRole::Initiator => env_vars::CHAP_PASSWORD,
        CredentialRole::Target => env_vars::CHAP_TARGET_PASSWORD,
    }
}

impl PipedSecrets {
    /// Takes the passwords out of every argument that holds an iSCSI URL, leaving each
    /// password empty (which the URL parser reads as "look it up").
    pub(crate) fn take_from(args: &mut [OsString]) -> PipedSecrets {
        let mut secrets = PipedSecrets::default();
        for arg in args.iter_mut() {
            let bytes = arg.as_bytes();
            if !holds_url(bytes) {
                continue;
            }
            let Ok(text) = std::str::from_utf8(bytes) else {
                continue;
            };
            let spans = password_spans(text);
            if spans.iter().all(|span| span.range.is_empty()) {
                continue;
            }
            let mut stripped = Zeroizing::new(String::with_capacity(text.len()));
            let mut copied = 0;
            for span in &spans {
                stripped.push_str(&text[copied..span.range.start]);
                copied = span.range.end;
                if !span.range.is_empty() {
                    secrets.values.insert(
                        variable_of(span.role),
                        Zeroizing::new(text[span.range.clone()].to_owned()),
                    );
                }
            }
            stripped.push_str(&text[copied..]);
            let old = std::mem::replace(arg, OsString::from(stripped.as_str()));
            drop(Zeroizing::new(old.into_vec()));
        }
        secrets
    }

    /// No password was taken.
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The password standing for environment variable `name`, if one was taken.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|value| value.as_str())
    }

    /// Reads what the front end wrote on the pipe `fd` (to its end), and closes it.
    ///
    /// # Safety
    ///
    /// `fd` must be an open descriptor this process owns and nothing else uses.
    pub(crate) unsafe fn read_fd(fd: RawFd) -> io::Result<PipedSecrets> {
        // SAFETY: forwarded to the caller.
        let mut pipe = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        PipedSecrets::read(&mut pipe)
    }

    /// Reads `NAME=value` lines.
    pub(crate) fn read(mut from: impl Read) -> io::Result<PipedSecrets> {
        let mut text = Zeroizing::new(String::new());
        from.read_to_string(&mut text)?;
        let mut secrets = PipedSecrets::default();
        for line in text.lines().filter(|line| !line.is_empty()) {
            let known = [env_vars::CHAP_PASSWORD, env_vars::CHAP_TARGET_PASSWORD];
            let parsed = line.split_once('=').and_then(|(name, value)| {
                let name = known.into_iter().find(|known| *known == name)?;
                Some((name, value))
            });
            let Some((name, value)) = parsed else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the secrets pipe holds a line that is not NAME=value",
                ));
            };
            secrets
                .values
                .insert(name, Zeroizing::new(value.to_owned()));
        }
        Ok(secrets)
    }

    /// Writes them for [`PipedSecrets::read`].
    pub(crate) fn write(&self, mut to: impl Write) -> io::Result<()> {
        let mut names: Vec<&&str> = self.values.keys().collect();
        names.sort();
        for name in names {
            let line = Zeroizing::new(format!("{name}={}\n", self.values[*name].as_str()));
            to.write_all(line.as_bytes())?;
        }
        to.flush()
    }
}

/// The front end's half: a pipe holding the secrets, its read end for the child.
pub(crate) struct SecretPipe {
    /// The read end, inheritable (no close-on-exec).
    pub read: OwnedFd,
}

impl SecretPipe {
    /// A pipe already holding `secrets`, its write end closed: the child reads to the end
    /// without anyone having to write while it runs (a pipe buffers 64 KiB).
    pub(crate) fn filled(secrets: &PipedSecrets) -> io::Result<SecretPipe> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        secrets.write(File::from(write))?;
        nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&read),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )?;
        Ok(SecretPipe { read })
    }
}

#[cfg(test)]
mod tests;
