//! Recorded transcripts: templating (corpus path, version, fd numbers), the committed file
//! format, and the comparison used by replays.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::case::{Case, Compare};
use crate::equiv::{normalize_stats, race_records, sorted_records};
use crate::runner::{End, Observed, Timing};
use crate::Error;
use fixtures::notation::{escape, unescape, Vars};

pub const FORMAT: u32 = 1;

/// `conformance/oracle/transcripts.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TranscriptFile {
    pub format: u32,
    /// The recorded daemon's version (`1.4.6`); replies carry `{version}` instead.
    pub clamd_version: String,
    pub note: String,
    /// Sorted by name.
    pub transcripts: Vec<Transcript>,
}

/// One recorded case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Transcript {
    pub name: String,
    /// [`Case::digest`] of the definition that was recorded.
    pub digest: String,
    /// Reply bytes in escape notation, templated (`{corpus}`, `{version}`, `fd[{fd}]`).
    pub reply: String,
    pub end: End,
    pub timing: Timing,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alive_after: Option<bool>,
}

/// Server-specific values removed from replies.
#[derive(Debug, Clone)]
pub struct Redact {
    pub corpus: Vec<u8>,
    /// e.g. `1.4.6`: `ClamAV 1.4.6` becomes `ClamAV {version}`.
    pub version: String,
}

impl Redact {
    pub fn new(vars: &Vars, version: &str) -> Redact {
        Redact {
            corpus: vars.corpus.clone().unwrap_or_default(),
            version: version.to_string(),
        }
    }

    /// Raw reply bytes -> templated escape notation.
    pub fn template(&self, raw: &[u8]) -> String {
        let mut text = escape(raw);
        let corpus = escape(&self.corpus);
        if !corpus.is_empty() {
            text = text.replace(&corpus, "{corpus}");
        }
        if !self.version.is_empty() {
            text = text.replace(&format!("ClamAV {}", self.version), "ClamAV {version}");
        }
        redact_fd_numbers(&text)
    }
}

/// `fd[11]` -> `fd[{fd}]` (CLAMD-FILDES-2: the number is clamd's own descriptor).
fn redact_fd_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("fd[") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(']') {
            out.push_str("{fd}");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

impl Transcript {
    pub fn from_observed(case: &Case, obs: &Observed, redact: &Redact) -> Transcript {
        Transcript {
            name: case.name.clone(),
            digest: case.digest(),
            reply: redact.template(&obs.reply),
            end: obs.end,
            timing: obs.timing,
            alive_after: obs.alive_after,
        }
    }
}

impl TranscriptFile {
    pub fn new(clamd_version: &str, mut transcripts: Vec<Transcript>) -> TranscriptFile {
        transcripts.sort_by(|a, b| a.name.cmp(&b.name));
        TranscriptFile {
            format: FORMAT,
            clamd_version: clamd_version.to_string(),
            note: "Recorded from the real clamd by `cargo xtask oracle record`; cases in \
                   conformance/oracle/cases.toml. Reply bytes in escape notation (\\0 \\n \\r \\t \\\\ \\xHH), \
                   {corpus}/{version}/{fd} templated, {{ is a literal brace."
                .to_string(),
            transcripts,
        }
    }

    /// Stable pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn load(path: &Path) -> Result<TranscriptFile, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let f: TranscriptFile =
            serde_json::from_str(&text).map_err(|e| Error::Transcripts(e.to_string()))?;
        if f.format != FORMAT {
            return Err(Error::Transcripts(format!(
                "unsupported format {}",
                f.format
            )));
        }
        Ok(f)
    }

    pub fn get(&self, name: &str) -> Option<&Transcript> {
        self.transcripts
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.transcripts[i])
    }
}

/// One difference between a recording and a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub case: String,
    pub what: &'static str,
    pub expected: String,
    pub got: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} differs\n    expected: {}\n    got:      {}",
            self.case, self.what, self.expected, self.got
        )
    }
}

/// Compares a replay against the recording of `case`. `got` is already templated.
pub fn compare(case: &Case, expected: &Transcript, got: &Transcript) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mk = |what: &'static str, e: String, g: String| Mismatch {
        case: case.name.clone(),
        what,
        expected: e,
        got: g,
    };
    if expected.digest != case.digest() {
        out.push(mk(
            "case definition (stale recording: run `cargo xtask oracle record`)",
            expected.digest.clone(),
            case.digest(),
        ));
    }
    let e = unescape(&expected.reply).unwrap_or_default();
    let g = unescape(&got.reply).unwrap_or_default();
    let same = match case.compare {
        Compare::Exact => e == g,
        Compare::Unordered => sorted_records(&e) == sorted_records(&g),
        Compare::Stats => normalize_stats(&e) == normalize_stats(&g),
        Compare::Session => race_records(&e) == race_records(&g),
    };
    if !same {
        out.push(mk("reply bytes", expected.reply.clone(), got.reply.clone()));
    }
    if !case.end_racy && expected.end != got.end {
        out.push(mk(
            "connection end",
            format!("{:?}", expected.end),
            format!("{:?}", got.end),
        ));
    }
    if !case.end_racy && expected.timing != got.timing {
        out.push(mk(
            "timing",
            format!("{:?}", expected.timing),
            format!("{:?}", got.timing),
        ));
    }
    if expected.alive_after != got.alive_after {
        out.push(mk(
            "server alive afterwards",
            format!("{:?}", expected.alive_after),
            format!("{:?}", got.alive_after),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templating_redacts_corpus_version_fd() {
        let r = Redact {
            corpus: b"/tmp/c".to_vec(),
            version: "1.4.6".into(),
        };
        assert_eq!(
            r.template(b"/tmp/c/x: OK\0ClamAV 1.4.6\nfd[12]: OK\0fd[x]"),
            "{corpus}/x: OK\\0ClamAV {version}\\nfd[{fd}]: OK\\0fd[x]"
        );
    }
}
