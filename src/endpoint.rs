//! The one endpoint contract every sans-IO state machine of the crate implements.
//!
//! [`Endpoint`] is the typed form (quinn-proto's and str0m's poll API): the caller feeds received
//! datagrams ([`Endpoint::handle_datagram`], or [`Endpoint::handle_frame`] when it knows the
//! link-layer source) and the current time ([`Endpoint::handle_timeout`]), then polls out what to
//! send ([`Endpoint::poll_transmit`]), what happened ([`Endpoint::poll_event`]) and when to call
//! again ([`Endpoint::poll_timeout`]). Each endpoint names its own `Event`, `Error`, `Data` and
//! `Stats`.
//!
//! User data the endpoint received for its caller (an L2TP session's PPP frames) comes out of
//! [`Endpoint::poll_data`], a bounded queue of its own beside the events; roles without such a
//! data path (the Home Agent's and the steering gateway's user plane never passes through the
//! caller) name [`std::convert::Infallible`] and keep the default, which returns `None`.
//!
//! [`crate::Node`] is the object-safe form for heterogeneous drivers (a socket loop running several
//! protocols, or the simulator `telcp::sim` of feature `sim`): every [`Endpoint`] is a `Node` through a blanket impl that maps
//! its event into the crate-wide [`Event`] and its input error into the crate-wide [`Error`], so a
//! driver reaches events and refusals without a downcast.
//!
//! The call order, for every endpoint: after any `handle_*` call or command, drain `poll_transmit`,
//! then `poll_event`, then `poll_data`, then read `poll_timeout` and call `handle_timeout` once it is reached. A
//! `handle_timeout` before the deadline is a no-op. Time passed in never goes backwards; when it
//! does (a caller's bug), nothing panics and no deadline moves backwards.

use crate::health::{HealthError, HealthEvent, Monitor, MonitorStats};
use crate::io::{MacAddr, Node, Transmit};
use crate::l2tp::{self, Lac, Lns};
use crate::mip::{
    ClientError, ClientEvent, ClientStats, FaError, FaEvent, FaStats, ForeignAgent, HaStats,
    HomeAgent, MobileNodeClient,
};
use crate::steering::line::{LineEvent, LineStats};
use crate::steering::processor::{ProcessorEvent, ProcessorStats};
use crate::steering::switch::{SwitchEvent, SwitchStats};
use crate::steering::{self, LineInterface, Processor, SwitchProcessor};
use std::net::SocketAddr;
use std::time::Instant;

/// An endpoint that takes user data from its caller: the [`Lns`] (a PPP frame on a session,
/// [`Lns::send_ppp`]) and the [`Lac`] (on a call, [`Lac::send_ppp`]), RFC 2661 section 5.3. The
/// user data the endpoint hands back ([`Endpoint::poll_data`]) names its target
/// ([`l2tp::Data::session`], [`l2tp::Data::call`]), so an answer goes where the frame came from.
/// Generic code over any such endpoint uses it (a caller's own socket loop; the tokio driver's
/// `Handle::send_data`, feature `tokio`); the role's own method does the same.
pub trait SendData: Endpoint {
    /// Where the data goes: an [`l2tp::SessionRef`] at the LNS, an [`l2tp::CallId`] at the LAC.
    type Target: Copy + std::fmt::Debug + Send + 'static;
    /// Why the endpoint refused it.
    type Refusal: std::error::Error + Send + Sync + 'static;
    /// Queues `data` (one frame, its octets as the peer is to get them) to `to`, for
    /// [`Endpoint::poll_transmit`].
    ///
    /// # Errors
    ///
    /// The endpoint's refusal (nothing queued): [`l2tp::CommandError`] for the LNS and the LAC
    /// (no such session or call, or one not established).
    fn send_data(&mut self, to: Self::Target, data: &[u8]) -> Result<(), Self::Refusal>;
}

impl SendData for Lns {
    type Target = l2tp::SessionRef;
    type Refusal = l2tp::CommandError;
    fn send_data(&mut self, to: l2tp::SessionRef, data: &[u8]) -> Result<(), l2tp::CommandError> {
        self.send_ppp(to, data)
    }
}

