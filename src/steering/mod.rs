//! Virtual-ID packet steering in a multi-processor gateway.
//!
//! [`vid`] defines virtual identifiers and the bit layouts that carry them inside TEIDs and tunnel
//! ids; [`gtp`] is the GTPv1-C/U codec.
pub mod fabric;
pub mod gtp;
mod reader;
pub mod line;
pub mod vid;
mod error;

pub use error::{ConfigError, InputError};
pub use line::{LineInterface, Verdict};

pub use vid::{VidLayout, VirtualId};
