//! An async driver: runs any [`Endpoint`] over tokio UDP sockets and timers (feature `tokio`).
//!
//! This module is the one place of the crate that touches sockets and the clock: every other
//! module stays sans-IO. [`spawn`] binds one UDP socket per local address the endpoint needs
//! ([`DriverConfig::bind`]), moves the endpoint into one tokio task and returns a [`Handle`] to it
//! and the receiving ends of its events and of its user data. The task follows the endpoint
//! contract:
//!
//! 1. after every input (a datagram, a fired deadline, a command) it drains
//!    [`Endpoint::poll_transmit`] (each datagram leaves from the socket bound to
//!    [`crate::Transmit::src`], or the first socket when `src` is `None`), then
//!    [`Endpoint::poll_event`] (events go to the channel, `DriverConfig::event_queue` deep; beyond,
//!    they are dropped and counted in [`DriverStats::events_dropped`]), then
//!    [`Endpoint::poll_data`] (the user data the endpoint received for its caller, an LNS's or a
//!    LAC's PPP frames, go to the data channel, `DriverConfig::data_queue` deep; beyond, dropped
//!    and counted in [`DriverStats::data_dropped`]; a role without a data path sends nothing
//!    there);
//! 2. then it waits for whichever comes first: a shutdown, a command, the deadline
//!    [`Endpoint::poll_timeout`] (then [`Endpoint::handle_timeout`]) or a datagram on any socket
//!    (then [`Endpoint::handle_datagram`] with `to` = the receiving socket's local address).
//!
//! Commands reach the endpoint as closures ([`Handle::call`], [`Commander::call`]) run inside the
//! task with the current time: `|lac, now| lac.open_session(now)`. User data goes the other way
//! through [`Handle::send_data`] / [`Commander::send_data`] for a role that takes it
//! ([`SendData`]: the LNS by session, the LAC by call), queued behind the commands without a
//! round trip. An address that moves to the endpoint while it runs (a failed virtual LNS
//! member's, taken over by its backup) is bound with [`Handle::bind`] / [`Commander::bind`], and
//! released with [`Handle::unbind`] / [`Commander::unbind`] when it moves away again (the
//! addresses bound at spawn stay). The task ends on
//! [`Handle::shutdown`] (which hands back the endpoint, its final [`DriverStats`] and why it
//! stopped) or when the [`Handle`] is dropped; its sockets close with it.
//!
//! Time is tokio's clock ([`now`]), so tests run the driver under tokio's paused time
//! (`#[tokio::test(start_paused = true)]`) and deadlines fire without waiting. The design follows
//! quinn's endpoint driver over quinn-proto: one task owns the state machine and its sockets,
//! handles talk to it through channels.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use telcp::driver::{self, DriverConfig};
//! use telcp::l2tp::{Event, Lac, LacConfig};
//!
//! let lac = Lac::new(LacConfig::new("192.0.2.1:1701".parse()?), driver::now())?;
//! let config = DriverConfig::new(vec!["192.0.2.2:1701".parse()?]);
//! let (handle, mut events, mut data) = driver::spawn(lac, config).await?;
//! let call = handle.call(|lac, now| lac.open_session(now)).await??;
//! while let Some(event) = events.recv().await {
//!     println!("{call:?}: {event:?}");
//!     if matches!(event, Event::SessionUp { .. }) {
//!         break;
//!     }
//! }
//! // A PPP frame (an LCP Configure-Request) to the LNS, and the first frame back.
//! handle.send_data(call, vec![0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04]).await?;
//! if let Some(frame) = data.recv().await {
//!     println!("PPP from the LNS: {:?}", frame.frame);
//! }
//! let stopped = handle.shutdown().await?;
//! println!("{:?} {:?}", stopped.endpoint.stats(), stopped.stats);
//! # Ok(()) }
//! ```

mod handle;
mod sockets;
mod task;
#[cfg(test)]
mod tests;

pub use crate::endpoint::SendData;
pub use handle::{Commander, DriverError, Handle, StopReason, Stopped};

use crate::Endpoint;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Where and how a driver runs its endpoint.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DriverConfig {
    /// Every local address the endpoint sends from or receives on, one UDP socket each (an LNS's
    /// own and virtual addresses, a Home Agent's own and virtual HA addresses, a line interface's
    /// fabric, GTP-C and GTP-U addresses). The first is the default source of a transmit whose
    /// `src` is `None`. Port 0 binds an ephemeral port ([`Handle::local_addrs`] tells which).
    /// Bind specific addresses, not `0.0.0.0`: the endpoint is told the receiving socket's local
    /// address as the datagram's destination. Must not be empty.
    pub bind: Vec<SocketAddr>,
    /// Events waiting for the caller; beyond, new events are dropped
    /// ([`DriverStats::events_dropped`]). Default 1024.
    pub event_queue: usize,
    /// User data waiting for the caller ([`Endpoint::poll_data`]: an LNS's or a LAC's PPP
    /// frames); beyond, new data is dropped ([`DriverStats::data_dropped`]). Default 1024.
    pub data_queue: usize,
    /// Commands and user data waiting for the task ([`Handle::call`] and [`Handle::send_data`]
    /// wait while it is full). Default 64.
    pub command_queue: usize,
    /// Receive buffer, octets; a longer datagram is truncated by the socket (a UDP datagram is at
    /// most 65 507 octets over IPv4). Default 65 535.
    pub max_datagram: usize,
}

