//! Virtual-ID packet steering in a multi-processor gateway.
//!
//! [`vid`] defines virtual identifiers and the bit layouts that carry them inside TEIDs and tunnel
//! ids; [`gtp`] is the GTPv1-C/U codec.
mod error;
pub mod fabric;
pub mod gtp;
pub mod line;
pub mod processor;
mod reader;
pub mod switch;
pub mod vid;

pub use error::{ConfigError, InputError};
pub use line::{LineInterface, Verdict};
pub use processor::Processor;
pub use switch::SwitchProcessor;

pub use vid::{VidLayout, VirtualId};
