//! Sans-io codec for the ClamAV **clamd 1.4** socket protocol, server and client side.
//! No sockets, no async runtime: bytes in, events out. Rule IDs (`CLAMD-*`) refer to the
//! project's clamd specification (`shared/spec/clamd.md`).
//!
//! # Server side
//!
//! * [`CommandDecoder`] ([`decoder`]): clamd's 4104-byte command buffer (CLAMD-TRANS-4). Feed
//!   it one socket read at a time ([`CommandDecoder::feed`]; read at most
//!   [`CommandDecoder::free_space`] bytes), then take [`Request`]s with
//!   [`CommandDecoder::next_request`]. Implements z/n/legacy framing (CLAMD-FRAME-1..3, legacy
//!   = "first read of a round is the command"), over-long commands (CLAMD-FRAME-9), parsing
//!   (CLAMD-PARSE-*: prefix order, one skipped byte before the path, legacy restrictions),
//!   and the FILDES extra byte (CLAMD-FILDES-1). Session rules (numbering, what is allowed
//!   inside IDSESSION) are the server's job; [`CommandName::allowed_in_session`] helps.
//! * [`InstreamDecoder`] ([`instream`]): INSTREAM chunks with the exact StreamMaxLength rule
//!   (CLAMD-INSTREAM-4): quota checked on each complete non-zero header, before its data;
//!   nothing is allocated for a header.
//! * [`reply`]: the reply encoder. Every exact wire string is a constant there, with its rule
//!   ID. [`reply::ReplyCtx`] carries the terminator (CLAMD-FRAME-4) and the session number
//!   (CLAMD-SESSION-3).
//!
//! ```
//! use clamd_proto::{reply, Command, CommandDecoder};
//! let mut dec = CommandDecoder::new();
//! dec.feed(b"zIDSESSION\0zPING\0").unwrap();
//! let first = dec.next_request().unwrap();
//! assert_eq!(first.command, Command::IdSession);
//! let ping = dec.next_request().unwrap();
//! assert_eq!(ping.command, Command::Ping);
//! assert_eq!(reply::pong(reply::ReplyCtx::session(1, ping.framing)), b"1: PONG\0");
//! ```
//!
//! # Client side ([`client`])
//!
//! * [`client::encode_command`] (z, n, or legacy for server tests), [`client::chunk_header`],
//!   [`client::encode_chunks`], [`client::encode_instream`], [`client::STREAM_TERMINATOR`];
//! * [`client::ReplySplitter`]: received bytes -> complete records (terminator removed),
//!   bounded, knows the un-terminated timeout reply and multi-line STATS;
//! * [`client::parse_reply`] -> [`client::Reply`] `{ session_id, subject, body }` following
//!   CLAMD-CLIENT-6/8; [`client::verdict`] implements CLAMD-CLIENT-5.

pub mod client;
pub mod command;
pub mod decoder;
pub mod display;
mod error;
pub mod instream;
pub mod reply;

pub use command::{chomp, parse_command, Command, CommandName, Framing, COMMAND_TABLE};
pub use decoder::{CommandDecoder, Request, COMMAND_BUFFER_SIZE};
pub use error::ProtoError;
pub use instream::{InstreamDecoder, InstreamEvent, DEFAULT_STREAM_MAX_LENGTH};
