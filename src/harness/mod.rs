//! Fuzzing harnesses: the bodies of the cargo-fuzz targets in `fuzz/`, kept in the crate so that
//! `cargo test` compiles and exercises them. Not part of the stable API.

pub mod steering;
