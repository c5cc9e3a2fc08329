//! The one bounded queue an endpoint hands its caller things through (datagrams for
//! `poll_transmit`, events for `poll_event`).
//!
//! An [`Outbox`] holds at most its `limit` items. When a push finds it full, its [`Overflow`]
//! policy decides what is lost — the new item ([`Overflow::DropNewest`]) or the oldest one queued
//! ([`Overflow::DropOldest`]) — and the loss is always counted ([`Outbox::dropped`]), so a caller
//! that polls too slowly sees it in the endpoint's stats instead of in its memory.

use std::collections::VecDeque;

/// What a full [`Outbox`] gives up for a new item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Overflow {
    /// The new item is refused: what is queued was decided first and stays (datagrams whose order
    /// matters, such as retransmission state already committed).
    DropNewest,
    /// The oldest queued item is dropped to make room: the newest news wins (events, requests
    /// superseded by a later one).
    DropOldest,
}

/// A FIFO of at most `limit` items whose overflow is counted (see the module docs).
#[derive(Clone, Debug)]
pub struct Outbox<T> {
    items: VecDeque<T>,
    limit: usize,
    overflow: Overflow,
    dropped: u64,
}

impl<T> Outbox<T> {
    /// An empty outbox of at most `limit` items. With a `limit` of 0 every item is dropped (and
    /// counted).
    pub fn new(limit: usize, overflow: Overflow) -> Outbox<T> {
        Outbox {
            items: VecDeque::new(),
            limit,
            overflow,
            dropped: 0,
        }
    }

    /// Queues `item`. `false` when `item` itself was dropped (a full [`Overflow::DropNewest`]
    /// outbox, or a limit of 0); a drop of either kind adds one to [`Outbox::dropped`].
    pub fn push(&mut self, item: T) -> bool {
        if self.items.len() < self.limit {
            self.items.push_back(item);
            return true;
        }
        self.dropped = self.dropped.saturating_add(1);
        match self.overflow {
            Overflow::DropOldest if self.limit > 0 => {
                self.items.pop_front();
                self.items.push_back(item);
                true
            }
            _ => false,
        }
    }

    /// The item `i` places from the oldest (0), in place: an item queued before its contents are
    /// final (a datagram whose authenticator is computed with others' after a batch).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.items.get_mut(i)
    }

    /// The oldest item, removed.
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// Drops every queued item (items gone stale), counting them in [`Outbox::dropped`]; returns
    /// how many there were.
    pub fn discard(&mut self) -> usize {
        let n = self.items.len();
        self.items.clear();
        self.dropped = self.dropped.saturating_add(n as u64);
        n
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Items lost to the bound (and to [`Outbox::discard`]) since the outbox was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::{Outbox, Overflow};

    #[test]
    fn drop_newest_keeps_the_queue_and_counts_the_refusal() {
        let mut o = Outbox::new(2, Overflow::DropNewest);
        assert!(o.push(1));
        assert!(o.push(2));
        assert!(!o.push(3));
        assert_eq!(o.dropped(), 1);
        assert_eq!((o.pop(), o.pop(), o.pop()), (Some(1), Some(2), None));
    }

    #[test]
    fn drop_oldest_makes_room_and_counts_the_loss() {
        let mut o = Outbox::new(2, Overflow::DropOldest);
        for i in 1..=4 {
            assert!(o.push(i));
        }
        assert_eq!(o.dropped(), 2);
        assert_eq!(o.len(), 2);
        assert_eq!((o.pop(), o.pop(), o.pop()), (Some(3), Some(4), None));
    }

    #[test]
    fn a_zero_limit_holds_nothing_and_counts_everything() {
        for overflow in [Overflow::DropNewest, Overflow::DropOldest] {
            let mut o = Outbox::new(0, overflow);
            assert!(!o.push(1));
            assert!(o.is_empty());
            assert_eq!(o.dropped(), 1);
        }
    }

    #[test]
    fn discard_counts_what_it_clears() {
        let mut o = Outbox::new(8, Overflow::DropNewest);
        o.push('a');
        o.push('b');
        assert_eq!(o.discard(), 2);
        assert!(o.is_empty());
        assert_eq!(o.dropped(), 2);
    }
}
