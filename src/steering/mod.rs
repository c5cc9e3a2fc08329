//! Virtual-ID packet steering in a multi-processor gateway.
//!
//! [`vid`] defines virtual identifiers and the bit layouts that carry them inside TEIDs and tunnel
//! ids; [`gtp`] is the GTPv1-C/U codec.
pub mod gtp;
pub mod vid;

pub use vid::{VidLayout, VirtualId};
