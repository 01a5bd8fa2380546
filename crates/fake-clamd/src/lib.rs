//! A fake ClamAV **clamd 1.4** daemon for testing clamd clients: byte-faithful on the wire
//! (rule IDs `CLAMD-*` of the project's clamd specification), starts in milliseconds, needs no
//! signature download, and can be told to make the racy outcomes deterministic.
//!
//! # In tests
//!
//! ```no_run
//! # async fn demo() -> Result<(), fake_clamd::Error> {
//! use fake_clamd::FakeClamd;
//! use fake_clamd::FakeDaemon; // transcripts(), commands(), expect(): the API both fakes share
//! let clamd = FakeClamd::builder()
//!     .unix_socket_in_temp()            // also a Unix socket (FILDES)
//!     .stream_max_length(1 << 20)       // StreamMaxLength 1M
//!     .start()
//!     .await?;                          // TCP on 127.0.0.1:<ephemeral>
//! let tcp = clamd.addr().unwrap();
//! let unix = clamd.socket_path().unwrap();
//! // ... run the client ...
//! for t in clamd.transcripts() { println!("{:?}", t.sent()); }
//! # let _ = (tcp, unix); Ok(()) }
//! ```
//!
//! From a real clamd.conf: [`FakeClamdBuilder::conf_text`] / [`FakeClamdBuilder::conf_file`]
//! (then e.g. [`FakeClamdBuilder::tcp_port`]`(0)`), or [`Config::from_conf_file`] plus
//! [`start`].
//!
//! # Modules
//! * [`conf`]: clamd.conf syntax, option table, clamd's error messages (CLAMD-CONF-1/2).
//! * [`config`]: typed settings with clamd's defaults and the fake's switches.
//! * [`scan`]: path scans (section 7) and stream verdicts on top of `scan_engine`.
//! * server (listeners, back-pressure, handle), shared (state all connections read),
//!   streams (what the daemon read of each peer's uploads, [`UploadAccount`]) and
//!   conn (per-connection state machine over `clamd_proto`).

pub mod conf;
pub mod config;
mod conn;
mod error;
pub mod fd_recv;
pub mod record;
pub mod scan;
mod server;
mod shared;
pub mod startup_trace;
mod streams;
mod transport;

pub use config::{Config, FakeOptions, SessionOrder, StreamLimitMode, TcpListen};
pub use error::Error;
pub use faults::admin::FakeDaemon;
pub use faults::record::{Dir, Event};
pub use record::{RecordedCommand, Transcript};
pub use server::{start, start_preloaded, FakeClamd, FakeClamdBuilder};
pub use shared::{load_db, DbSource};
pub use streams::{Peer, UploadAccount};
pub use transport::TransportKind;
