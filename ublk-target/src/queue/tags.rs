//! The task numbers the engine knows a queue's tags by (the requests' state is the
//! supervisor's).
//!
//! Task `t` (t < depth) is tag t's own buffer; task `depth + t` is tag t's small auxiliary
//! buffer (UNMAP parameter list, WRITE SAME pattern block), a separate engine task so its
//! registration never disturbs the tag's; task `2 × depth + t` is tag t's own buffer again,
//! registered as mapped memory for sends where the own task is an io_uring fixed buffer
//! (copy mode): small writes then leave in one SENDMSG with their header, while reads are
//! still placed with READ_FIXED.

/// The task numbers of a queue of `depth` tags.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tags {
    depth: u16,
}

impl Tags {
    pub(super) fn new(depth: u16) -> Tags {
        Tags { depth }
    }

    pub(super) fn depth(&self) -> u16 {
        self.depth
    }

    /// The task that moves `tag`'s data through its own buffer.
    pub(super) fn own_task(tag: u16) -> u32 {
        u32::from(tag)
    }

    /// The task of `tag`'s auxiliary buffer.
    pub(super) fn aux_task(&self, tag: u16) -> u32 {
        u32::from(self.depth) + u32::from(tag)
    }

    /// The task that sends `tag`'s own buffer as mapped memory.
    pub(super) fn send_task(&self, tag: u16) -> u32 {
        2 * u32::from(self.depth) + u32::from(tag)
    }

    /// The task of the queue's own LU check (not a tag's).
    pub(super) fn check_task(&self) -> u32 {
        3 * u32::from(self.depth)
    }

    /// The tag a task belongs to, if the task is one of ours.
    pub(super) fn tag_of_task(&self, task: u32) -> Option<u16> {
        let depth = u32::from(self.depth);
        (task < 3 * depth).then(|| (task % depth) as u16)
    }
}

#[cfg(test)]
mod tests;
