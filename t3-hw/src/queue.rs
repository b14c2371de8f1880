//! Bounded rings between the initiator and its engine: the work-request (TX) queue and the
//! response (completion) queue.
//!
//! Both ends live on one thread (one ublk queue = one engine), so the ring is a plain owned
//! value used through `&mut`; no locks or atomics. The bound is the back-pressure: a full TX
//! queue means the engine has not caught up, and the caller keeps the request.

use std::collections::VecDeque;

use thiserror::Error;

use crate::cpl::Completion;
use crate::wr::WorkRequest;

/// Responses T3 delivers per bundle (`RX_BUNDLE_SIZE`): a natural batch for draining.
pub const RX_BUNDLE_SIZE: usize = 8;

/// A ring cannot hold zero entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("a ring needs a capacity of at least 1")]
pub struct ZeroCapacity;

/// The ring is full; the rejected item is handed back.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("ring full at capacity {capacity}")]
pub struct RingFull<T> {
    /// The ring's capacity.
    pub capacity: usize,
    /// The item that did not fit.
    pub item: T,
}

/// A bounded FIFO with a fixed capacity.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

/// Work requests from the initiator to the engine.
pub type TxQueue = Ring<WorkRequest>;
/// Completions from the engine to the initiator.
pub type RspQueue = Ring<Completion>;

impl<T> Ring<T> {
    /// An empty ring that holds up to `capacity` items; its storage is allocated once here.
    pub fn with_capacity(capacity: usize) -> Result<Ring<T>, ZeroCapacity> {
        if capacity == 0 {
            return Err(ZeroCapacity);
        }
        Ok(Ring {
            items: VecDeque::with_capacity(capacity),
            capacity,
        })
    }

    /// Appends `item`, or hands it back when the ring is full.
    pub fn push(&mut self, item: T) -> Result<(), RingFull<T>> {
        if self.is_full() {
            return Err(RingFull {
                capacity: self.capacity,
                item,
            });
        }
        self.items.push_back(item);
        Ok(())
    }

    /// Removes the oldest item.
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// The oldest item, left in place.
    pub fn peek(&self) -> Option<&T> {
        self.items.front()
    }

    /// Removes and yields up to `max` of the oldest items, in order. Items the iterator does
    /// not reach are removed as well once it is dropped (as with `Vec::drain`).
    pub fn drain_batch(&mut self, max: usize) -> impl Iterator<Item = T> + '_ {
        let count = max.min(self.items.len());
        self.items.drain(..count)
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether a push would be refused.
    pub fn is_full(&self) -> bool {
        self.items.len() >= self.capacity
    }

    /// Maximum items queued.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tid::Tid;

    #[test]
    fn fifo_with_capacity_bound() {
        let mut ring = Ring::with_capacity(3).unwrap();
        assert!(ring.is_empty());
        for value in 1..=3 {
            ring.push(value).unwrap();
        }
        assert!(ring.is_full());
        assert_eq!(
            ring.push(4),
            Err(RingFull {
                capacity: 3,
                item: 4
            })
        );
        assert_eq!(ring.peek(), Some(&1));
        assert_eq!(ring.pop(), Some(1));
        ring.push(4).unwrap();
        assert_eq!(ring.len(), 3);
        let drained: Vec<i32> = std::iter::from_fn(|| ring.pop()).collect();
        assert_eq!(drained, vec![2, 3, 4]);
        assert_eq!(ring.pop(), None);
        assert_eq!(Ring::<u8>::with_capacity(0).unwrap_err(), ZeroCapacity);
    }

    #[test]
    fn batch_drain_takes_at_most_max_in_order() {
        let mut ring = Ring::with_capacity(20).unwrap();
        for value in 0..11 {
            ring.push(value).unwrap();
        }
        let first: Vec<i32> = ring.drain_batch(RX_BUNDLE_SIZE).collect();
        assert_eq!(first, (0..8).collect::<Vec<_>>());
        let rest: Vec<i32> = ring.drain_batch(RX_BUNDLE_SIZE).collect();
        assert_eq!(rest, vec![8, 9, 10]);
        assert_eq!(ring.drain_batch(RX_BUNDLE_SIZE).count(), 0);
        assert!(ring.is_empty());
    }

    #[test]
    fn typed_queues_carry_requests_and_completions() {
        let tid = Tid::new(2).unwrap();
        let mut tx = TxQueue::with_capacity(1).unwrap();
        tx.push(WorkRequest::CloseCon { tid }).unwrap();
        assert!(matches!(
            tx.push(WorkRequest::AbortReq { tid }),
            Err(RingFull {
                item: WorkRequest::AbortReq { .. },
                ..
            })
        ));
        let mut rsp = RspQueue::with_capacity(2).unwrap();
        rsp.push(Completion::PeerClose { tid }).unwrap();
        assert_eq!(rsp.pop(), Some(Completion::PeerClose { tid }));
        assert_eq!(tx.pop(), Some(WorkRequest::CloseCon { tid }));
    }
}
