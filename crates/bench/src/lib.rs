//! Measurements for `cargo xtask bench`. Every figure is taken in the same run as its
//! reference (the real clamd, a raw loopback copy), so results are read as ratios.
//! Clients here are plain blocking sockets so that the client is never the bottleneck.

pub mod content;
pub mod daemon;
pub mod dbload;
pub mod measure;
pub mod report;
pub mod suite;
