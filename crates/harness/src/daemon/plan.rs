//! A case's `faults = [ ... ]`: rules in the shared fault vocabulary (crate `faults`), run
//! on the embedded fake daemon with that plan installed.
//!
//! Each entry is one `faults::Rule` exactly as in a scenario file's `[[rule]]`
//! (`{ name?, when?, fault = { kind = ... }, times? }`). For brevity an entry may also put
//! the fault's fields next to `when` (`{ kind = "reset", when = { chunk = 1 } }`): every key
//! other than `name`, `when` and `times` then belongs to the fault, and `name` too for the
//! faults that have one (`infected`, `errno`). The `faults` crate parses
//! and validates the result (`FaultPlan::from_toml`), so a case and a scenario file accept
//! the same words.

use faults::{FaultPlan, Rule};
use serde::{Deserialize, Deserializer};

/// The seed a case's plan uses when it gives no `fault_seed` (runs replay exactly).
pub const DEFAULT_SEED: u64 = 1;

/// Parses a case's `faults` entries into rules, once, at load: each entry is normalized
/// (flat form) and the `faults` crate parses and validates them all
/// (`FaultPlan::from_toml`), so a case and a scenario file accept the same words.
pub fn parse_rules(entries: &[toml::Value]) -> Result<Vec<Rule>, String> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut normalized = Vec::with_capacity(entries.len());
    for (i, r) in entries.iter().enumerate() {
        let toml::Value::Table(t) = r else {
            return Err(format!("faults[{}]: want a table (a fault rule)", i + 1));
        };
        normalized.push(toml::Value::Table(normalize(t.clone())));
    }
    let mut doc = toml::Table::new();
    doc.insert("rule".into(), toml::Value::Array(normalized));
    let text = toml::to_string(&doc).map_err(|e| format!("faults: {e}"))?;
    FaultPlan::from_toml(&text)
        .map(|p| p.rules)
        .map_err(|e| format!("faults: {e}"))
}

/// `#[serde(deserialize_with)]` for `Case::faults`.
pub fn deserialize_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Rule>, D::Error> {
    let entries = Vec::<toml::Value>::deserialize(d)?;
    parse_rules(&entries).map_err(serde::de::Error::custom)
}

/// The plan of a case's rules (None when there are none).
pub fn case_plan(rules: &[Rule], seed: Option<u64>) -> Option<FaultPlan> {
    (!rules.is_empty()).then(|| FaultPlan {
        seed: Some(seed.unwrap_or(DEFAULT_SEED)),
        rules: rules.to_vec(),
    })
}

/// Whether the plan refuses the first connection outright (a `refuse` rule whose trigger is
/// always or `connection = 1`, with no other condition).
pub fn refuses_first_connection(plan: &FaultPlan) -> bool {
    plan.rules.iter().any(|r| {
        let w = &r.when;
        r.fault == faults::Fault::Refuse
            && matches!(w.connection, None | Some(1))
            && w.command.is_none()
            && w.chunk.is_none()
            && w.bytes.is_none()
            && w.request.is_none()
            && w.probability.is_none()
            && w.every.is_none()
            && !w.verdict
            && w.replies.is_none()
    })
}

