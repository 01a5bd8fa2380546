//! Client scenarios (`conformance/cases/client/*.toml`): each names the rule IDs it checks,
//! the input, the daemon with its settings or fault, and the verdict the client must report.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::daemon::DaemonSpec;
use crate::error::{HarnessError, Result};
use crate::input::InputSpec;
use crate::profile::{Protocol, Verdict};

/// One client case.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Stable id, `<protocol>.<name>`.
    pub id: String,
    pub protocol: Protocol,
    /// The rule IDs this case checks (the first is cited for a wrong verdict).
    pub rules: Vec<String>,
    #[serde(default)]
    pub title: String,
    pub input: InputSpec,
    #[serde(default)]
    pub daemon: DaemonSpec,
    /// Faults in the shared vocabulary (crate `faults`): one `[[rule]]` of a scenario file
    /// per entry. The case then runs on the embedded fake daemon with that plan installed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<toml::Value>,
    /// Seed of the case's fault plan (default [`crate::daemon::plan::DEFAULT_SEED`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_seed: Option<u64>,
    /// The verdict the client must report.
    pub expect: Verdict,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default, rename = "case")]
    cases: Vec<Case>,
}

impl Case {
    /// Whether the case matches a `--filter` term (substring of id, a rule ID, or a tag).
    pub fn matches(&self, term: &str) -> bool {
        self.id.contains(term)
            || self.rules.iter().any(|r| r.contains(term))
            || self.tags.iter().any(|t| t == term)
    }

    /// The case's fault plan (None without `faults`).
    pub fn fault_plan(&self) -> Result<Option<faults::FaultPlan>> {
        crate::daemon::plan::case_plan(&self.faults, self.fault_seed)
            .map_err(|e| HarnessError::Daemon(format!("case {}: {e}", self.id)))
    }

    fn validate(&self, origin: &Path) -> Result<()> {
        let err = |m: String| {
            Err(HarnessError::config(
                origin,
                format!("case {}: {m}", self.id),
            ))
        };
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return err("id must use only [A-Za-z0-9._-]".into());
        }
        if self.rules.is_empty() {
            return err("rules must name at least one rule ID".into());
        }
        for r in &self.rules {
            let ok = match self.protocol {
                Protocol::Clamd => r.starts_with("CLAMD-"),
                Protocol::Svsp => r.starts_with("SVSP-"),
            };
            if !ok {
                return err(format!(
                    "rule {r} does not belong to protocol {}",
                    self.protocol
                ));
            }
        }
        self.daemon
            .script_config(self.protocol)
            .map_err(|e| HarnessError::config(origin, format!("case {}: {e}", self.id)))?;
        let plan = crate::daemon::plan::case_plan(&self.faults, self.fault_seed)
            .map_err(|e| HarnessError::config(origin, format!("case {}: {e}", self.id)))?;
        if plan.is_some() && self.daemon.kind == crate::daemon::DaemonKind::Scripted {
            return err(
                "`faults` run on the embedded fake daemon; drop daemon.kind = \"scripted\"".into(),
            );
        }
        if plan.is_some() && !crate::daemon::fits_fake(&self.daemon) {
            return err("`faults` cannot be combined with the scripted-only daemon settings (fault, split_reply, delay_ms, eicar_anywhere); say them as fault rules".into());
        }
        if plan.is_none() && self.fault_seed.is_some() {
            return err("fault_seed without faults".into());
        }
        Ok(())
    }
}

/// Loads every `*.toml` case file in `dir` (sorted), checking that ids are unique.
pub fn load_dir(dir: &Path) -> Result<Vec<Case>> {
    load_dirs(dir, &[])
}

/// Loads the cases of `dir` then of each of `extra` (a user's own case directories, issue
/// 14), checking that ids are unique across all of them.
pub fn load_dirs(dir: &Path, extra: &[PathBuf]) -> Result<Vec<Case>> {
    if let Some(bad) = extra.iter().find(|d| !d.is_dir()) {
        return Err(HarnessError::config(bad, "--cases: not a directory"));
    }
    let mut out: Vec<Case> = Vec::new();
    for d in std::iter::once(dir).chain(extra.iter().map(PathBuf::as_path)) {
        load_into(d, &mut out)?;
    }
    Ok(out)
}

fn load_into(dir: &Path, out: &mut Vec<Case>) -> Result<()> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| HarnessError::io(format!("reading {}", dir.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for p in paths {
        let text = crate::profile::read_config_text(&p, "case file")?;
        let file: CaseFile =
            toml::from_str(&text).map_err(|e| HarnessError::config(&p, e.to_string()))?;
        for c in file.cases {
            c.validate(&p)?;
            if out.iter().any(|o| o.id == c.id) {
                return Err(HarnessError::config(
                    &p,
                    format!("duplicate case id {}", c.id),
                ));
            }
            out.push(c);
        }
    }
    Ok(())
}
