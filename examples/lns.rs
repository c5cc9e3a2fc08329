//! The `lns` role, an L2TP LNS (RFC 2661): standalone, contact LNS of a pool, pool LNS, or virtual-LNS member, on the async driver (`telcp::driver`).
//!
//! ```text
//! cargo run --features roles --example lns -- --config examples/config/lns.toml [--json]
//! ```
//!
//! The configuration is TOML (the commented sample is `examples/config/lns.toml`); a bad one
//! is refused with one line naming the key. Logs go to stderr (`RUST_LOG` filters; `--json`
//! for JSON lines); stats every `stats_interval_secs` and at exit; Ctrl-C stops cleanly.

mod roles;

fn main() -> std::process::ExitCode {
    roles::main::<roles::lns::Config>()
}
