//! The shared test worlds, one per subsystem, each peer written once. A test crate includes them
//! with `mod common;` and imports the world it drives (`use common::l2tp::*;`).
//!
//! - `failover`: the virtual LNS with replication on the simulator (issue 15).
//! - `l2tp`: the hand-written RFC 2661 peer (its own byte builder and parser) and the LAC/LNS
//!   builders.
//! - `mip`: the hand-written RFC 5944 peer and a Home Agent configured alone; the virtual HA
//!   cluster on the simulator (`mip::cluster`).
//! - `gtp`: a gateway wired in process with no loss, a GTPv1 byte builder and decoder (TS 29.060,
//!   TS 29.281).
//! - `steering`: the gateway on the simulator with loss (line interfaces, switch processor, four
//!   processors) and the SGSN in front of it.
//! - `sgsn`: the SGSN peer (also used by the examples).
//! - `mme`, `smf`: the GTPv2-C MME and the PFCP SMF in front of the steering gateway (the 4G and
//!   5G stories).
//! - `ppp`: a scripted PPP client (LCP, PAP/CHAP, IPCP, an ICMP echo) for a real LNS's session.
//! - `events` (not a module here: the real-time test crates `driver` and `roles` include it
//!   alone, by `#[path]`): waiting up to a deadline for the event a test wants from a channel.
//! - `sweep`: the seeds of a scenario loop (`TELCP_SEEDS`, `TELCP_FIRST`) and a loop that runs
//!   them all and names the failed ones.
//!
//! Every helper here is unused by some test crate, hence the module-wide `dead_code` allowance.
#![allow(dead_code)]

mod sweep;
#[allow(unused_imports)] // Each test crate uses some of it, or none.
pub use sweep::*;

pub mod failover;
pub mod gtp;
pub mod l2tp;
pub mod mip;
pub mod mme;
pub mod ppp;
pub mod sgsn;
pub mod smf;
pub mod steering;

use std::path::PathBuf;
use telcp::sim::Sim;

/// The octets of a hex string (surrounding white space ignored).
pub fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A known-answer vector: the hex file `tests/vectors/{dir}/{name}.hex` (see the README there
/// for how each was made).
pub fn vector(dir: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/vectors/{dir}/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    hex(&std::fs::read_to_string(&path).unwrap())
}

/// A world on the simulator, whose trace can be captured.
pub trait Traced {
    /// The simulator the world runs on.
    fn sim(&self) -> &Sim;
}

impl Traced for Sim {
    fn sim(&self) -> &Sim {
        self
    }
}

/// A capture written under a fresh temporary directory (removed when dropped unless `KEEP_PCAP`
/// is set), read back by tshark.
pub struct Capture {
    dir: PathBuf,
    /// The pcap file.
    pub path: PathBuf,
}

impl Capture {
    /// `run`'s trace as the capture file `file`, in a directory named after `tag` and this
    /// process.
    pub fn new(run: &impl Traced, tag: &str, file: &str) -> Capture {
        Capture::written(tag, file, |f| {
            run.sim().write_pcap(f).unwrap();
        })
    }

    /// The capture file `file` that `write` fills, in a directory named after `tag` and this
    /// process.
    pub fn written(tag: &str, file: &str, write: impl FnOnce(std::fs::File)) -> Capture {
        let dir = std::env::temp_dir().join(format!("telcp-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(file);
        write(std::fs::File::create(&path).unwrap());
        Capture { dir, path }
    }

    /// tshark's expert summary (`-q -z expert`) names no error and no malformed packet.
    pub fn assert_no_expert_errors(&self) {
        let text = self.run(&["-q", "-z", "expert"]);
        assert!(!text.contains("Errors ("), "tshark expert errors:\n{text}");
        assert!(!text.to_lowercase().contains("malformed"), "{text}");
    }

    /// tshark finds no malformed packet and no error-level expert item among the packets that
    /// match the display filter `filter`.
    pub fn assert_clean(&self, filter: &str) {
        let bad = self.run(&[
            "-Y",
            &format!("{filter} && (_ws.malformed || _ws.expert.severity >= 8388608)"),
        ]);
        assert!(bad.trim().is_empty(), "tshark reports errors:\n{bad}");
    }

    /// The `fields` of every packet matching the display filter `filter`, one line a packet,
    /// separated by `|`.
    pub fn fields(&self, filter: &str, fields: &[&str]) -> String {
        let mut args = vec!["-Y", filter, "-T", "fields", "-E", "separator=|"];
        for f in fields {
            args.extend(["-e", f]);
        }
        self.run(&args)
    }

    /// tshark's standard output over the capture with these arguments.
    pub fn run(&self, args: &[&str]) -> String {
        let o = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&self.path)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
}

impl Drop for Capture {
    /// Removes the capture, unless `KEEP_PCAP` is set (then its path is printed).
    fn drop(&mut self) {
        if std::env::var_os("KEEP_PCAP").is_some() {
            println!("capture kept: {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Whether tshark is installed (tests that read captures with it are skipped, saying so, when it
/// is not).
pub fn have_tshark() -> bool {
    std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