impl SendData for Lac {
    type Target = l2tp::CallId;
    type Refusal = l2tp::CommandError;
    fn send_data(&mut self, to: l2tp::CallId, data: &[u8]) -> Result<(), l2tp::CommandError> {
        self.send_ppp(to, data)
    }
}

/// The sans-IO endpoint contract (see the [module docs](self)).
///
/// Implemented by [`Lac`], [`Lns`] (RFC 2661), [`HomeAgent`], [`ForeignAgent`],
/// [`MobileNodeClient`] (RFC 5944), [`LineInterface`], [`SwitchProcessor`], [`Processor`]
/// (TS 29.060 / TS 29.281 steering) and [`Monitor`].
pub trait Endpoint {
    /// What the endpoint reports to its caller.
    type Event: Into<Event>;
    /// Why a datagram was refused (the protocol's own refusal may also have been queued); it
    /// converts into the crate-wide [`Error`] a [`crate::Node`] returns. An endpoint that never
    /// refuses input uses [`std::convert::Infallible`]. Every endpoint's error is a
    /// [`std::error::Error`] that is `Send + Sync + 'static`, so `?` carries it into a caller's
    /// own error type (`Box<dyn std::error::Error + Send + Sync>`, `anyhow`, a `thiserror`
    /// `#[from]`).
    type Error: std::error::Error + Send + Sync + 'static + Into<Error>;
    /// The user data it hands its caller ([`Endpoint::poll_data`]): [`l2tp::Data`] for the LAC
    /// and the LNS, [`std::convert::Infallible`] for a role without a data path. It converts into
    /// the crate-wide [`Data`] a [`crate::Node`] hands out.
    type Data: Into<Data>;
    /// The endpoint's counters.
    type Stats: Copy + std::fmt::Debug;

    /// Feeds one received datagram: `from` is its source, `to` the local address it was sent to.
    fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), Self::Error>;

    /// Feeds one received frame whose link-layer source is known. Endpoints that use the source
    /// MAC (the virtual Home Agent) override this; the default ignores it.
    fn handle_frame(
        &mut self,
        now: Instant,
        link_src: Option<MacAddr>,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), Self::Error> {
        let _ = link_src;
        self.handle_datagram(now, from, to, data)
    }

    /// Lets the timers due at `now` fire; calling it early is a no-op.
    fn handle_timeout(&mut self, now: Instant);

    /// The next datagram to send.
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// The next piece of user data received for the caller (drained after
    /// [`Endpoint::poll_event`]): an L2TP session's PPP frame at the [`Lac`] and the [`Lns`] (a
    /// bounded queue, [`l2tp::Config::max_data_queue`]; frames beyond it are dropped and counted).
    /// A generic loop that skips it loses them. The default, for roles without a data path,
    /// returns `None`.
    fn poll_data(&mut self) -> Option<Self::Data> {
        None
    }

    /// The earliest instant at which [`Endpoint::handle_timeout`] has work to do.
    fn poll_timeout(&self) -> Option<Instant>;

    /// The counters so far.
    fn stats(&self) -> Self::Stats;

    /// The counters so far in the crate-wide form [`Stats`], which [`crate::Node::stats`]
    /// hands out: every endpoint of the crate returns its [`Endpoint::stats`] there; a
    /// caller's own endpoint (a test node, a wrapper) keeps the default, `None`, whatever its
    /// `Stats` type.
    fn node_stats(&self) -> Option<Stats> {
        None
    }
}

/// An event of any endpoint of the crate, as [`crate::Node::poll_event`] hands it out.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// From a [`Lac`] or an [`Lns`] (RFC 2661).
    L2tp(l2tp::Event),
    /// From a [`HomeAgent`] (RFC 5944).
    HomeAgent(crate::mip::Event),
    /// From a [`ForeignAgent`] (RFC 5944 section 3.7).
    ForeignAgent(FaEvent),
    /// From a [`MobileNodeClient`] (RFC 5944 section 3.6).
    MobileNode(ClientEvent),
    /// From a [`LineInterface`].
    Line(LineEvent),
    /// From a [`SwitchProcessor`].
    Switch(SwitchEvent),
    /// From a [`Processor`].
    Processor(ProcessorEvent),
    /// From a [`Monitor`].
    Health(HealthEvent),
}