impl DriverConfig {
    /// A driver on `bind`, with the defaults above.
    pub fn new(bind: Vec<SocketAddr>) -> Self {
        DriverConfig {
            bind,
            event_queue: 1024,
            data_queue: 1024,
            command_queue: 64,
            max_datagram: 65_535,
        }
    }
}

/// What a driver counted (every datagram it did not hand over is counted by reason).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverStats {
    /// Datagrams received and fed to the endpoint.
    pub received: u64,
    /// Of those, the ones the endpoint refused (its typed error, logged at debug level).
    pub refused: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Transmits whose `send_to` failed (logged at debug level).
    pub send_errors: u64,
    /// Receive errors (logged at debug level; the task stops after 1000 in a row).
    pub receive_errors: u64,
    /// Transmits dropped because their `src` is no bound address.
    pub unbound_source: u64,
    /// Transmits dropped because they name a layer-2 next hop (`link_dst`), which a UDP socket
    /// cannot address (a Home Agent in layer-2 forwarding mode needs a link-layer driver).
    pub link_layer_dropped: u64,
    /// `handle_timeout` calls (each at or after the deadline).
    pub timeouts: u64,
    /// Commands run ([`Handle::call`], the stats reads).
    pub commands: u64,
    /// Events handed to the channel.
    pub events_delivered: u64,
    /// Events dropped: the channel was full or its receiver gone.
    pub events_dropped: u64,
    /// User data received by the endpoint and handed to the data channel.
    pub data_delivered: u64,
    /// User data dropped: the data channel was full or its receiver gone.
    pub data_dropped: u64,
    /// User data from the caller ([`Handle::send_data`]) the endpoint took.
    pub data_sent: u64,
    /// User data from the caller the endpoint refused (no such session or call; logged at
    /// debug level).
    pub data_refused: u64,
}

/// The current time on tokio's clock, as the `Instant` endpoints take (paused and advanced in
/// tests with `tokio::time::pause`). Create endpoints with it: `Lac::new(config, driver::now())`.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The receiving end of a driven endpoint's user data ([`Endpoint::poll_data`]).
pub type DataReceiver<E> = mpsc::Receiver<<E as Endpoint>::Data>;

/// Binds the sockets of `config`, moves `endpoint` into a new tokio task that drives it, and
/// returns its handle, the receiver of its events and the receiver of its user data (an LNS's or
/// a LAC's PPP frames; never anything for a role without a data path). Must be called within a
/// tokio runtime (with I/O and time enabled).
///
/// # Errors
///
/// A bind error (address in use, not local, or `config.bind` empty: `InvalidInput`); nothing is
/// left running.
pub async fn spawn<E>(
    endpoint: E,
    config: DriverConfig,
) -> std::io::Result<(Handle<E>, mpsc::Receiver<E::Event>, DataReceiver<E>)>
where
    E: Endpoint + Send + 'static,
    E::Event: Send,
    E::Data: Send,
{
    spawn_with(endpoint, config, |_: &mut E, _: Instant| {}).await
}

/// [`spawn`] with a hook run inside the task after every input, before the transmits, events and
/// user data are drained: for what must happen in the same turn, such as answering a PPP frame
/// without a trip through the data channel (a hook that drains [`Endpoint::poll_data`] itself
/// takes those frames before the driver does).
///
/// # Errors
///
/// As [`spawn`].
pub async fn spawn_with<E, H>(
    endpoint: E,
    config: DriverConfig,
    hook: H,
) -> std::io::Result<(Handle<E>, mpsc::Receiver<E::Event>, DataReceiver<E>)>
where
    E: Endpoint + Send + 'static,
    E::Event: Send,
    E::Data: Send,
    H: FnMut(&mut E, Instant) + Send + 'static,
{
    let sockets = sockets::Sockets::bind(&config.bind).await?;
    let local = sockets.local_addrs();
    let (event_tx, event_rx) = mpsc::channel(config.event_queue.max(1));
    let (data_tx, data_rx) = mpsc::channel(config.data_queue.max(1));
    let (command_tx, command_rx) = mpsc::channel(config.command_queue.max(1));
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = task::Task {
        endpoint,
        sockets,
        buf: vec![0; config.max_datagram.max(1)],
        events: event_tx,
        data: data_tx,
        commands: command_rx,
        stop: stop_rx,
        hook,
        stats: DriverStats::default(),
    };
    let join = tokio::spawn(task.run());
    Ok((
        Handle::new(local, command_tx, stop_tx, join),
        event_rx,
        data_rx,
    ))
}
