//! A queue's counters, listed once: the plain struct the queue thread fills in, and the array
//! form that the status block mirrors with one atomic per counter (`crate::status`), so a
//! counter added here is published and read back with no other list to update.

/// Defines [`QueueStats`] from one list of counters: a `u64` field each, and the conversion
/// to and from an array of them in the list's order.
macro_rules! queue_stats {
    ($($(#[$doc:meta])* $counter:ident,)+) => {
        /// A queue's counters (and the two gauges of its requests): what it reports when it
        /// finishes and publishes for `ublk list`.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub(crate) struct QueueStats {
            $($(#[$doc])* pub $counter: u64,)+
        }

        impl QueueStats {
            /// How many counters there are.
            pub(crate) const COUNT: usize = [$(stringify!($counter)),+].len();

            /// The counters in the order of the list.
            pub(crate) fn to_array(self) -> [u64; QueueStats::COUNT] {
                [$(self.$counter),+]
            }

            /// The counters from an array in the order of the list.
            pub(crate) fn from_array(counters: [u64; QueueStats::COUNT]) -> QueueStats {
                let [$($counter),+] = counters;
                QueueStats { $($counter),+ }
            }
        }
    };
}

queue_stats! {
    reads,
    writes,
    flushes,
    discards,
    write_zeroes,
    bytes_read,
    bytes_written,
    failed,
    retries,
    reconnects,
    commands_timed_out,
    aborts_sent,
    resets_sent,
    /// Requests taken from the kernel and not yet given back.
    in_flight,
    /// Of those, the ones waiting for a session.
    held,
    /// Payload the engine placed directly in task buffers.
    ddp_bytes,
    /// Payload user space copied: out of the engine's staging buffer, or Data-In the engine
    /// could not place.
    userspace_copied_bytes,
    header_digest_errors,
    data_digest_errors,
}

#[cfg(test)]
mod tests;
