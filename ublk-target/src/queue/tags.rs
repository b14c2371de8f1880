//! Per-tag state of one queue, and the task numbers the engine knows the tags by.
//!
//! Task `t` (t < depth) is tag t's own buffer; task `depth + t` is tag t's small auxiliary
//! buffer (UNMAP parameter list, WRITE SAME pattern block), a separate engine task so its
//! registration never disturbs the tag's; task `2 × depth + t` is tag t's own buffer again,
//! registered as mapped memory for sends where the own task is an io_uring fixed buffer
//! (copy mode): small writes then leave in one SENDMSG with their header, while reads are
//! still placed with READ_FIXED.

use std::collections::VecDeque;

use crate::ops::ScsiPlan;

/// A request the queue has taken from the kernel and not committed yet.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub plan: ScsiPlan,
    /// Times the command has been reissued for a retryable outcome.
    pub retries: u8,
}

#[derive(Debug)]
pub(super) enum TagState {
    /// The kernel holds the tag (a FETCH is pending) or it was never fetched.
    Idle,
    /// Taken from the kernel, waiting for a usable session.
    Held(Pending),
    /// Submitted on the session.
    InFlight(Pending),
}

/// All tags of the queue plus the order held tags are reissued in.
#[derive(Debug)]
pub(super) struct Tags {
    states: Vec<TagState>,
    held: VecDeque<u16>,
}

impl Tags {
    pub fn new(depth: u16) -> Tags {
        Tags {
            states: (0..depth).map(|_| TagState::Idle).collect(),
            held: VecDeque::new(),
        }
    }

    pub fn depth(&self) -> u16 {
        self.states.len() as u16
    }

    /// The task that moves `tag`'s data through its own buffer.
    pub fn own_task(tag: u16) -> u32 {
        u32::from(tag)
    }

    /// The task of `tag`'s auxiliary buffer.
    pub fn aux_task(&self, tag: u16) -> u32 {
        u32::from(self.depth()) + u32::from(tag)
    }

    /// The task that sends `tag`'s own buffer as mapped memory.
    pub fn send_task(&self, tag: u16) -> u32 {
        2 * u32::from(self.depth()) + u32::from(tag)
    }

    /// The tag a task belongs to, if the task is one of ours.
    pub fn tag_of_task(&self, task: u32) -> Option<u16> {
        let depth = u32::from(self.depth());
        (task < 3 * depth).then(|| (task % depth) as u16)
    }

    pub fn hold(&mut self, tag: u16, pending: Pending) {
        if let Some(state) = self.states.get_mut(usize::from(tag)) {
            *state = TagState::Held(pending);
            self.held.push_back(tag);
        }
    }

    pub fn set_in_flight(&mut self, tag: u16, pending: Pending) {
        if let Some(state) = self.states.get_mut(usize::from(tag)) {
            *state = TagState::InFlight(pending);
        }
    }

    /// Takes an in-flight tag's request back (its task finished or must be reissued).
    pub fn take_in_flight(&mut self, tag: u16) -> Option<Pending> {
        let state = self.states.get_mut(usize::from(tag))?;
        match std::mem::replace(state, TagState::Idle) {
            TagState::InFlight(pending) => Some(pending),
            other => {
                *state = other;
                None
            }
        }
    }

    /// The next held tag and its request, oldest first.
    pub fn next_held(&mut self) -> Option<(u16, Pending)> {
        while let Some(tag) = self.held.pop_front() {
            let Some(state) = self.states.get_mut(usize::from(tag)) else {
                continue;
            };
            if let TagState::Held(pending) = std::mem::replace(state, TagState::Idle) {
                return Some((tag, pending));
            }
        }
        None
    }

    pub fn held_count(&self) -> usize {
        self.held.len()
    }

    /// Every in-flight tag, back to held (their session is gone), in tag order.
    pub fn hold_all_in_flight(&mut self) -> usize {
        let mut moved = 0;
        for tag in 0..self.depth() {
            if let Some(pending) = self.take_in_flight(tag) {
                self.hold(tag, pending);
                moved += 1;
            }
        }
        moved
    }

    pub fn mark_idle(&mut self, tag: u16) {
        if let Some(state) = self.states.get_mut(usize::from(tag)) {
            *state = TagState::Idle;
        }
    }

    pub fn busy_count(&self) -> usize {
        self.states
            .iter()
            .filter(|s| !matches!(s, TagState::Idle))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{PlanBuffer, PlanKind};
    use iscsi_proto::session::Direction;

    fn pending() -> Pending {
        Pending {
            plan: ScsiPlan {
                kind: PlanKind::Flush,
                cdb: vec![0x91; 16],
                direction: Direction::None,
                data_len: 0,
                buffer: PlanBuffer::None,
            },
            retries: 0,
        }
    }

    #[test]
    fn task_numbers() {
        let tags = Tags::new(128);
        assert_eq!(Tags::own_task(5), 5);
        assert_eq!(tags.aux_task(5), 133);
        assert_eq!(tags.tag_of_task(5), Some(5));
        assert_eq!(tags.tag_of_task(133), Some(5));
        assert_eq!(tags.send_task(5), 261);
        assert_eq!(tags.tag_of_task(255), Some(127));
        assert_eq!(tags.tag_of_task(261), Some(5));
        assert_eq!(tags.tag_of_task(383), Some(127));
        assert_eq!(tags.tag_of_task(384), None);
        assert_eq!(Tags::new(0).tag_of_task(0), None);
        assert_eq!(tags.tag_of_task(u32::MAX), None);
    }

    #[test]
    fn held_tags_come_back_in_order() {
        let mut tags = Tags::new(8);
        tags.hold(3, pending());
        tags.hold(1, pending());
        tags.set_in_flight(5, pending());
        tags.set_in_flight(2, pending());
        assert_eq!(tags.busy_count(), 4);
        assert_eq!(tags.hold_all_in_flight(), 2);
        assert_eq!(tags.held_count(), 4);
        let order: Vec<u16> = std::iter::from_fn(|| tags.next_held().map(|(t, _)| t)).collect();
        assert_eq!(order, [3, 1, 2, 5]);
        assert_eq!(tags.busy_count(), 0);
    }

    #[test]
    fn take_in_flight_only_takes_in_flight() {
        let mut tags = Tags::new(4);
        tags.hold(0, pending());
        assert!(tags.take_in_flight(0).is_none());
        assert!(tags.take_in_flight(9).is_none());
        tags.set_in_flight(1, pending());
        assert!(tags.take_in_flight(1).is_some());
        assert!(tags.take_in_flight(1).is_none());
    }
}
