//! Per-connection statistics.

use crate::ddp_status::DdpStatus;

/// Refused placements, by the status bit that refused them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DdpErrorCounts {
    /// COLOR_ERR: the tag is from an earlier allocation of its pod.
    pub color: u64,
    /// INVALID_TAG: the index lies beyond the pod region.
    pub invalid_tag: u64,
    /// INVALID_PPOD: the index is not allocated.
    pub invalid_ppod: u64,
    /// PPOD_MISMATCH: the index lies inside another binding, or the pods' page size is not the
    /// connection's (SET_TCB_FIELD).
    pub ppod_mismatch: u64,
    /// OFFSET_ERR: the data runs past the transfer length.
    pub offset: u64,
    /// TID_MISMATCH: the pods belong to another connection.
    pub tid_mismatch: u64,
    /// LLIMIT_ERR: the pods' addresses are not usable memory of the task (outside its
    /// registered buffer, no buffer, or a fixed buffer a data digest would have to read).
    pub bad_address: u64,
}

impl DdpErrorCounts {
    /// Counts one refusal by its status bits.
    pub(crate) fn record(&mut self, status: DdpStatus) {
        let kinds = [
            (DdpStatus::COLOR_ERR, &mut self.color),
            (DdpStatus::INVALID_TAG, &mut self.invalid_tag),
            (DdpStatus::INVALID_PPOD, &mut self.invalid_ppod),
            (DdpStatus::PPOD_MISMATCH, &mut self.ppod_mismatch),
            (DdpStatus::OFFSET_ERR, &mut self.offset),
            (DdpStatus::TID_MISMATCH, &mut self.tid_mismatch),
            (DdpStatus::LLIMIT_ERR, &mut self.bad_address),
        ];
        for (flag, count) in kinds {
            if status.contains(flag) {
                *count += 1;
            }
        }
    }

    /// Adds another connection's refusals to these.
    pub fn add(&mut self, other: &DdpErrorCounts) {
        self.color += other.color;
        self.invalid_tag += other.invalid_tag;
        self.invalid_ppod += other.invalid_ppod;
        self.ppod_mismatch += other.ppod_mismatch;
        self.offset += other.offset;
        self.tid_mismatch += other.tid_mismatch;
        self.bad_address += other.bad_address;
    }

    /// All refusals.
    pub fn total(&self) -> u64 {
        self.color
            + self.invalid_tag
            + self.invalid_ppod
            + self.ppod_mismatch
            + self.offset
            + self.tid_mismatch
            + self.bad_address
    }
}

/// What one connection has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnCounters {
    /// PDUs fully handed to the socket.
    pub pdus_tx: u64,
    /// PDUs delivered as completions.
    pub pdus_rx: u64,
    /// Wire bytes sent (headers, data, padding, digests).
    pub bytes_tx: u64,
    /// Wire bytes of delivered PDUs.
    pub bytes_rx: u64,
    /// Payload bytes placed straight into task buffers.
    pub ddp_bytes: u64,
    /// Payload bytes delivered inline (the initiator copies them).
    pub copied_bytes: u64,
    /// Placed payload bytes that arrived in the staging buffer with a header (read-ahead) and
    /// that the engine copied into the task buffer; included in `ddp_bytes`.
    pub staged_bytes: u64,
    /// Received PDUs whose header digest did not match.
    pub hdr_digest_errors: u64,
    /// Received PDUs whose data digest did not match.
    pub data_digest_errors: u64,
    /// Received PDUs with non-zero pad bytes.
    pub pad_errors: u64,
    /// Data-In PDUs with a DDP tag whose placement was refused.
    pub ddp_errors: DdpErrorCounts,
    /// Times transmission stopped for lack of work-request credits.
    pub credit_stalls: u64,
    /// Flushes that held queued PDUs back because a receive was about to complete at once
    /// (see `Conn::tx_deferred`); they leave with the PDUs that receive causes.
    pub tx_deferred: u64,
    /// IORING_OP_SENDMSG submitted.
    pub sendmsg_calls: u64,
    /// Of `sendmsg_calls`, those submitted silent (no CQE unless they fall short).
    pub silent_sends: u64,
    /// IORING_OP_WRITE_FIXED submitted (fixed-buffer payload).
    pub write_fixed_calls: u64,
    /// IORING_OP_RECV and IORING_OP_RECVMSG submitted.
    pub recv_calls: u64,
    /// IORING_OP_READ_FIXED submitted (fixed-buffer placement).
    pub read_fixed_calls: u64,
    /// Receive chains submitted: each is one trip through the ring for the receive side.
    pub rx_chains: u64,
    /// Transmit chains submitted.
    pub tx_chains: u64,
    /// Sends or receives that moved fewer bytes than asked and were resumed.
    pub short_transfers: u64,
    /// Receives that raised SO_RCVLOWAT to wait for their whole payload at once.
    pub lowat_raises: u64,
    /// Send chains sent under TCP_CORK (chains with a WRITE_FIXED).
    pub corked_chains: u64,
}

impl ConnCounters {
    /// Adds another connection's counters to these (the engine's totals over its
    /// connections).
    pub fn add(&mut self, other: &ConnCounters) {
        self.pdus_tx += other.pdus_tx;
        self.pdus_rx += other.pdus_rx;
        self.bytes_tx += other.bytes_tx;
        self.bytes_rx += other.bytes_rx;
        self.ddp_bytes += other.ddp_bytes;
        self.copied_bytes += other.copied_bytes;
        self.staged_bytes += other.staged_bytes;
        self.hdr_digest_errors += other.hdr_digest_errors;
        self.data_digest_errors += other.data_digest_errors;
        self.pad_errors += other.pad_errors;
        self.ddp_errors.add(&other.ddp_errors);
        self.credit_stalls += other.credit_stalls;
        self.tx_deferred += other.tx_deferred;
        self.sendmsg_calls += other.sendmsg_calls;
        self.silent_sends += other.silent_sends;
        self.write_fixed_calls += other.write_fixed_calls;
        self.recv_calls += other.recv_calls;
        self.read_fixed_calls += other.read_fixed_calls;
        self.rx_chains += other.rx_chains;
        self.tx_chains += other.tx_chains;
        self.short_transfers += other.short_transfers;
        self.lowat_raises += other.lowat_raises;
        self.corked_chains += other.corked_chains;
    }
}
