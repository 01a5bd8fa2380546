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

use faults::FaultPlan;

/// The seed a case's plan uses when it gives no `fault_seed` (runs replay exactly).
pub const DEFAULT_SEED: u64 = 1;

/// Builds the plan for a case's `faults` entries (None when there are none).
pub fn case_plan(rules: &[toml::Value], seed: Option<u64>) -> Result<Option<FaultPlan>, String> {
    if rules.is_empty() {
        return Ok(None);
    }
    let mut normalized = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let toml::Value::Table(t) = r else {
            return Err(format!("faults[{}]: want a table (a fault rule)", i + 1));
        };
        normalized.push(toml::Value::Table(normalize(t.clone())));
    }
    let mut doc = toml::Table::new();
    let seed = seed.unwrap_or(DEFAULT_SEED);
    let seed = i64::try_from(seed).map_err(|_| format!("fault_seed {seed} is too large"))?;
    doc.insert("seed".into(), toml::Value::Integer(seed));
    doc.insert("rule".into(), toml::Value::Array(normalized));
    let text = toml::to_string(&doc).map_err(|e| format!("faults: {e}"))?;
    FaultPlan::from_toml(&text)
        .map(Some)
        .map_err(|e| format!("faults: {e}"))
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

    fn rules(text: &str) -> Vec<toml::Value> {
        #[derive(serde::Deserialize)]
        struct W {
            faults: Vec<toml::Value>,
        }
        toml::from_str::<W>(text)
            .map(|w| w.faults)
            .unwrap_or_default()
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
        let a = a.ok().flatten().expect("plan a");
        assert_eq!(Some(a.clone()), b.ok().flatten());
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
        .ok()
        .flatten()
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
            assert!(case_plan(&rules(bad), None).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn flat_name_belongs_to_infected_and_errno() {
        let p = case_plan(
            &rules(r#"faults = [ { kind = "infected", name = "Fake.X-1" }, { kind = "reset", name = "r" } ]"#),
            None,
        )
        .ok()
        .flatten()
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
        let p = |t: &str| case_plan(&rules(t), None).ok().flatten().expect("plan");
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
        assert_eq!(case_plan(&[], None), Ok(None));
    }
}
