//! Transcript checks: the protocol obligations of clients (clamd.md §15, svsp.md §13),
//! judged from the bytes the recording proxy saw.

pub mod clamd;
pub mod svsp;

use serde::Serialize;

use crate::input::escape;

/// How strong the violated rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// MUST: the case fails.
    Must,
    /// SHOULD: reported as a warning.
    Should,
}

/// One obligation a client broke, with the offending bytes.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: String,
    pub level: Level,
    pub conn: u32,
    pub message: String,
    /// Escaped bytes around the offence, the offending part in `⟦ ⟧`.
    pub excerpt: String,
}

impl Finding {
    pub fn must(rule: &str, conn: u32, message: impl Into<String>, excerpt: String) -> Self {
        Finding {
            rule: rule.into(),
            level: Level::Must,
            conn,
            message: message.into(),
            excerpt,
        }
    }

    pub fn should(rule: &str, conn: u32, message: impl Into<String>, excerpt: String) -> Self {
        Finding {
            rule: rule.into(),
            level: Level::Should,
            conn,
            message: message.into(),
            excerpt,
        }
    }
}

/// Escaped context around `data[start..end]`, the range itself marked.
pub fn excerpt(data: &[u8], start: usize, end: usize) -> String {
    const CTX: usize = 24;
    const MAX_MARKED: usize = 48;
    let start = start.min(data.len());
    let end = end.clamp(start, data.len());
    let from = start.saturating_sub(CTX);
    let to = (end + CTX).min(data.len());
    let marked = if end - start > MAX_MARKED {
        format!(
            "{}…<{} bytes>",
            escape(&data[start..start + MAX_MARKED]),
            end - start - MAX_MARKED
        )
    } else {
        escape(&data[start..end])
    };
    format!(
        "@{start}: {}{}⟦{marked}⟧{}{}",
        if from > 0 { "…" } else { "" },
        escape(&data[from..start]),
        escape(&data[end..to]),
        if to < data.len() { "…" } else { "" }
    )
}
