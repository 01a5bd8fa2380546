//! The conformance harness: runs any anti-virus client program (any language) against the
//! fake clamd / SVSP daemons through a recording proxy, judges its verdicts and its protocol
//! obligations (clamd.md §15, svsp.md §13), snapshots transcripts, and reports in forms CI
//! reads. It also checks servers with raw-byte cases. See the crate README for the client
//! profile and case formats.

pub mod annotate;
pub mod baseline;
pub mod builtin;
pub mod case;
pub mod checks;
pub mod cli;
pub mod client_run;
pub mod daemon;
pub mod data_lines;
pub mod error;
pub mod fd_pass;
pub mod input;
pub mod judge;
pub mod log_view;
pub mod out_file;
pub mod outputs;
pub mod process_tree;
pub mod profile;
pub mod props;
pub mod proxy;
pub mod redact;
pub mod report;
pub mod report_html;
pub mod review;
pub mod runner;
pub mod schedule;
pub mod server;
pub mod session_sort;
pub mod snapshot;
pub mod template;
#[cfg(test)]
mod test_support;
pub mod transcript;
pub mod user_config;

pub use error::{HarnessError, Result};
pub use profile::{ClientProfile, Protocol, Verdict};
