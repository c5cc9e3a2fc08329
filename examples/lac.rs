//! The `lac` role, an L2TP LAC (RFC 2661): opens calls to a contact LNS, follows its redirects, sends an LCP Echo-Request on each call, on the async driver (`telcp::driver`).
//!
//! ```text
//! cargo run --features roles --example lac -- --config examples/config/lac.toml [--json]
//! ```
//!
//! The configuration is TOML (the commented sample is `examples/config/lac.toml`); a bad one
//! is refused with one line naming the key. Logs go to stderr (`RUST_LOG` filters; `--json`
//! for JSON lines); stats every `stats_interval_secs` and at exit; Ctrl-C stops cleanly.

mod roles;

fn main() -> std::process::ExitCode {
    roles::main::<roles::lac::Config>()
}
