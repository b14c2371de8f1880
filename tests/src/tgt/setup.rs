//! Target configuration through tgtadm: targets, logical units, ACLs, CHAP, login keys.
//!
//! Every method returns `&Tgtd` so calls chain: `tgt.new_target(1, IQN)?.bind_all(1)?`.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use super::daemon::Tgtd;

/// What a logical unit stores its blocks in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// tgt's `null` backing store: writes are discarded and read data is meaningless. Its size
    /// is fixed by tgt at [`Backing::NULL_SIZE_BYTES`]; tgt has no option to change it.
    Null,
    /// tgt's `rdwr` backing store over a regular file (see [`Tgtd::scratch_file`]); the LU
    /// is as large as the file.
    File(PathBuf),
}

impl Backing {
    /// The capacity tgt reports for every `null` LU (its `NULL_BS_DEV_SIZE`, 1 TiB).
    pub const NULL_SIZE_BYTES: u64 = 1 << 40;
}

impl Tgtd {
    /// `tgtadm --mode target --op new --tid TID --targetname IQN`
    pub fn new_target(&self, tid: u32, iqn: &str) -> io::Result<&Self> {
        let tid = tid.to_string();
        self.tgtadm(&[
            "--mode",
            "target",
            "--op",
            "new",
            "--tid",
            &tid,
            "--targetname",
            iqn,
        ])?;
        Ok(self)
    }

    /// Adds LUN `lun` (1 or more: tgt reserves LUN 0 for its controller) to target `tid`.
    ///
    /// Runs `--op new` with `--bstype null --backing-store /dev/null` or `--bstype rdwr
    /// --backing-store PATH`, plus `--blocksize N` if given (tgt defaults to 512 and does not
    /// validate it). Because tgtadm rejects `--params` on `--op new`, `params` (e.g.
    /// `("thin_provisioning", "1")`) follow as `--op update --params k=v,...`.
    pub fn add_lun(
        &self,
        tid: u32,
        lun: u64,
        backing: Backing,
        block_size: Option<u32>,
        params: &[(&str, &str)],
    ) -> io::Result<&Self> {
        let tid = tid.to_string();
        let lun = lun.to_string();
        let mut args = vec![
            "--mode",
            "logicalunit",
            "--op",
            "new",
            "--tid",
            &tid,
            "--lun",
            &lun,
        ];
        let backing_path;
        match &backing {
            // Without a backing-store argument tgt creates the LU as a removable device with
            // no medium (size 0, offline); the null store ignores the path itself.
            Backing::Null => args.extend(["--bstype", "null", "--backing-store", "/dev/null"]),
            Backing::File(path) => {
                backing_path = path_arg(path)?;
                args.extend(["--bstype", "rdwr", "--backing-store", backing_path]);
            }
        }
        let block_size = block_size.map(|size| size.to_string());
        if let Some(block_size) = &block_size {
            args.extend(["--blocksize", block_size]);
        }
        self.tgtadm(&args)?;
        if !params.is_empty() {
            let params = join_lu_params(params)?;
            self.tgtadm(&[
                "--mode",
                "logicalunit",
                "--op",
                "update",
                "--tid",
                &tid,
                "--lun",
                &lun,
                "--params",
                &params,
            ])?;
        }
        Ok(self)
    }

    /// Lets any initiator address log in: `--mode target --op bind --initiator-address ALL`.
    pub fn bind_all(&self, tid: u32) -> io::Result<&Self> {
        let tid = tid.to_string();
        self.tgtadm(&[
            "--mode",
            "target",
            "--op",
            "bind",
            "--tid",
            &tid,
            "--initiator-address",
            "ALL",
        ])?;
        Ok(self)
    }

    /// `tgtadm --mode account --op new --user USER --password PASSWORD`
    pub fn new_account(&self, user: &str, password: &str) -> io::Result<&Self> {
        self.tgtadm(&[
            "--mode",
            "account",
            "--op",
            "new",
            "--user",
            user,
            "--password",
            password,
        ])?;
        Ok(self)
    }

    /// Requires CHAP as `user` on target `tid`; with `outgoing` the account is instead the
    /// one the target answers with (mutual CHAP). `--mode account --op bind [--outgoing]`.
    pub fn bind_account(&self, tid: u32, user: &str, outgoing: bool) -> io::Result<&Self> {
        let tid = tid.to_string();
        let mut args = vec![
            "--mode", "account", "--op", "bind", "--tid", &tid, "--user", user,
        ];
        if outgoing {
            args.push("--outgoing");
        }
        self.tgtadm(&args)?;
        Ok(self)
    }

    /// Sets a login key the target offers/accepts, e.g. ("HeaderDigest", "CRC32C"),
    /// ("InitialR2T", "No"), ("MaxRecvDataSegmentLength", "65536"):
    /// `--mode target --op update --tid TID --name KEY --value VALUE`.
    pub fn set_param(&self, tid: u32, key: &str, value: &str) -> io::Result<&Self> {
        let tid = tid.to_string();
        self.tgtadm(&[
            "--mode", "target", "--op", "update", "--tid", &tid, "--name", key, "--value", value,
        ])?;
        Ok(self)
    }

    /// `tgtadm --mode target --op show`: every target with its LUNs, accounts and ACLs.
    pub fn show(&self) -> io::Result<String> {
        self.tgtadm(&["--mode", "target", "--op", "show"])
    }

    /// The login keys target `tid` is configured with (`--mode target --op show --tid TID`,
    /// which prints `Key=Value` lines), e.g. `["InitialR2T"] == "Yes"`.
    pub fn target_params(&self, tid: u32) -> io::Result<BTreeMap<String, String>> {
        let tid = tid.to_string();
        let listing = self.tgtadm(&["--mode", "target", "--op", "show", "--tid", &tid])?;
        parse_key_value_lines(&listing)
    }
}

fn path_arg(path: &std::path::Path) -> io::Result<&str> {
    path.to_str().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("backing file path {} is not UTF-8", path.display()),
        )
    })
}

/// tgtadm splits `--params` on ',' and '=' with no quoting, so reject pairs it would misread.
fn join_lu_params(params: &[(&str, &str)]) -> io::Result<String> {
    let mut pairs = Vec::with_capacity(params.len());
    for (key, value) in params {
        if key.is_empty() || key.contains([',', '=']) || value.contains(',') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("LU parameter {key:?}={value:?} cannot be passed through tgtadm --params"),
            ));
        }
        pairs.push(format!("{key}={value}"));
    }
    Ok(pairs.join(","))
}

fn parse_key_value_lines(listing: &str) -> io::Result<BTreeMap<String, String>> {
    listing
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            line.split_once('=')
                .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
                .ok_or_else(|| {
                    io::Error::other(format!("unexpected target parameter line {line:?}"))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests;