/// Moves a flat rule's fault fields (`kind`, `ms`, ...) under `fault`; `name` stays the
/// rule's name except for the faults that have a `name` field (`infected`, `errno`).
fn normalize(mut t: toml::Table) -> toml::Table {
    if t.contains_key("fault") || !t.contains_key("kind") {
        return t;
    }
    // `infected` and `errno` have a `name` of their own: in the flat form it is theirs
    // (name such a rule with the full `fault = { ... }` form).
    let fault_has_name = matches!(
        t.get("kind").and_then(toml::Value::as_str),
        Some("infected" | "errno")
    );
    let mut fault = toml::Table::new();
    let keys: Vec<String> = t
        .keys()
        .filter(|k| match k.as_str() {
            "when" | "times" => false,
            "name" => fault_has_name,
            _ => true,
        })
        .cloned()
        .collect();
    for k in keys {
        if let Some(v) = t.remove(&k) {
            fault.insert(k, v);
        }
    }
    t.insert("fault".into(), toml::Value::Table(fault));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use faults::{Fault, Trigger};

    fn entries(text: &str) -> Vec<toml::Value> {
        #[derive(serde::Deserialize)]
        struct W {
            faults: Vec<toml::Value>,
        }
        toml::from_str::<W>(text)
            .map(|w| w.faults)
            .unwrap_or_default()
    }

    fn rules(text: &str) -> Vec<Rule> {
        parse_rules(&entries(text)).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn rule_format_and_flat_form_give_the_same_plan() {
        let a = case_plan(
            &rules(
                r#"faults = [ { when = { command = "INSTREAM", chunk = 1 }, fault = { kind = "reset" }, times = 1 } ]"#,
            ),
            None,
        );
        let b = case_plan(
            &rules(
                r#"faults = [ { kind = "reset", when = { command = "INSTREAM", chunk = 1 }, times = 1 } ]"#,
            ),
            None,
        );
        let a = a.expect("plan a");
        assert_eq!(Some(a.clone()), b);
        assert_eq!(a.seed, Some(DEFAULT_SEED));
        assert_eq!(a.rules.len(), 1);
        assert_eq!(a.rules[0].fault, Fault::Reset);
        assert_eq!(a.rules[0].times, Some(1));
        let mut want = Trigger::command("INSTREAM");
        want.chunk = Some(1);
        assert_eq!(a.rules[0].when, want);
    }

    #[test]
    fn fault_fields_and_seed_are_kept() {
        let p = case_plan(
            &rules(r#"faults = [ { kind = "delay", ms = 300 } ]"#),
            Some(9),
        )
        .expect("plan");
        assert_eq!(p.seed, Some(9));
        assert!(p.to_toml().contains("ms = 300"));
    }

    #[test]
    fn bad_rules_are_rejected_by_the_faults_crate() {
        for bad in [
            r#"faults = [ { kind = "no-such-fault" } ]"#,
            r#"faults = [ { kind = "reset", extra = 1 } ]"#,
            r#"faults = [ { kind = "reset", when = { probability = 2.0 } } ]"#,
            r#"faults = [ { kind = "reset", when = { connection = 0 } } ]"#,
            r#"faults = [ 3 ]"#,
        ] {
            assert!(parse_rules(&entries(bad)).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn flat_name_belongs_to_infected_and_errno() {
        let p = case_plan(
            &rules(r#"faults = [ { kind = "infected", name = "Fake.X-1" }, { kind = "reset", name = "r" } ]"#),
            None,
        )
        .expect("plan");
        assert_eq!(
            p.rules[0].fault,
            Fault::Infected {
                name: "Fake.X-1".into()
            }
        );
        assert_eq!(p.rules[0].name, None);
        assert_eq!(p.rules[1].name.as_deref(), Some("r"));
    }

    #[test]
    fn refusal_of_the_first_connection_is_recognised() {
        let p = |t: &str| case_plan(&rules(t), None).expect("plan");
        assert!(refuses_first_connection(&p(
            r#"faults = [ { kind = "refuse" } ]"#
        )));
        assert!(refuses_first_connection(&p(
            r#"faults = [ { kind = "refuse", when = { connection = 1 } } ]"#
        )));
        assert!(!refuses_first_connection(&p(
            r#"faults = [ { kind = "refuse", when = { connection = 2 } } ]"#
        )));
        assert!(!refuses_first_connection(&p(
            r#"faults = [ { kind = "reset" } ]"#
        )));
    }

    #[test]
    fn no_rules_no_plan() {
        assert_eq!(case_plan(&[], None), None);
        assert_eq!(parse_rules(&[]), Ok(Vec::new()));
    }
}
