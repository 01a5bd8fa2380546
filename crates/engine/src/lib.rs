//! What a scan is, without sockets: a streaming signature matcher (built-in EICAR and
//! marker, a subset of ClamAV's `.hdb`/`.hsb`/`.ndb` formats), SHA-1 in the same pass, and
//! recursive archive expansion (tar, gzip, zip) in bounded memory.
//!
//! Invariant: the verdict for a byte stream never depends on how it was chunked.

mod allmatch;
mod eicar;
mod error;
mod hashdb;
mod limits;
mod matcher;
mod ndb;
mod sigdb;
mod spool;
mod texttype;
mod tree;

pub use allmatch::{AllMatchSequence, MAX_LINES};
pub use eicar::{eicar, EicarMode, EICAR_LEN, EICAR_MD5, EICAR_SHA1};
pub use error::DbError;
pub use limits::{CancelFlag, LimitExceeded, ScanLimits};
pub use matcher::{
    scan_bytes, AllMatches, Detection, ScanOptions, ScanResult, StreamScanner, MAX_OCCURRENCES,
};
pub use sigdb::{
    BuiltinOptions, DbBuilder, DbFileKind, LoadOptions, SignatureDb, EICAR_OFFICIAL_NAME,
    MARKER_BYTES, MARKER_NAME,
};
pub use texttype::DataClass;
pub use tree::{
    scan_reader, ContainerKind, Formats, MoreFormats, PartEvent, TreeOptions, TreeScanner,
    TreeSummary,
};
