//! Reference FAVE-style anti-virus client.
//!
//! FLAM's FAVE exit scans a data stream on read or write through a provider (FAVE-1..7). This
//! crate shows how such a provider must behave against clamd (IDSESSION + INSTREAM) and SVSP
//! (FILE, FILE-SHA1, REQUEST, PORT), and **fails closed**: any error, timeout, size limit,
//! unexpected or truncated reply, or connection loss is an error verdict, never clean.
//!
//! ```no_run
//! use fave::{Client, ClientConfig, Verdict};
//! let cfg = ClientConfig::from_env()?;             // FL_FAVE_PARAMETER / FL_CLAMAV_CONNECTION
//! let mut client = Client::new(cfg)?;
//! let mut scan = client.open("upload.bin");
//! scan.write(b"first part")?;                      // as data flows
//! scan.write(b"second part")?;
//! let report = scan.close();
//! assert!(!matches!(report.verdict, Verdict::Error(_)));
//! # Ok::<(), fave::FaveError>(())
//! ```

mod clamd;
mod client;
pub mod config;
mod error;
mod source;
mod svsp;
pub mod trace;
mod transport;
mod verdict;

pub use client::{Client, Scan};
pub use config::{Address, ClientConfig, FaveParameter, Framing, Protocol, SvspSource, Timeouts};
pub use error::{FaveError, LimitOrigin};
pub use trace::{TraceEvent, TraceSink};
pub use transport::WireCounters;
pub use verdict::{Report, Stats, Verdict};