/// The counters of any endpoint of the crate, as [`crate::Node::stats`] hands them out: the
/// endpoint's own [`Endpoint::Stats`], by kind of endpoint, so a driver holding several kinds
/// (`Vec<Box<dyn Node>>`) reads every one's counters without a downcast. Each converts back
/// with `TryFrom` (the `Stats` itself when it is another kind's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stats {
    /// Of a [`Lac`] or an [`Lns`] (RFC 2661).
    L2tp(l2tp::Stats),
    /// Of a [`HomeAgent`] (RFC 5944).
    HomeAgent(HaStats),
    /// Of a [`ForeignAgent`] (RFC 5944 section 3.7).
    ForeignAgent(FaStats),
    /// Of a [`MobileNodeClient`] (RFC 5944 section 3.6).
    MobileNode(ClientStats),
    /// Of a [`LineInterface`].
    Line(LineStats),
    /// Of a [`SwitchProcessor`].
    Switch(SwitchStats),
    /// Of a [`Processor`].
    Processor(ProcessorStats),
    /// Of a [`Monitor`].
    Health(MonitorStats),
}

/// User data of any endpoint of the crate, as [`crate::Node::poll_data`] hands it out.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Data {
    /// A PPP frame of an L2TP session, from a [`Lac`] or an [`Lns`] (RFC 2661 section 5.1).
    L2tp(l2tp::Data),
}

impl From<l2tp::Data> for Data {
    fn from(d: l2tp::Data) -> Data {
        Data::L2tp(d)
    }
}

impl TryFrom<Data> for l2tp::Data {
    type Error = Data;
    fn try_from(d: Data) -> Result<l2tp::Data, Data> {
        match d {
            Data::L2tp(d) => Ok(d),
        }
    }
}

/// An endpoint without a data path ([`Endpoint::Data`] `= Infallible`).
impl From<std::convert::Infallible> for Data {
    fn from(never: std::convert::Infallible) -> Data {
        match never {}
    }
}

/// Why an endpoint refused a datagram, in the crate-wide form [`crate::Node::handle_datagram`]
/// returns: the endpoint's own typed input error, by subsystem. The protocol's own refusal (a
/// StopCCN, a Registration Reply code, a GTP cause) has already been queued for transmission when
/// the datagram deserved one; this value is for the caller's logs and counters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From a [`Lac`] or an [`Lns`] (RFC 2661).
    #[error("L2TP: {0}")]
    L2tp(l2tp::InputError),
    /// From a [`HomeAgent`] (RFC 5944).
    #[error("Home Agent: {0}")]
    HomeAgent(crate::mip::InputError),
    /// From a [`ForeignAgent`] (RFC 5944 section 3.7).
    #[error("Foreign Agent: {0}")]
    ForeignAgent(FaError),
    /// From a [`MobileNodeClient`] (RFC 5944 section 3.6).
    #[error("mobile node: {0}")]
    MobileNode(ClientError),
    /// From a [`LineInterface`], a [`SwitchProcessor`] or a [`Processor`] (they share one input
    /// error type).
    #[error("steering: {0}")]
    Steering(steering::InputError),
    /// From a [`Monitor`].
    #[error("health: {0}")]
    Health(HealthError),
}

macro_rules! error_variant {
    ($variant:ident, $t:ty) => {
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::$variant(e)
            }
        }
    };
}

error_variant!(L2tp, l2tp::InputError);
error_variant!(HomeAgent, crate::mip::InputError);
error_variant!(ForeignAgent, FaError);
error_variant!(MobileNode, ClientError);
error_variant!(Steering, steering::InputError);
error_variant!(Health, HealthError);

