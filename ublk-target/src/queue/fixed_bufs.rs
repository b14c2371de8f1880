//! Copy mode's per-tag buffers as io_uring fixed buffers.
//!
//! Registering the buffers pins their pages once. The engine then places read payload with
//! READ_FIXED, as zero copy does with the request's own pages: the socket copies into the
//! pinned pages kernel to kernel instead of walking and checking userspace addresses on
//! every receive. The buffers stay the DDP targets and ublk still copies between them and
//! the request. Writes leave from the same memory as a mapped task buffer (see
//! `Tags::send_task`): one SENDMSG then carries the headers and payloads of many PDUs, where
//! WRITE_FIXED would take an op per payload beside its header's send and a corked chain, which
//! costs small writes more (see `docs/benchmarks/2026-11-25-vm-copy-fixed-buffers.md`).
//!
//! A fixed buffer's bytes are not read by the engine, so this needs what zero copy needs:
//! no data digest, and a DDP tag for every read (a non-placed read is copied by the engine
//! from userspace). When the ring refuses (memlock limit, old kernel), the buffers stay
//! plain mapped task buffers.

use libublk::helpers::IoBuf;
use libublk::with_task_io_ring_mut;

/// The queue ring's registration of the copy buffers; unregisters them when dropped, so it
/// must be dropped before the buffers are freed.
pub(super) struct FixedBufs {
    /// The registration belongs to this thread's ring: not `Send`.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl FixedBufs {
    /// Registers `bufs` on this thread's queue ring, buffer `i` at index `i`.
    ///
    /// # Safety
    ///
    /// The buffers must stay allocated until the returned value is dropped.
    pub(super) unsafe fn register(bufs: &mut [IoBuf<u8>]) -> std::io::Result<FixedBufs> {
        let iovecs: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|buf| libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            })
            .collect();
        // SAFETY: the caller keeps the memory alive until `drop` unregisters it.
        with_task_io_ring_mut(|ring| unsafe { ring.submitter().register_buffers(&iovecs) })?;
        Ok(FixedBufs {
            _not_send: std::marker::PhantomData,
        })
    }
}

impl Drop for FixedBufs {
    fn drop(&mut self) {
        if let Err(error) = with_task_io_ring_mut(|ring| ring.submitter().unregister_buffers()) {
            tracing::warn!(%error, "cannot unregister the copy buffers");
        }
    }
}
