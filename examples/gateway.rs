//! The `gateway` role, a GTP gateway's steering machines: the line interface, the switch processor and processors, on the async driver (`telcp::driver`).
//!
//! ```text
//! cargo run --features roles --example gateway -- --config examples/config/gateway.toml [--json]
//! ```
//!
//! The configuration is TOML (the commented sample is `examples/config/gateway.toml`); a bad one
//! is refused with one line naming the key. Logs go to stderr (`RUST_LOG` filters; `--json`
//! for JSON lines); stats every `stats_interval_secs` and at exit; Ctrl-C stops cleanly.

mod roles;

fn main() -> std::process::ExitCode {
    roles::main::<roles::gateway::Config>()
}