/// An endpoint that never refuses input ([`Endpoint::Error`] `= Infallible`).
impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Error {
        match never {}
    }
}

/// `From` a kind's own type into the crate-wide enum `$enum` (its variant `$variant`), and
/// `TryFrom` back (the crate-wide value itself when it is another kind's).
macro_rules! enum_variant {
    ($enum:ident, $variant:ident, $t:ty) => {
        impl From<$t> for $enum {
            fn from(e: $t) -> $enum {
                $enum::$variant(e)
            }
        }
        impl TryFrom<$enum> for $t {
            type Error = $enum;
            fn try_from(e: $enum) -> Result<$t, $enum> {
                match e {
                    $enum::$variant(e) => Ok(e),
                    other => Err(other),
                }
            }
        }
    };
}

enum_variant!(Event, L2tp, l2tp::Event);
enum_variant!(Event, HomeAgent, crate::mip::Event);
enum_variant!(Event, ForeignAgent, FaEvent);
enum_variant!(Event, MobileNode, ClientEvent);
enum_variant!(Event, Line, LineEvent);
enum_variant!(Event, Switch, SwitchEvent);
enum_variant!(Event, Processor, ProcessorEvent);
enum_variant!(Event, Health, HealthEvent);

enum_variant!(Stats, L2tp, l2tp::Stats);
enum_variant!(Stats, HomeAgent, HaStats);
enum_variant!(Stats, ForeignAgent, FaStats);
enum_variant!(Stats, MobileNode, ClientStats);
enum_variant!(Stats, Line, LineStats);
enum_variant!(Stats, Switch, SwitchStats);
enum_variant!(Stats, Processor, ProcessorStats);
enum_variant!(Stats, Health, MonitorStats);

impl<T: Endpoint + 'static> Node for T {
    fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), Error> {
        Endpoint::handle_datagram(self, now, from, to, data).map_err(Into::into)
    }
    fn handle_frame(
        &mut self,
        now: Instant,
        link_src: Option<MacAddr>,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), Error> {
        Endpoint::handle_frame(self, now, link_src, from, to, data).map_err(Into::into)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Endpoint::handle_timeout(self, now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Endpoint::poll_transmit(self)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Endpoint::poll_event(self).map(Into::into)
    }
    fn poll_data(&mut self) -> Option<Data> {
        Endpoint::poll_data(self).map(Into::into)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Endpoint::poll_timeout(self)
    }
    fn stats(&self) -> Option<Stats> {
        Endpoint::node_stats(self)
    }
}

