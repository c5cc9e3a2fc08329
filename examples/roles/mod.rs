//! What the four runnable roles (`examples/lac.rs`, `lns.rs`, `home-agent.rs`, `gateway.rs`)
//! share: the command line, the TOML configuration with errors that name the key, `tracing`
//! output (human lines, or JSON with `--json`), the endpoints on the async driver
//! (`telcp::driver`), stats on an interval and at exit, and a clean stop on Ctrl-C.
//! `tests/roles.rs` includes this module and starts every role in-process ([`RoleConfig::start`]).
#![allow(dead_code)]

pub mod gateway;
pub mod home_agent;
pub mod lac;
pub mod lns;

use serde::de::DeserializeOwned;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;
use telcp::Endpoint;
use telcp::driver::{self, Commander, DriverConfig, Handle};
use tokio::sync::mpsc;

/// Where a test watches a role's events: `(part, event)` for every event of every part.
pub type Observer = Option<mpsc::UnboundedSender<(String, telcp::Event)>>;

/// Why a role did not start.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// A role's configuration file.
pub trait RoleConfig: DeserializeOwned {
    /// The role's name in log lines.
    const ROLE: &'static str;
    /// How often the stats are logged (zero: only at exit).
    fn stats_interval(&self) -> Duration;
    /// Builds the role's endpoints and starts each on the driver.
    fn start(self, observer: Observer) -> impl Future<Output = Result<Running, StartError>>;
}

/// A secret from a configuration file (a cluster key, a tunnel secret, a mobile node's or a
/// foreign agent's key): `Debug` shows its length only, so a logged configuration never carries
/// it in clear.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret's bytes (UTF-8 as written in the file).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret's bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0.into_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes redacted>", self.0.len())
    }
}

/// A configuration file that did not load: the file, the key (a dotted path such as
/// `cluster.peers[0].addr`; empty for a syntax error), and what is wrong.
#[derive(Debug)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The key.
    pub key: String,
    /// What is wrong, with the line when known.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() || self.key == "." {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: key `{}`: {}",
                self.file.display(),
                self.key,
                self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// Parses a configuration; `file` only names it in the error.
pub fn parse<C: DeserializeOwned>(text: &str, file: &Path) -> Result<C, ConfigError> {
    let err = |key: String, e: &toml::de::Error| {
        let line = e
            .span()
            .map(|s| {
                format!(
                    " (line {})",
                    text[..s.start.min(text.len())].lines().count().max(1)
                )
            })
            .unwrap_or_default();
        ConfigError {
            file: file.to_owned(),
            key,
            message: format!("{}{line}", e.message().trim_end()),
        }
    };
    let de = toml::Deserializer::parse(text).map_err(|e| err(String::new(), &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| err(e.path().to_string(), e.inner()))
}

/// Reads and parses a configuration file.
pub fn load<C: DeserializeOwned>(path: &Path) -> Result<C, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        key: String::new(),
        message: e.to_string(),
    })?;
    parse(&text, path)
}

/// A running endpoint of a role, type-erased.
pub trait Part: Send + Sync {
    /// Its name in log lines.
    fn name(&self) -> &str;
    /// Its stats as one line (the endpoint's and the driver's counters).
    fn stats(&self) -> Pin<Box<dyn Future<Output = String> + Send + '_>>;
    /// Stops it; its final stats.
    fn stop(self: Box<Self>) -> Pin<Box<dyn Future<Output = String> + Send>>;
}

/// An endpoint on the driver, with the function that describes its state.
struct Driven<E> {
    name: String,
    handle: Handle<E>,
    describe: fn(&E) -> String,
}

impl<E> Part for Driven<E>
where
    E: Endpoint + Send + 'static,
    E::Event: Send,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn stats(&self) -> Pin<Box<dyn Future<Output = String> + Send + '_>> {
        let describe = self.describe;
        Box::pin(async move {
            let own = self.handle.call(move |e, _| describe(e)).await;
            let driver = self.handle.driver_stats().await;
            match (own, driver) {
                (Ok(own), Ok(d)) => format!("{own}; driver {d:?}"),
                _ => "stopped".to_owned(),
            }
        })
    }
    fn stop(self: Box<Self>) -> Pin<Box<dyn Future<Output = String> + Send>> {
        Box::pin(async move {
            match self.handle.shutdown().await {
                Ok(s) => format!(
                    "{}; driver {:?}; stopped: {:?}",
                    (self.describe)(&s.endpoint),
                    s.stats,
                    s.reason
                ),
                Err(e) => format!("{e}"),
            }
        })
    }
}

/// What a role does with each piece of user data its endpoint hands up (an L2TP role's PPP
/// frames, from the driver's data channel), with a commander to answer through
/// (`Commander::send_data`); run one at a time, in order, in a task of its own.
pub type OnData<E> = Box<
    dyn FnMut(<E as Endpoint>::Data, Commander<E>) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send,
>;

