//! The driver's task: one loop per endpoint, in the order of the endpoint contract.

use super::handle::{Call, Command, StopReason, Stopped};
use super::sockets::Sockets;
use super::{DriverStats, now};
use crate::Endpoint;
use std::time::Instant;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

/// Receive errors in a row after which the task gives up (a socket that fails every receive
/// would otherwise spin).
const MAX_RECEIVE_ERRORS: u32 = 1000;

/// How long after a `handle_timeout` a deadline it left where it was (at or before the instant
/// it was given) is due again; meanwhile datagrams come first.
const STALE_DEADLINE_RETRY: std::time::Duration = std::time::Duration::from_millis(1);

/// Everything the task owns.
pub(super) struct Task<E: Endpoint, H> {
    pub(super) endpoint: E,
    pub(super) sockets: Sockets,
    pub(super) buf: Vec<u8>,
    pub(super) events: mpsc::Sender<E::Event>,
    pub(super) data: mpsc::Sender<E::Data>,
    pub(super) commands: mpsc::Receiver<Command<E>>,
    pub(super) stop: oneshot::Receiver<()>,
    pub(super) hook: H,
    pub(super) stats: DriverStats,
}

/// What woke the task.
enum Wake<E> {
    Stop,
    Command(Call<E>),
    Adopt(
        tokio::net::UdpSocket,
        std::net::SocketAddr,
        oneshot::Sender<()>,
    ),
    Release(std::net::SocketAddr, oneshot::Sender<bool>),
    Deadline,
    Datagram(usize, std::io::Result<(usize, std::net::SocketAddr)>),
}

/// Sleeps until `deadline` on tokio's clock; never wakes without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

impl<E, H> Task<E, H>
where
    E: Endpoint + Send + 'static,
    E::Event: Send,
    E::Data: Send,
    H: FnMut(&mut E, Instant) + Send + 'static,
{
    /// Runs until a shutdown, the handle's drop, or too many receive errors.
    pub(super) async fn run(mut self) -> Stopped<E> {
        let mut errors_in_a_row = 0u32;
        // The instant the last `handle_timeout` was given.
        let mut handled: Option<Instant> = None;
        let reason = loop {
            (self.hook)(&mut self.endpoint, now());
            self.drain().await;
            let deadline = self.endpoint.poll_timeout();
            // A deadline that `handle_timeout` left at or before the instant it was given (the
            // endpoint did not move it) is stale: due again only `STALE_DEADLINE_RETRY` later,
            // and after the datagrams, or the task would spin on it and never receive.
            let stale = match (deadline, handled) {
                (Some(d), Some(h)) if d <= h => Some(h + STALE_DEADLINE_RETRY),
                _ => None,
            };
            // Biased, in this order: a shutdown wins, then commands, then due timers, then
            // datagrams, so a flood of datagrams cannot starve deadlines or the caller.
            let wake = tokio::select! {
                biased;
                _ = &mut self.stop => Wake::Stop,
                c = self.commands.recv() => match c {
                    Some(Command::Call(c)) => Wake::Command(c),
                    Some(Command::Adopt(socket, local, done)) => Wake::Adopt(socket, local, done),
                    Some(Command::Release(local, done)) => Wake::Release(local, done),
                    // Every commander and the handle are gone: the stop channel says so too.
                    None => Wake::Stop,
                },
                () = sleep_until(deadline), if stale.is_none() => Wake::Deadline,
                (i, r) = std::future::poll_fn(|cx| self.sockets.poll_recv(cx, &mut self.buf)) => {
                    Wake::Datagram(i, r)
                }
                () = sleep_until(stale), if stale.is_some() => Wake::Deadline,
            };
            match wake {
                Wake::Stop => break StopReason::Shutdown,
                Wake::Command(call) => call(&mut self.endpoint, now(), &mut self.stats),
                Wake::Adopt(socket, local, done) => {
                    self.stats.commands += 1;
                    self.sockets.adopt(socket, local);
                    let _ = done.send(());
                }
                Wake::Release(local, done) => {
                    self.stats.commands += 1;
                    let _ = done.send(self.sockets.release(local));
                }
                Wake::Deadline => {
                    let t = now();
                    // Never before the deadline (the contract allows it, but it would be a
                    // wasted turn): tokio's timer may round, the clock may not.
                    if deadline.is_some_and(|d| t >= d) {
                        self.stats.timeouts += 1;
                        self.endpoint.handle_timeout(t);
                        handled = Some(t);
                    }
                }
                Wake::Datagram(i, Ok((n, from))) => {
                    errors_in_a_row = 0;
                    self.receive(i, n, from);
                }
                Wake::Datagram(_, Err(e)) => {
                    self.stats.receive_errors += 1;
                    errors_in_a_row += 1;
                    tracing::debug!(error = %e, "receive error");
                    if errors_in_a_row >= MAX_RECEIVE_ERRORS {
                        break StopReason::Receive(e.kind());
                    }
                }
            }
        };
        // What the last input caused still leaves before the sockets close.
        self.drain().await;
        Stopped {
            endpoint: self.endpoint,
            stats: self.stats,
            reason,
        }
    }

    /// Feeds one received datagram.
    fn receive(&mut self, i: usize, n: usize, from: std::net::SocketAddr) {
        let to = self.sockets.local(i);
        let data = &self.buf[..n];
        self.stats.received += 1;
        tracing::trace!(%from, %to, len = n, "datagram in");
        if let Err(error) = self.endpoint.handle_datagram(now(), from, to, data) {
            self.stats.refused += 1;
            tracing::debug!(%from, %to, ?error, "datagram refused");
        }
    }

    /// Sends every queued transmit, then hands out every queued event, then every piece of user
    /// data (the endpoint contract's order).
    async fn drain(&mut self) {
        while let Some(t) = self.endpoint.poll_transmit() {
            if t.link_dst.is_some() {
                self.stats.link_layer_dropped += 1;
                tracing::debug!(dst = %t.dst, "transmit with a layer-2 next hop dropped");
                continue;
            }
            let Some(socket) = self.sockets.pick(t.src) else {
                self.stats.unbound_source += 1;
                tracing::debug!(src = ?t.src, dst = %t.dst, "transmit from an unbound address dropped");
                continue;
            };
            match socket.send_to(&t.payload, t.dst).await {
                Ok(_) => {
                    self.stats.sent += 1;
                    tracing::trace!(dst = %t.dst, len = t.payload.len(), "datagram out");
                }
                Err(error) => {
                    self.stats.send_errors += 1;
                    tracing::debug!(dst = %t.dst, %error, "send error");
                }
            }
        }
        while let Some(event) = self.endpoint.poll_event() {
            match self.events.try_send(event) {
                Ok(()) => self.stats.events_delivered += 1,
                Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                    self.stats.events_dropped += 1;
                }
            }
        }
        while let Some(data) = self.endpoint.poll_data() {
            match self.data.try_send(data) {
                Ok(()) => self.stats.data_delivered += 1,
                Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                    self.stats.data_dropped += 1;
                }
            }
        }
    }
}
