//! Sans-io CyberSoft SVSP (Simple Virus Scanning Protocol), as specified by
//! `shared/spec/svsp.md` (rule IDs `SVSP-*`).
//!
//! * [`LineFramer`]: bytes in, lines out (SVSP-FRAME-1, SVSP-FRAME-4).
//! * [`parse_line`]: server side, one line to a [`Parsed`] command or error reply.
//! * [`Command::encode`]: client side, a command to one wire line.
//! * [`Response`] / [`Body`] / [`ErrorReply`]: every server response and its exact wire form.
//! * [`parse_response`]: client/harness side, a tolerant typed parser (section 13).
//! * [`OptionState`]: per-connection options (SVSP-OPT-0).
//! * [`quote`] and friends: names in responses (SVSP-NAME-2, SVSP-NAME-3).
//!
//! No sockets, no async runtime.

#![warn(missing_docs)]

mod command;
mod error;
mod frame;
mod id;
mod options;
mod parse_response;
mod quote;
mod response;

pub use command::{
    is_sendable_name, parse_line, Command, ParseConfig, Parsed, Profile, ScanCommand, Source,
};
pub use error::SvspError;
pub use frame::{Eol, Frame, LineFramer, DEFAULT_MAX_LINE};
pub use id::{Id, MAX_ID_DIGITS};
pub use options::{Expander, ExpanderSet, OptionName, OptionOp, OptionState};
pub use parse_response::parse_response;
pub use quote::{
    echo_token, quote, quote_chain, quote_chain_into, quote_into, unquote, unquote_chain, ARROW,
    ECHO_TOKEN_MAX,
};
pub use response::{Body, Errno, ErrorReply, FormatOptions, Response};

/// The default SVSP TCP port (SVSP-TRANS-1).
pub const DEFAULT_PORT: u16 = 8081;
