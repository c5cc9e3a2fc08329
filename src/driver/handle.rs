//! The caller's side of a driver: commands and user data in, shutdown, the endpoint back at the
//! end.

use super::{DriverStats, SendData};
use crate::Endpoint;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A closure run inside the driver's task on the endpoint, with the current time and the
/// driver's counters (each closure counts itself).
pub(super) type Call<E> = Box<dyn FnOnce(&mut E, Instant, &mut DriverStats) + Send>;

/// What the task takes from its handles, in order.
pub(super) enum Command<E> {
    /// A closure run on the endpoint.
    Call(Call<E>),
    /// A socket bound by [`Commander::bind`] at its local address, to receive on and send
    /// from from now on; the sender hears once the task holds it.
    Adopt(tokio::net::UdpSocket, SocketAddr, oneshot::Sender<()>),
    /// Close the socket adopted at this local address ([`Commander::unbind`]); the sender hears
    /// whether there was one.
    Release(SocketAddr, oneshot::Sender<bool>),
}

/// Why a call through a [`Handle`] or [`Commander`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The driver's task has ended (shut down, or stopped on receive errors): the command was not
    /// run.
    #[error("the driver has stopped")]
    Closed,
    /// The driver's task panicked (an endpoint bug: no input may panic an endpoint).
    #[error("the driver's task panicked")]
    Panicked,
    /// [`Commander::bind`] could not bind the address (in use, not local, ...: the OS error's
    /// kind).
    #[error("cannot bind the address: {0:?}")]
    Bind(std::io::ErrorKind),
    /// [`Commander::unbind`]: no socket bound by [`Commander::bind`] is at this address (never
    /// bound, released already, or an address bound at spawn, which stays for the task's life).
    #[error("{0} is not an address bound while running")]
    NotBound(SocketAddr),
}

/// Why a driver's task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// [`Handle::shutdown`] was called or the [`Handle`] dropped.
    Shutdown,
    /// 1000 receive errors in a row on its sockets (the last one's kind).
    Receive(std::io::ErrorKind),
}

/// What [`Handle::shutdown`] hands back: the endpoint (its final state and `stats()`), the
/// driver's counters and why it stopped. The sockets are closed by then.
#[derive(Debug)]
#[non_exhaustive]
pub struct Stopped<E> {
    /// The endpoint, as the task left it.
    pub endpoint: E,
    /// The driver's counters.
    pub stats: DriverStats,
    /// Why the task ended.
    pub reason: StopReason,
}

/// Sends commands to a driven endpoint; cheap to clone, and does not keep the task alive (the
/// [`Handle`] does).
pub struct Commander<E> {
    commands: mpsc::Sender<Command<E>>,
}

impl<E> Clone for Commander<E> {
    fn clone(&self) -> Self {
        Commander {
            commands: self.commands.clone(),
        }
    }
}