/// Starts `endpoint` on the driver bound to `bind`, with a task that hands its user data to
/// `on_data` (none: the data channel is dropped, and a frame is counted in the driver's
/// `data_dropped`), and a task that logs every event, passes it to `react` (with a commander
/// to answer it) and to the observer.
pub async fn drive<E, R>(
    name: &str,
    endpoint: E,
    bind: Vec<SocketAddr>,
    on_data: Option<OnData<E>>,
    mut react: R,
    describe: fn(&E) -> String,
    observer: &Observer,
) -> Result<(Box<dyn Part>, Commander<E>), StartError>
where
    E: Endpoint + Send + 'static,
    E::Event: Send + std::fmt::Debug,
    E::Data: Send,
    R: FnMut(&E::Event, &Commander<E>) + Send + 'static,
{
    let (handle, mut events, mut data) = driver::spawn(endpoint, DriverConfig::new(bind.clone()))
        .await
        .map_err(|e| format!("{name}: cannot bind {bind:?}: {e}"))?;
    if let Some(mut on_data) = on_data {
        let commander = handle.commander();
        tokio::spawn(async move {
            while let Some(d) = data.recv().await {
                on_data(d, commander.clone()).await;
            }
        });
    }
    tracing::info!(part = name, addresses = ?handle.local_addrs(), "started");
    let react_commander = handle.commander();
    let observer = observer.clone();
    let part = name.to_owned();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            tracing::info!(part = %part, event = ?ev, "event");
            react(&ev, &react_commander);
            if let Some(o) = &observer {
                let _ = o.send((part.clone(), ev.into()));
            }
        }
    });
    let commander = handle.commander();
    let part: Box<dyn Part> = Box::new(Driven {
        name: name.to_owned(),
        handle,
        describe,
    });
    Ok((part, commander))
}

/// A started role: its parts, each on its own driver task.
pub struct Running {
    /// The role's name.
    pub role: &'static str,
    /// Its endpoints.
    pub parts: Vec<Box<dyn Part>>,
}

impl Running {
    /// Logs every part's stats.
    pub async fn log_stats(&self) {
        for p in &self.parts {
            let stats = p.stats().await;
            tracing::info!(role = self.role, part = p.name(), %stats, "stats");
        }
    }

    /// Stops every part and logs its final stats.
    pub async fn stop(self) {
        for p in self.parts {
            let name = p.name().to_owned();
            let stats = p.stop().await;
            tracing::info!(role = self.role, part = %name, %stats, "final stats");
        }
    }

    /// Logs the stats every `interval` (zero: never) until `stop` completes, then stops.
    pub async fn serve(self, interval: Duration, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut tick = (!interval.is_zero()).then(|| {
            let mut t = tokio::time::interval(interval);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        // The first tick of an interval is immediate: skip it.
        if let Some(t) = tick.as_mut() {
            t.tick().await;
        }
        loop {
            tokio::select! {
                () = &mut stop => break,
                _ = async { match tick.as_mut() { Some(t) => { t.tick().await; } None => std::future::pending().await } } => {
                    self.log_stats().await;
                }
            }
        }
        tracing::info!(role = self.role, "stopping");
        self.stop().await;
    }
}

/// The command line every role takes.
const USAGE: &str = "usage: ROLE --config FILE [--json]
  --config FILE   the role's TOML configuration (samples: examples/config/)
  --json          log JSON lines instead of human ones (RUST_LOG filters, default info)";

/// A role's `main`: parses the command line, sets up logging, loads the configuration (a bad one
/// exits with status 2 and one line naming the key), runs until Ctrl-C.
pub fn main<C: RoleConfig>() -> ExitCode {
    let mut config = None;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => config = args.next().map(PathBuf::from),
            "--json" => json = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("{}: unknown argument {other}\n{USAGE}", C::ROLE);
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = config else {
        eprintln!("{}: --config FILE is required\n{USAGE}", C::ROLE);
        return ExitCode::from(2);
    };
    init_logging(json);
    let cfg: C = match load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: bad configuration: {e}", C::ROLE);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: cannot start the runtime: {e}", C::ROLE);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let interval = cfg.stats_interval();
        let running = match cfg.start(None).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(role = C::ROLE, error = %e, "cannot start");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(role = C::ROLE, config = %path.display(), "running; Ctrl-C stops");
        running
            .serve(interval, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        ExitCode::SUCCESS
    })
}

/// Human log lines, or JSON lines; `RUST_LOG` filters (default `info`).
fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Serde defaults shared by the roles.
pub mod defaults {
    /// `stats_interval_secs`: 10.
    pub fn stats_interval_secs() -> u64 {
        10
    }
    /// `true`.
    pub fn yes() -> bool {
        true
    }
}

/// The seed of the endpoint's RNG: a fixed one from the configuration, or `None` (the OS).
pub fn seed(s: Option<u64>) -> Option<[u8; 32]> {
    s.and_then(telcp::io::seed)
}

/// The incarnation of a role's endpoints (the `incarnation` of health's heartbeats, which peers
/// see grow on a restart: `telcp::health::Monitor`'s docs, "a higher incarnation than
/// before"): the next whole Unix second, waited for (at most a second). A process restarted on
/// this host therefore gets a number higher than any earlier one did, even when a supervisor
/// restarts it within the same second (systemd's `RestartSec` is 100 ms by default): the earlier
/// process took its number only once that second had come, and the new one starts later, so
/// the second after its own start is later still. The plain Unix second did not: a restart
/// within one second kept the number, peers refused the new process's heartbeats as replays
/// (their sequence numbers start again) and saw it Down until they passed the old ones.
/// Needs the host's clock not to step back across the restart.
pub async fn incarnation() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let next = Duration::from_secs(now.as_secs().saturating_add(1));
    tokio::time::sleep(next.saturating_sub(now)).await;
    u32::try_from(next.as_secs()).unwrap_or(u32::MAX)
}
