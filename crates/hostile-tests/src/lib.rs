//! Fuzz target bodies shared by the cargo-fuzz targets in `fuzz/`, the time-bounded
//! fallback loop (`cargo xtask fuzz`) and the short proptest versions in this crate's tests.
//!
//! Each target takes arbitrary bytes and panics only when an invariant of the code under
//! test is violated (a panic inside the code under test is a finding as well). The hostile
//! peer and load tests live in `tests/`.

pub mod targets;

pub use targets::{by_name, Target, TARGETS};
