//! The device settings' defaults and bounds (ublksrv's where it has them), shared by the
//! command line and the configuration files.

/// ublksrv's default number of queues and its maximum.
pub(crate) const DEFAULT_QUEUES: u16 = 1;
pub(crate) const MAX_QUEUES: u16 = 32;
/// ublksrv's default queue depth and its maximum.
pub(crate) const DEFAULT_DEPTH: u16 = 128;
pub(crate) const MAX_DEPTH: u16 = 4096;
/// Default request buffer: 1 MiB, ublksrv's own maximum (its default is 512 KiB), so a
/// 1 MiB I/O reaches the target as one command.
pub(crate) const DEFAULT_IO_BUF_BYTES: u32 = 1 << 20;
/// Largest request buffer: libublk refuses more, and ublk_drv's user-copy offsets hold 25
/// bits of buffer offset.
pub(crate) const MAX_IO_BUF_BYTES: u32 = 32 << 20;
pub(crate) const PAGE_BYTES: u32 = 4096;

/// A request buffer size must be whole pages, at most [`MAX_IO_BUF_BYTES`]; `name` is how
/// the message calls the setting.
pub(crate) fn check_io_buf_bytes(name: &str, bytes: u32) -> Result<(), String> {
    if bytes < PAGE_BYTES || bytes % PAGE_BYTES != 0 {
        return Err(format!(
            "{name} {bytes} is not a whole number of {PAGE_BYTES}-byte pages"
        ));
    }
    if bytes > MAX_IO_BUF_BYTES {
        return Err(format!(
            "{name} {bytes} is over the {MAX_IO_BUF_BYTES}-byte maximum"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
