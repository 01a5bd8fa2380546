//! The case table: raw-byte conversations with a clamd, and the server profiles they need.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The whole case file (`conformance/oracle/cases.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// Server profiles by name: extra clamd.conf lines on top of the base config.
    pub profiles: BTreeMap<String, Profile>,
    #[serde(rename = "case")]
    pub cases: Vec<Case>,
}

/// A server configuration shared by a group of cases.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// clamd.conf lines appended to the generated base config (sockets, DB, corpus, user).
    #[serde(default)]
    pub conf: Vec<String>,
    /// One server per case (SHUTDOWN/QUIT end the daemon).
    #[serde(default)]
    pub fresh_per_case: bool,
}

/// Which listener the case talks to.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Tcp,
    Unix,
}

/// How a replay compares the reply bytes with the recording.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// Identical bytes.
    #[default]
    Exact,
    /// Same multiset of reply records (each ending in `\0` or `\n`): sessions, MULTISCAN,
    /// directory walks (readdir order).
    Unordered,
    /// STATS: the variable numbers (thread counts, seconds, pool sizes) are normalised first.
    Stats,
    /// The equivalence clamd's own threads force (`equiv::race_records`): unordered, STATS
    /// normalised, and after a session's closing error the scan replies are optional
    /// (CLAMD-SESSION-4/5: whether a worker's reply beat the close is a race).
    Session,
}

/// One thing the client does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Write these bytes (escape notation, placeholders) in one `write_all`.
    Send(String),
    /// Write these bytes `size` bytes per write, sleeping `gap_ms` between writes
    /// (TCP_NODELAY is set, so each write is its own packet).
    SendSplit {
        bytes: String,
        size: usize,
        gap_ms: u64,
    },
    /// Write `len` copies of `byte` in one write (over-long lines).
    Fill { len: usize, byte: u8 },
    /// Write an INSTREAM body of `total` bytes of `byte` in chunks of `chunk` bytes, each with its
    /// 4-byte big-endian length (no terminator: add `send = '\0\0\0\0'`).
    Chunks {
        total: usize,
        chunk: usize,
        byte: u8,
    },
    /// Write these bytes (notation, placeholders) as INSTREAM chunks of `chunk` bytes each,
    /// in one write (no terminator).
    ChunksOf { bytes: String, chunk: usize },
    /// Write the file at `path` (placeholders) as INSTREAM chunks of `chunk` bytes each, in
    /// one write (no terminator): corpus files too large for the case table.
    StreamFile { path: String, chunk: usize },
    /// Pause.
    SleepMs(u64),
    /// `shutdown(SHUT_WR)`.
    HalfClose(bool),
    /// Unix socket only: one `sendmsg` with these bytes and the descriptor of `path` (opened
    /// read-only) as SCM_RIGHTS.
    SendFd { bytes: String, path: String },
}

/// One raw-byte conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// Spec rule IDs this case pins (CLAMD-*).
    #[serde(default)]
    pub rules: Vec<String>,
    #[serde(default = "default_profile")]
    pub profile: String,
    #[serde(default)]
    pub transport: Transport,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub compare: Compare,
    /// How long to keep reading after the last step before giving up (the server kept the
    /// connection open).
    #[serde(default = "default_wait_ms")]
    pub wait_ms: u64,
    /// After the conversation, check whether the server still answers PING (SHUTDOWN/QUIT).
    #[serde(default)]
    pub probe_alive: bool,
    /// The way the connection ends (EOF vs reset) is racy: do not compare it.
    #[serde(default)]
    pub end_racy: bool,
    /// Free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

fn default_profile() -> String {
    "main".to_string()
}

fn default_wait_ms() -> u64 {
    3000
}

impl CaseFile {
    /// Parses and validates a case file.
    pub fn parse(text: &str) -> Result<CaseFile, Error> {
        let file: CaseFile = toml::from_str(text).map_err(|e| Error::Cases(e.to_string()))?;
        file.validate()?;
        Ok(file)
    }

    /// Reads and validates a case file.
    pub fn load(path: &Path) -> Result<CaseFile, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        CaseFile::parse(&text)
    }

    fn validate(&self) -> Result<(), Error> {
        let mut seen = std::collections::BTreeSet::new();
        for case in &self.cases {
            if !seen.insert(case.name.as_str()) {
                return Err(Error::Cases(format!("duplicate case name {}", case.name)));
            }
            if !self.profiles.contains_key(&case.profile) {
                return Err(Error::Cases(format!(
                    "case {}: unknown profile {}",
                    case.name, case.profile
                )));
            }
            for step in &case.steps {
                if let Step::SendFd { .. } = step {
                    if case.transport != Transport::Unix {
                        return Err(Error::Cases(format!(
                            "case {}: send_fd needs transport = \"unix\"",
                            case.name
                        )));
                    }
                }
                if let Step::SendSplit { size: 0, .. }
                | Step::Chunks { chunk: 0, .. }
                | Step::ChunksOf { chunk: 0, .. }
                | Step::StreamFile { chunk: 0, .. } = step
                {
                    return Err(Error::Cases(format!("case {}: zero size", case.name)));
                }
            }
        }
        Ok(())
    }

    /// Cases of one profile, in file order.
    pub fn cases_of<'a>(&'a self, profile: &'a str) -> impl Iterator<Item = &'a Case> + 'a {
        self.cases.iter().filter(move |c| c.profile == profile)
    }
}

impl Case {
    /// A digest of the case definition, stored with its transcript to detect stale recordings.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(&sha2::Sha256::digest(&json)[..8])
    }
}