/// Implements [`Endpoint`] by delegating to the type's inherent methods of the same names.
macro_rules! endpoint {
    ($t:ty, $event:ty, $error:ty, $stats:ty, |$s:ident| $get_stats:expr) => {
        endpoint!(
            $t,
            $event,
            $error,
            std::convert::Infallible,
            $stats,
            |$s| $get_stats,
            |_s| None
        );
    };
    (
        $t:ty,
        $event:ty,
        $error:ty,
        $data:ty,
        $stats:ty,
        |$s:ident| $get_stats:expr,
        |$d:ident| $get_data:expr
    ) => {
        impl Endpoint for $t {
            type Event = $event;
            type Error = $error;
            type Data = $data;
            type Stats = $stats;
            fn handle_datagram(
                &mut self,
                now: Instant,
                from: SocketAddr,
                to: SocketAddr,
                data: &[u8],
            ) -> Result<(), $error> {
                <$t>::handle_datagram(self, now, from, to, data)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_transmit(&mut self) -> Option<Transmit> {
                <$t>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<$event> {
                <$t>::poll_event(self)
            }
            fn poll_data(&mut self) -> Option<$data> {
                let $d = self;
                $get_data
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn stats(&self) -> $stats {
                let $s = self;
                $get_stats
            }
            fn node_stats(&self) -> Option<Stats> {
                Some(Endpoint::stats(self).into())
            }
        }
    };
}

endpoint!(
    Lac,
    l2tp::Event,
    l2tp::InputError,
    l2tp::Data,
    l2tp::Stats,
    |s| s.stats(),
    |s| s.poll_data()
);
endpoint!(
    Lns,
    l2tp::Event,
    l2tp::InputError,
    l2tp::Data,
    l2tp::Stats,
    |s| s.stats(),
    |s| s.poll_data()
);
endpoint!(ForeignAgent, FaEvent, FaError, FaStats, |s| s.stats());
endpoint!(
    MobileNodeClient,
    ClientEvent,
    ClientError,
    ClientStats,
    |s| s.stats()
);
endpoint!(Monitor, HealthEvent, HealthError, MonitorStats, |s| s
    .stats());
endpoint!(
    LineInterface,
    LineEvent,
    steering::InputError,
    LineStats,
    |s| s.stats()
);
endpoint!(
    SwitchProcessor,
    SwitchEvent,
    steering::InputError,
    SwitchStats,
    |s| s.stats()
);
endpoint!(
    Processor,
    ProcessorEvent,
    steering::InputError,
    ProcessorStats,
    |s| s.stats()
);

/// The Home Agent uses the link-layer source of a frame (RFC 5944 section 4.6 layer-2 delivery
/// inside the virtual HA), so it overrides [`Endpoint::handle_frame`].
impl Endpoint for HomeAgent {
    type Event = crate::mip::Event;
    type Error = crate::mip::InputError;
    type Data = std::convert::Infallible;
    type Stats = HaStats;
    fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), Self::Error> {
        HomeAgent::handle_datagram(self, now, from, to, data)
    }
    fn handle_frame(
        &mut self,
        now: Instant,
        link_src: Option<MacAddr>,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), Self::Error> {
        HomeAgent::handle_frame(self, now, link_src, from, to, data)
    }
    fn handle_timeout(&mut self, now: Instant) {
        HomeAgent::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        HomeAgent::poll_transmit(self)
    }
    fn poll_event(&mut self) -> Option<Self::Event> {
        HomeAgent::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        HomeAgent::poll_timeout(self)
    }
    fn stats(&self) -> HaStats {
        HomeAgent::stats(self)
    }
    fn node_stats(&self) -> Option<Stats> {
        Some(Stats::HomeAgent(self.stats()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{ClusterKey, MonitorConfig, NodeId, Role};

    /// What a generic driver does with a refusal: `?` into its own boxed error. With
    /// `Endpoint::Error` bounded by `Debug` alone this does not compile.
    fn feed<E: Endpoint>(
        node: &mut E,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        node.handle_datagram(now, from, to, data)?;
        Ok(())
    }

    fn std_error<T: std::error::Error + Send + Sync + 'static>() {}

    /// A health monitor (node 1) with one peer, node 2 at `peer`.
    fn monitor(now: Instant, peer: SocketAddr) -> Monitor {
        let key = ClusterKey::new(b"a heartbeat secret");
        let config = MonitorConfig::new(NodeId(1), Role::LNS, key, vec![(NodeId(2), peer)]);
        Monitor::new(config, now).unwrap()
    }

    #[test]
    fn every_endpoint_error_is_a_std_error_a_caller_can_question_mark() {
        std_error::<<Lac as Endpoint>::Error>();
        std_error::<<Lns as Endpoint>::Error>();
        std_error::<<HomeAgent as Endpoint>::Error>();
        std_error::<<ForeignAgent as Endpoint>::Error>();
        std_error::<<MobileNodeClient as Endpoint>::Error>();
        std_error::<<LineInterface as Endpoint>::Error>();
        std_error::<<SwitchProcessor as Endpoint>::Error>();
        std_error::<<Processor as Endpoint>::Error>();
        std_error::<<Monitor as Endpoint>::Error>();
        std_error::<Error>();

        let (a, b): (SocketAddr, SocketAddr) = (
            "10.0.0.1:7000".parse().unwrap(),
            "10.0.0.2:7000".parse().unwrap(),
        );
        let now = Instant::now();
        let mut m = monitor(now, b);
        // Not a heartbeat: refused with a typed error that `?` boxed.
        let e = feed(&mut m, now, b, a, b"not a heartbeat").unwrap_err();
        assert!(e.downcast_ref::<HealthError>().is_some(), "{e}");
    }

    /// A generic loop over [`Node`] gets the PPP frames an L2TP session carried (RFC 2661
    /// section 5.1: data messages carry the PPP frames of a session): through `poll_data`, in the
    /// crate-wide form, not only from the LNS's inherent method.
    #[test]
    fn a_generic_node_loop_gets_the_ppp_frames_of_an_lns() {
        let now = Instant::now();
        let lac_addr: SocketAddr = "10.0.9.1:1701".parse().unwrap();
        let lns_addr: SocketAddr = "10.0.0.1:1701".parse().unwrap();
        let mut lac = Lac::new(l2tp::LacConfig::new(lns_addr), now).unwrap();
        let mut lns: Box<dyn Node> = Box::new(Lns::new(l2tp::LnsConfig::default(), now).unwrap());
        let call = lac.open_session(now).unwrap();
        loop {
            let mut moved = false;
            while let Some(t) = lac.poll_transmit() {
                lns.handle_datagram(now, lac_addr, lns_addr, &t.payload)
                    .unwrap();
                moved = true;
            }
            while let Some(t) = lns.poll_transmit() {
                lac.handle_datagram(now, lns_addr, lac_addr, &t.payload)
                    .unwrap();
                moved = true;
            }
            if !moved {
                break;
            }
        }
        while lns.poll_event().is_some() {}
        assert_eq!(lns.poll_data(), None);
        lac.send_ppp(call, b"\xff\x03\xc0\x21").unwrap();
        let t = lac.poll_transmit().unwrap();
        lns.handle_datagram(now, lac_addr, lns_addr, &t.payload)
            .unwrap();
        let Some(Data::L2tp(d)) = lns.poll_data() else {
            panic!("no PPP frame through Node::poll_data")
        };
        assert_eq!(&d.frame[..], b"\xff\x03\xc0\x21");
        assert_eq!(lns.poll_data(), None);
        // The counters through the same `dyn Node`, no downcast, of the L2TP kind; the same
        // as the endpoint's own.
        let stats = lns.stats().expect("an endpoint has counters");
        assert!(l2tp::Stats::try_from(stats).is_ok());
        assert_eq!(Node::stats(&lac), Some(Stats::L2tp(Endpoint::stats(&lac))));
    }

    /// A driver holding several kinds of endpoint as `dyn Node` reads each one's counters in
    /// the crate-wide form, of its own kind: they convert back to that kind only.
    #[test]
    fn node_stats_are_each_endpoints_own_counters_by_kind() {
        let b: SocketAddr = "10.0.0.2:7000".parse().unwrap();
        let now = Instant::now();
        let mut m = monitor(now, b);
        let _ = Endpoint::handle_datagram(&mut m, now, b, b, b"not a heartbeat");
        let nodes: Vec<Box<dyn Node>> = vec![
            Box::new(m),
            Box::new(Lns::new(l2tp::LnsConfig::default(), now).unwrap()),
        ];
        let health = nodes[0].stats().unwrap();
        assert!(matches!(health, Stats::Health(_)));
        assert_eq!(
            MonitorStats::try_from(health).map(|s| s == MonitorStats::default()),
            Ok(false)
        );
        assert_eq!(l2tp::Stats::try_from(health), Err(health));
        assert_eq!(nodes[1].stats(), Some(Stats::L2tp(l2tp::Stats::default())));
    }

    /// A role without a data path hands out nothing from `poll_data`, in either form.
    #[test]
    fn poll_data_is_none_for_a_role_without_a_data_path() {
        let b: SocketAddr = "10.0.0.2:7000".parse().unwrap();
        let mut m = monitor(Instant::now(), b);
        assert!(Endpoint::poll_data(&mut m).is_none());
        assert!(Node::poll_data(&mut m).is_none());
    }
}
