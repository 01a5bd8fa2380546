//! Fake CyberSoft `vfindd`: an SVSP server (spec `shared/spec/svsp.md`, rule IDs `SVSP-*`)
//! for testing anti-virus clients. Library first; the `fake-vfindd` binary is a thin
//! clap wrapper.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fake_vfindd::Error> {
//! let server = fake_vfindd::FakeVfindd::builder().threads(1).start().await?;
//! println!("listening on {}", server.addr());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod config;
pub mod confine;
mod datachan;
mod error;
mod feed;
mod queue;
pub mod record;
mod request;
pub mod scan;
mod server;
mod session;
mod shared;
mod writer;

pub use config::{Cidr, Config, Dispatch, MemberErrors, QueuedMode, Quirks, QuitMode};
pub use error::Error;
pub use faults::admin::FakeDaemon;
pub use faults::record::{CommandLine, Dir, Event};
pub use record::Transcript;
pub use server::{Builder, FakeVfindd};
