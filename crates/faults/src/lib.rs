//! Protocol-aware fault injection for the fake clamd and fake vfindd: a shared vocabulary
//! of faults and triggers as data (TOML and JSON via serde), a runtime handle
//! ([`FaultSet`]) the daemons consult at protocol points, and (feature `admin`) a tiny
//! HTTP/JSON admin server to change the plan at run time.
//!
//! ```
//! use faults::{Fault, FaultPlan, FaultSet, Trigger, Event, Action};
//! let plan = FaultPlan::from_toml(r#"
//!     seed = 7
//!     [[rule]]
//!     when = { command = "INSTREAM", chunk = 2 }
//!     fault = { kind = "reset" }
//!     times = 1
//! "#).unwrap();
//! let set = FaultSet::new(plan);
//! let conn = set.connect();
//! assert_eq!(conn.event(Event::Connect), None);
//! conn.event(Event::Command { name: "INSTREAM", request: None, scan: true });
//! assert_eq!(conn.event(Event::Chunk { n: 1 }), None);
//! assert_eq!(conn.event(Event::Chunk { n: 2 }), Some(Action::Reset));
//! ```
//!
//! The daemons are the only consumers of [`ConnFaults`]; tests and tools use [`FaultPlan`]
//! and [`FaultSet`] (`get`/`replace`/`clear`/`reset`/`stats`).

mod error;
pub mod escapes;
pub mod fault;
pub mod file;
pub mod plan;
pub mod record;
mod set;
pub mod shorthand;

#[cfg(feature = "admin")]
pub mod admin;

pub use error::FaultsError;
pub use escapes::unescape;
pub use fault::{
    DelayAt, Fault, FaultClass, ForcedReply, LimitMode, ReplyText, SplitAt, STOP_READING_HOLD_MS,
};
pub use plan::{FaultPlan, Rule, Trigger};
pub use set::{
    Action, ConnFaults, ConnStats, Event, FaultSet, Piece, ReadPlan, RuleStats, Stats, WritePlan,
};
