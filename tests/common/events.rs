//! Waiting, up to a deadline, for the event a test wants from a channel: a driven endpoint's
//! events (`telcp::driver`) or a role's observer (`examples/roles`). The two test crates that run
//! on real time (`driver`, `roles`) include this file alone (`#[path]`), as they stay lean.

use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;

/// A channel a test reads events from.
pub trait Events {
    /// What it carries.
    type Item;
    /// The next item; `None` once every sender is gone.
    fn next(&mut self) -> impl Future<Output = Option<Self::Item>>;
}

impl<E> Events for mpsc::Receiver<E> {
    type Item = E;
    fn next(&mut self) -> impl Future<Output = Option<E>> {
        self.recv()
    }
}

impl<E> Events for mpsc::UnboundedReceiver<E> {
    type Item = E;
    fn next(&mut self) -> impl Future<Output = Option<E>> {
        self.recv()
    }
}

/// Waits up to `limit` for an item of `events` that `want` accepts, and returns what `want`
/// made of it; `None` when the deadline passes or the channel closes first.
pub async fn wait_for<R: Events, T>(
    events: &mut R,
    limit: Duration,
    mut want: impl FnMut(&R::Item) -> Option<T>,
) -> Option<T> {
    tokio::time::timeout(limit, async {
        while let Some(e) = events.next().await {
            if let Some(t) = want(&e) {
                return Some(t);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}
