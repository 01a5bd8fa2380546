//! The case table: raw-byte conversations with a clamd (steps in the format of
//! [`fixtures::raw_case`]), and the server profiles they need.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;
/// The client's steps: the one raw-byte case format, shared with the harness's server suites.
pub use fixtures::raw_case::Step;

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
            let sends_fd = case.steps.iter().any(|s| matches!(s, Step::SendFd { .. }));
            if sends_fd && case.transport != Transport::Unix {
                return Err(Error::Cases(format!(
                    "case {}: send_fd needs transport = \"unix\"",
                    case.name
                )));
            }
            fixtures::raw_case::check(&case.steps)
                .map_err(|e| Error::Cases(format!("case {}: {e}", case.name)))?;
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
