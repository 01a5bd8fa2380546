//! Client scenarios (`conformance/cases/client/*.toml`): each names the rule IDs it checks,
//! the input, the daemon's settings and fault rules, and the verdict the client must report.

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
    /// per entry (or its flat form), parsed and validated at load. The embedded fake daemon
    /// runs the case with that plan installed.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::daemon::plan::deserialize_rules"
    )]
    pub faults: Vec<faults::Rule>,
    /// Seed of the case's fault plan (default [`crate::daemon::plan::DEFAULT_SEED`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_seed: Option<u64>,
    /// The verdict the client must report.
    pub expect: Verdict,
    /// A command the expectation assumes (`INSTREAM`: StreamMaxLength binds only a stream),
    /// validated at load against the protocol's command names. A client that never sent it
    /// and got a real verdict is NOT-APPLICABLE; it still fails on a hang, a broken protocol
    /// rule or a clean without a scan (FAIL-OPEN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_if_sent: Option<String>,
    /// What does not apply without that command, for the NOT-APPLICABLE reason
    /// (`StreamMaxLength does not apply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_why: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// clamd IDSESSION reply orders of the fake to run this case with
    /// (`clamd`, `arrival`, `reverse`, `random`): at load, one case per order, its id
    /// suffixed with the order and its `daemon.session_order` set (CLAMD-SESSION-4,
    /// CLAMD-CLIENT-9). Empty after loading.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_orders: Vec<String>,
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

    /// Whether `profile` runs this case: same protocol, and a client that takes a directory
    /// of files (`inputs` has `dir`) for a `files` input, a file (`inputs` has `file`)
    /// otherwise.
    pub fn applies_to(&self, profile: &crate::profile::ClientProfile) -> bool {
        use crate::profile::InputKind;
        let kind = if self.input.files().is_some() {
            InputKind::Dir
        } else {
            InputKind::File
        };
        self.protocol == profile.protocol && profile.inputs.contains(&kind)
    }

    /// One case per entry of `session_orders` (the case itself when there is none).
    fn expand_session_orders(mut self) -> Vec<Case> {
        let orders = std::mem::take(&mut self.session_orders);
        if orders.is_empty() {
            return vec![self];
        }
        orders
            .iter()
            .map(|order| {
                let mut c = self.clone();
                c.id = format!("{}.{order}", self.id);
                c.daemon.session_order = Some(order.clone());
                if !c.title.is_empty() {
                    c.title = format!("{} (session order {order})", c.title);
                }
                c.tags.push(format!("session-order-{order}"));
                c
            })
            .collect()
    }

    /// The case's fault plan (None without `faults`).
    pub fn fault_plan(&self) -> Option<faults::FaultPlan> {
        crate::daemon::plan::case_plan(&self.faults, self.fault_seed)
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
            .validate()
            .map_err(|e| HarnessError::config(origin, format!("case {}: {e}", self.id)))?;
        if let Some(cmd) = &self.applies_if_sent {
            let names = command_names(self.protocol);
            if !names.contains(&cmd.as_str()) {
                return err(format!(
                    "applies_if_sent = {cmd:?} is not a {} command ({})",
                    self.protocol,
                    names.join(", ")
                ));
            }
        } else if self.applies_why.is_some() {
            return err("applies_why without applies_if_sent".into());
        }
        if self.faults.is_empty() && self.fault_seed.is_some() {
            return err("fault_seed without faults".into());
        }
        if let Err(e) = self.input.validate() {
            return err(format!("input: {e}"));
        }
        if let Some(files) = self.input.files() {
            // the run's verdict is the worst of the files' (an error wins, as in clamdscan)
            let worst = files
                .iter()
                .map(|f| f.expect)
                .fold(Verdict::Clean, |w, v| match (w, v) {
                    (Verdict::Error, _) | (_, Verdict::Error) => Verdict::Error,
                    (Verdict::Infected, _) | (_, Verdict::Infected) => Verdict::Infected,
                    _ => Verdict::Clean,
                });
            if worst != self.expect {
                return err(format!(
                    "expect = {} but the files' expectations add up to {worst}",
                    self.expect
                ));
            }
        }
        if !self.session_orders.is_empty() {
            if self.protocol != Protocol::Clamd {
                return err("session_orders is for clamd cases".into());
            }
            if self.daemon.session_order.is_some() {
                return err("give session_orders or daemon.session_order, not both".into());
            }
            for (i, o) in self.session_orders.iter().enumerate() {
                if let Err(e) = crate::daemon::parse_session_order(o) {
                    return err(e.to_string());
                }
                if self.session_orders[..i].contains(o) {
                    return err(format!("session order {o} given twice"));
                }
            }
        }
        Ok(())
    }
}

