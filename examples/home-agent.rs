//! The `home-agent` role, a Mobile IPv4 Home Agent (RFC 5944), one member of a virtual Home Agent cluster, on the async driver (`telcp::driver`).
//!
//! ```text
//! cargo run --features roles --example home-agent -- --config examples/config/home-agent.toml [--json]
//! ```
//!
//! The configuration is TOML (the commented sample is `examples/config/home-agent.toml`); a bad one
//! is refused with one line naming the key. Logs go to stderr (`RUST_LOG` filters; `--json`
//! for JSON lines); stats every `stats_interval_secs` and at exit; Ctrl-C stops cleanly.

mod roles;

fn main() -> std::process::ExitCode {
    roles::main::<roles::home_agent::Config>()
}