impl<E: Endpoint + Send + 'static> Commander<E> {
    /// Runs `f` on the endpoint inside the task, with the current time, and returns its result;
    /// the transmits and events it causes are drained right after. Waits while the command queue
    /// is full.
    ///
    /// # Errors
    ///
    /// [`DriverError::Closed`] when the task has ended.
    pub async fn call<R, F>(&self, f: F) -> Result<R, DriverError>
    where
        R: Send + 'static,
        F: FnOnce(&mut E, Instant) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let call: Call<E> = Box::new(move |e, now, s| {
            s.commands += 1;
            let _ = tx.send(f(e, now));
        });
        self.commands
            .send(Command::Call(call))
            .await
            .map_err(|_| DriverError::Closed)?;
        rx.await.map_err(|_| DriverError::Closed)
    }

    /// The endpoint's counters ([`Endpoint::stats`]).
    ///
    /// # Errors
    ///
    /// [`DriverError::Closed`] when the task has ended.
    pub async fn stats(&self) -> Result<E::Stats, DriverError>
    where
        E::Stats: Send + 'static,
    {
        self.call(|e, _| e.stats()).await
    }

    /// The driver's counters.
    ///
    /// # Errors
    ///
    /// [`DriverError::Closed`] when the task has ended.
    pub async fn driver_stats(&self) -> Result<DriverStats, DriverError> {
        let (tx, rx) = oneshot::channel();
        let call: Call<E> = Box::new(move |_, _, s| {
            s.commands += 1;
            let _ = tx.send(*s);
        });
        self.commands
            .send(Command::Call(call))
            .await
            .map_err(|_| DriverError::Closed)?;
        rx.await.map_err(|_| DriverError::Closed)
    }

    /// Binds one more UDP socket at `addr` and hands it to the task, which from its next turn
    /// receives on it (`to` = its local address) and sends from it the transmits whose `src` it
    /// is: for an address that moves to this endpoint while it runs, such as a failed virtual
    /// LNS member's address its backup took over (`l2tp::Event::TakenOver`: "the caller moves
    /// `addr` to this LNS"). Returns the bound local address (port 0 resolved): the one
    /// [`Commander::unbind`] takes to release it. It is not added to [`Handle::local_addrs`],
    /// which lists the addresses bound at spawn.
    ///
    /// # Errors
    ///
    /// [`DriverError::Bind`] when the OS refuses the bind (nothing changes),
    /// [`DriverError::Closed`] when the task has ended.
    pub async fn bind(&self, addr: SocketAddr) -> Result<SocketAddr, DriverError> {
        let socket = tokio::net::UdpSocket::bind(addr)
            .await
            .map_err(|e| DriverError::Bind(e.kind()))?;
        let local = socket
            .local_addr()
            .map_err(|e| DriverError::Bind(e.kind()))?;
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Adopt(socket, local, tx))
            .await
            .map_err(|_| DriverError::Closed)?;
        rx.await.map_err(|_| DriverError::Closed)?;
        Ok(local)
    }

    /// Closes the socket a [`Commander::bind`] bound at `local` (the address that bind
    /// returned): from the task's next turn, datagrams to it are no longer received (the OS
    /// has no socket there) and a transmit whose `src` it is leaves from no socket (dropped and
    /// counted in [`super::DriverStats::unbound_source`], as from any address not bound); the
    /// address can be bound again, here or by another process. For an address that moves away
    /// from this endpoint again, such as a taken-over member's address once the LNS no longer
    /// serves any tunnel on it (`l2tp::Event::Yielded`: its owner holds it now).
    ///
    /// Only addresses bound by [`Commander::bind`] are released: the addresses bound at spawn
    /// ([`super::DriverConfig::bind`], [`Handle::local_addrs`]) are the endpoint's own (its
    /// heartbeats, its default source) and stay for the task's life.
    ///
    /// # Errors
    ///
    /// [`DriverError::NotBound`] when no socket bound by [`Commander::bind`] is at `local`
    /// (never bound, released already, or a spawn-time address; nothing changes),
    /// [`DriverError::Closed`] when the task has ended.
    pub async fn unbind(&self, local: SocketAddr) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Release(local, tx))
            .await
            .map_err(|_| DriverError::Closed)?;
        if rx.await.map_err(|_| DriverError::Closed)? {
            Ok(())
        } else {
            Err(DriverError::NotBound(local))
        }
    }

    /// Hands one piece of user data to the endpoint, to `to` ([`SendData::send_data`]: a PPP
    /// frame on an LNS's session or a LAC's call, RFC 2661 section 5.3), without waiting for the
    /// task to take it: it is queued behind the commands already queued (waiting while that
    /// queue is full), and its datagram leaves in the task's next turn. A frame the endpoint
    /// refuses (no such session, say) is counted in [`DriverStats::data_refused`] and logged at
    /// debug level; [`Commander::call`] with the role's own method (`Lns::send_ppp`) returns
    /// that error instead, at the cost of a round trip per frame. Like a command, a frame still
    /// queued when [`Handle::shutdown`] is called is not sent.
    ///
    /// # Errors
    ///
    /// [`DriverError::Closed`] when the task has ended (the frame was not sent).
    pub async fn send_data<D>(&self, to: E::Target, data: D) -> Result<(), DriverError>
    where
        E: SendData,
        D: AsRef<[u8]> + Send + 'static,
    {
        let call: Call<E> = Box::new(move |e, _, s| match e.send_data(to, data.as_ref()) {
            Ok(()) => s.data_sent += 1,
            Err(error) => {
                s.data_refused += 1;
                tracing::debug!(?to, ?error, "user data refused");
            }
        });
        self.commands
            .send(Command::Call(call))
            .await
            .map_err(|_| DriverError::Closed)
    }
}