/// The command words a client of `protocol` can send, as [`crate::judge::Evidence`] records
/// them (clamd: the parse table, CLAMD-PARSE-2; SVSP: the command keywords, SVSP-CMD-1,
/// `SCAN/<source>` counted as `SCAN`).
pub fn command_names(protocol: Protocol) -> Vec<&'static str> {
    match protocol {
        Protocol::Clamd => clamd_proto::COMMAND_TABLE
            .iter()
            .map(|c| c.as_str())
            .collect(),
        Protocol::Svsp => vec!["ENABLE", "DISABLE", "SCAN", "QUIT"],
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
    let paths = crate::profile::toml_files(dir)?;
    for p in paths {
        let text = crate::profile::read_config_text(&p, "case file")?;
        let file: CaseFile =
            toml::from_str(&text).map_err(|e| HarnessError::config(&p, e.to_string()))?;
        for c in file.cases {
            c.validate(&p)?;
            for c in c.expand_session_orders() {
                if out.iter().any(|o| o.id == c.id) {
                    return Err(HarnessError::config(
                        &p,
                        format!("duplicate case id {}", c.id),
                    ));
                }
                out.push(c);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Vec<Case>> {
        let dir = tempfile::tempdir().map_err(|e| HarnessError::io("tempdir", e))?;
        std::fs::write(dir.path().join("c.toml"), text)
            .map_err(|e| HarnessError::io("write", e))?;
        load_dir(dir.path())
    }

    /// CLAMD-SESSION-4, CLAMD-CLIENT-9: `session_orders` expands into one case per order,
    /// named after it, with the fake's order set; mistakes are configuration errors.
    #[test]
    fn session_orders_expand_into_one_case_per_order() {
        let case = |extra: &str| {
            format!(
                r#"[[case]]
id = "clamd.s"
protocol = "clamd"
rules = ["CLAMD-CLIENT-9"]
title = "t"
expect = "infected"
input = {{ kind = "files", files = [
  {{ name = "a", expect = "clean", input = {{ kind = "empty" }} }},
  {{ name = "b", expect = "infected", input = {{ kind = "eicar" }} }} ] }}
{extra}
"#
            )
        };
        let cs = load_text(&case(r#"session_orders = ["clamd", "reverse"]"#)).expect("loads");
        let ids: Vec<&str> = cs.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["clamd.s.clamd", "clamd.s.reverse"]);
        assert_eq!(cs[1].daemon.session_order.as_deref(), Some("reverse"));
        assert_eq!(cs[1].title, "t (session order reverse)");
        assert!(cs[1].matches("session-order-reverse"));
        assert!(cs.iter().all(|c| c.session_orders.is_empty()));
        assert_eq!(load_text(&case("")).expect("loads").len(), 1);
        for bad in [
            r#"session_orders = ["sideways"]"#,
            r#"session_orders = ["clamd", "clamd"]"#,
            "session_orders = [\"clamd\"]\ndaemon = { session_order = \"reverse\" }",
        ] {
            let e = load_text(&case(bad)).expect_err(bad);
            assert_eq!(e.exit_code(), 2, "{bad}: {e}");
        }
        // the run's expectation must agree with the files'
        let e = load_text(
            &case("").replace("expect = \"infected\"\ninput", "expect = \"clean\"\ninput"),
        )
        .expect_err("clean over an infected file");
        assert!(e.to_string().contains("add up to infected"), "{e}");
    }

    /// Issue 13: a case's `faults` are typed rules once loaded (flat form included), and the
    /// scripted servers' `daemon.kind` / `daemon.fault` are configuration errors (exit 2).
    #[test]
    fn faults_load_as_rules_and_scripted_daemon_keys_are_rejected() {
        let ok = load_text(
            r#"[[case]]
id = "clamd.x"
protocol = "clamd"
rules = ["CLAMD-CLIENT-3"]
input = { kind = "empty" }
faults = [ { kind = "drop", when = { verdict = true } } ]
expect = "error"
"#,
        )
        .expect("loads");
        let rule = &ok[0].faults[0];
        assert_eq!(rule.fault, faults::Fault::Drop { after_bytes: None });
        assert!(rule.when.verdict);
        assert_eq!(ok[0].fault_plan().and_then(|p| p.seed), Some(1));
        for daemon in [
            r#"daemon = { kind = "scripted" }"#,
            r#"daemon = { fault = { kind = "silent" } }"#,
            r#"daemon = { split_reply = 1 }"#,
        ] {
            let text = format!(
                "[[case]]\nid = \"clamd.y\"\nprotocol = \"clamd\"\nrules = [\"CLAMD-CLIENT-3\"]\ninput = {{ kind = \"empty\" }}\n{daemon}\nexpect = \"error\"\n"
            );
            let e = load_text(&text).expect_err(daemon);
            assert_eq!(e.exit_code(), 2, "{daemon}: {e}");
        }
    }

    /// CLAMD-PARSE-2, SVSP-CMD-1: `applies_if_sent` names a command of the case's protocol
    /// (checked at load, exit 2 otherwise); `applies_why` needs it.
    #[test]
    fn applies_if_sent_names_a_command_of_the_protocol() {
        let case = |proto: &str, rule: &str, extra: &str| {
            format!(
                "[[case]]\nid = \"{proto}.a\"\nprotocol = \"{proto}\"\nrules = [\"{rule}\"]\n\
                 input = {{ kind = \"empty\" }}\nexpect = \"error\"\n{extra}\n"
            )
        };
        let ok = load_text(&case(
            "clamd",
            "CLAMD-CLIENT-4",
            "applies_if_sent = \"INSTREAM\"\napplies_why = \"w\"",
        ))
        .expect("loads");
        assert_eq!(ok[0].applies_if_sent.as_deref(), Some("INSTREAM"));
        load_text(&case(
            "svsp",
            "SVSP-CLIENT-10",
            "applies_if_sent = \"SCAN\"",
        ))
        .expect("SVSP SCAN");
        for (proto, rule, bad) in [
            ("clamd", "CLAMD-CLIENT-4", "applies_if_sent = \"STREAM\""),
            ("clamd", "CLAMD-CLIENT-4", "applies_if_sent = \"instream\""),
            ("svsp", "SVSP-CLIENT-10", "applies_if_sent = \"INSTREAM\""),
            ("clamd", "CLAMD-CLIENT-4", "applies_why = \"w\""),
        ] {
            let e = load_text(&case(proto, rule, bad)).expect_err(bad);
            assert_eq!(e.exit_code(), 2, "{bad}: {e}");
        }
    }
}