/// The owner of a driven endpoint: commands ([`Handle::call`], as a [`Commander`]), user data in
/// ([`Handle::send_data`]), the bound addresses, and [`Handle::shutdown`]. Dropping it stops the
/// task too (without handing the endpoint back).
pub struct Handle<E> {
    commander: Commander<E>,
    local: Vec<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    join: JoinHandle<Stopped<E>>,
}

impl<E> Handle<E> {
    pub(super) fn new(
        local: Vec<SocketAddr>,
        commands: mpsc::Sender<Command<E>>,
        stop: oneshot::Sender<()>,
        join: JoinHandle<Stopped<E>>,
    ) -> Self {
        Handle {
            commander: Commander { commands },
            local,
            stop: Some(stop),
            join,
        }
    }

    /// The bound local addresses, in [`super::DriverConfig::bind`] order (port 0 resolved).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }

    /// A [`Commander`] for other tasks.
    pub fn commander(&self) -> Commander<E> {
        self.commander.clone()
    }

    /// Whether the task has ended.
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

impl<E: Endpoint + Send + 'static> Handle<E> {
    /// [`Commander::call`].
    ///
    /// # Errors
    ///
    /// [`DriverError::Closed`] when the task has ended.
    pub async fn call<R, F>(&self, f: F) -> Result<R, DriverError>
    where
        R: Send + 'static,
        F: FnOnce(&mut E, Instant) -> R + Send + 'static,
    {
        self.commander.call(f).await
    }

    /// [`Commander::stats`].
    ///
    /// # Errors
    ///
    /// [`DriverError::Closed`] when the task has ended.
    pub async fn stats(&self) -> Result<E::Stats, DriverError>
    where
        E::Stats: Send + 'static,
    {
        self.commander.stats().await
    }

    /// [`Commander::driver_stats`].
    ///
    /// # Errors
    ///
    /// [`DriverError::Closed`] when the task has ended.
    pub async fn driver_stats(&self) -> Result<DriverStats, DriverError> {
        self.commander.driver_stats().await
    }

    /// [`Commander::send_data`].
    ///
    /// # Errors
    ///
    /// [`DriverError::Closed`] when the task has ended.
    pub async fn send_data<D>(&self, to: E::Target, data: D) -> Result<(), DriverError>
    where
        E: SendData,
        D: AsRef<[u8]> + Send + 'static,
    {
        self.commander.send_data(to, data).await
    }

    /// [`Commander::bind`].
    ///
    /// # Errors
    ///
    /// [`DriverError::Bind`] when the OS refuses the bind, [`DriverError::Closed`] when the task
    /// has ended.
    pub async fn bind(&self, addr: SocketAddr) -> Result<SocketAddr, DriverError> {
        self.commander.bind(addr).await
    }

    /// [`Commander::unbind`].
    ///
    /// # Errors
    ///
    /// [`DriverError::NotBound`] when no socket bound by [`Handle::bind`] is at `local`,
    /// [`DriverError::Closed`] when the task has ended.
    pub async fn unbind(&self, local: SocketAddr) -> Result<(), DriverError> {
        self.commander.unbind(local).await
    }

    /// Stops the task once the transmits already queued are sent, waits for it to end (its
    /// sockets are closed by then) and hands back the endpoint. Commands still queued are not run.
    ///
    /// # Errors
    ///
    /// [`DriverError::Panicked`] if the task panicked.
    pub async fn shutdown(mut self) -> Result<Stopped<E>, DriverError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.join).await.map_err(|_| DriverError::Panicked)
    }
}
