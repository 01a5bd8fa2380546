//! Tidy checks over the whole workspace, in the spirit of rust-analyzer's `tidy.rs`: facts
//! that no single crate's tests can see (issue 13, "Rule IDs everywhere a grep looks").
//!
//! - every server-side rule of `shared/spec/clamd.md` and `svsp.md` is cited, with its dashed
//!   ID, by a test (a test file, a unit-test module, or a recorded/conformance case);
//! - a test whose name says it proves a rule (`clamd_instream_8_...`) carries the dashed ID in
//!   its doc comment, so `grep -rn CLAMD-INSTREAM-8` finds it;
//! - no clamd reply literal lives outside the protocol crate;
//! - no two modules of one crate import each other (`imports.rs` reads the syntax trees).
//!
//! The specs live beside the repository (`../shared/spec`); without them these checks skip
//! visibly, except in CI (`CI` set), where a missing spec is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[path = "tidy/imports.rs"]
mod imports;

/// Server-side rules that no test cites, each with the reason. Keep it short: a rule with a
/// test comes off this list (the check fails while a listed rule is cited).
const UNCITED_RULES: &[(&str, &str)] = &[
    (
        "SVSP-TRANS-4",
        "no second protocol is hosted by the fake vfindd",
    ),
    (
        "CLAMD-CONN-5",
        "inside clamd: a peer that is gone receives nothing either way; the fake does not probe \
         between files",
    ),
    (
        "CLAMD-INSTREAM-10",
        "the fake keeps streams in memory (no temp file to fail); the text is \
         clamd_proto::reply::ERROR_WRITING_TEMPORARY_FILE, for fault plans",
    ),
    (
        "CLAMD-TIME-7",
        "the fake does not apply MaxScanTime, and the oracle's tiny database scans nothing \
         slower than a limit",
    ),
    (
        "CLAMD-VER-1",
        "history (0.95); the 1.4 commands and framings it lists have their own rules and tests",
    ),
    (
        "CLAMD-VER-5",
        "0.103-0.105 timing of size-limit errors; only clamd 1.4.6 is installed",
    ),
    (
        "CLAMD-VER-6",
        "a statement about clamd's source history (1.0 to 1.4.5), nothing to run",
    ),
];

/// Reply texts owned by `clamd-proto` (crates/clamd-proto/src/reply.rs).
const CLAMD_REPLY_TEXTS: &[&str] = &[
    "UNKNOWN COMMAND",
    "Command invalid inside IDSESSION",
    "INSTREAM size limit exceeded",
    "COMMAND READ TIMED OUT",
    "No file descriptor received",
    "Error processing command",
    "File path check failure",
    "Not supported file type",
    "Excluded (another filesystem)",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The spec texts, or `None` (a visible skip) when they are absent outside CI.
fn specs() -> Option<Vec<(String, String)>> {
    let dir = root().join("../shared/spec");
    let mut out = Vec::new();
    for name in ["clamd.md", "svsp.md"] {
        let p = dir.join(name);
        match std::fs::read_to_string(&p) {
            Ok(t) => out.push((name.to_string(), t)),
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{}: {e} (the specs must be beside the repository in CI)",
                    p.display()
                );
                println!("SKIP: {} not found: {e}", p.display());
                return None;
            }
        }
    }
    Some(out)
}

/// Rule IDs defined in a spec: lines starting `**CLAMD-...**` / `**SVSP-...**`.
fn rule_ids(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("**"))
        .filter_map(|l| l.split_once("**").map(|(id, _)| id))
        .filter(|id| {
            (id.starts_with("CLAMD-") || id.starts_with("SVSP-"))
                && id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        })
        .map(str::to_string)
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name();
        if name == "target" || name == ".git" || name == "corpus" || name == "artifacts" {
            continue;
        }
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn all_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in ["crates", "fixtures", "xtask", "conformance", "fuzz"] {
        walk(&root().join(d), &mut files);
    }
    files
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

fn is_test_file(rel: &str) -> bool {
    rel.contains("/tests/")
}

/// The text of everything that counts as a test: test files, the `#[cfg(test)]` part of
/// source files, and case tables (each case names its rules).
fn test_texts() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in all_files() {
        let r = rel(&p);
        if r == "xtask/tests/tidy.rs" {
            continue; // this file names rules only to list them as uncited
        }
        let Some(ext) = p.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        match ext {
            "rs" if is_test_file(&r) => out.push((r, text)),
            "rs" => {
                if let Some(at) = text.find("#[cfg(test)]") {
                    out.push((r, text[at..].to_string()));
                }
            }
            "toml" if r.starts_with("conformance/") => out.push((r, text)),
            _ => {}
        }
    }
    out
}

/// Whether `text` cites `id` (not as a prefix of a longer ID: `CLAMD-SCAN-1` vs `-10`). An
/// allow-list entry `("ID", "reason")` is not a citation: it says that no test proves the rule.
fn cites(text: &str, id: &str) -> bool {
    text.match_indices(id).any(|(at, _)| {
        let after = &text[at + id.len()..];
        let allow_entry = text[..at].ends_with("(\"") && after.starts_with("\",");
        !allow_entry && !after.chars().next().is_some_and(|c| c.is_ascii_digit())
    })
}

#[test]
fn tidy_every_server_rule_is_cited_by_a_test() {
    let Some(specs) = specs() else { return };
    let tests = test_texts();
    let allowed: BTreeMap<&str, &str> = UNCITED_RULES.iter().copied().collect();
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    let mut total = 0;
    for (spec, text) in &specs {
        for id in rule_ids(text) {
            if id.contains("-CLIENT-") {
                continue; // client obligations: judged by the harness, not served
            }
            total += 1;
            let cited = tests.iter().any(|(_, t)| cites(t, &id));
            match (cited, allowed.contains_key(id.as_str())) {
                (false, false) => missing.push(format!("{id} ({spec})")),
                (true, true) => stale.push(id),
                _ => {}
            }
        }
    }
    println!(
        "{total} server-side rules, {} allowed uncited",
        allowed.len()
    );
    assert!(
        missing.is_empty(),
        "server-side rules no test cites with their dashed ID (add a test, or a doc comment \
         naming the rule on the test that proves it):\n  {}",
        missing.join("\n  ")
    );
    assert!(
        stale.is_empty(),
        "rules on UNCITED_RULES that a test now cites (take them off the list): {stale:?}"
    );
}

/// `clamd_instream_8_...` or `svsp_opt_exclude_1_...`: the rule IDs a test name starts with.
fn rules_in_name<'a>(name: &str, ids: &'a BTreeSet<String>) -> Vec<&'a str> {
    ids.iter()
        .filter(|id| {
            let snake = id.to_ascii_lowercase().replace('-', "_");
            name == snake
                || name
                    .strip_prefix(&snake)
                    .is_some_and(|rest| rest.starts_with('_'))
        })
        .map(String::as_str)
        .collect()
}

#[test]
fn tidy_tests_named_after_a_rule_carry_its_dashed_id() {
    let Some(specs) = specs() else { return };
    let ids: BTreeSet<String> = specs.iter().flat_map(|(_, t)| rule_ids(t)).collect();
    let mut bad = Vec::new();
    for (file, text) in test_texts().into_iter().filter(|(f, _)| f.ends_with(".rs")) {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let Some(rest) = t
                .strip_prefix("fn ")
                .or_else(|| t.strip_prefix("async fn "))
            else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let wanted = rules_in_name(&name, &ids);
            if wanted.is_empty() {
                continue;
            }
            // the attribute and comment lines right above the fn
            let mut above = String::new();
            for l in lines[..i].iter().rev() {
                let l = l.trim_start();
                if l.starts_with("///") || l.starts_with("//") || l.starts_with("#[") {
                    above.push_str(l);
                    above.push('\n');
                } else {
                    break;
                }
            }
            for id in wanted {
                if !cites(&above, id) {
                    bad.push(format!("{file}:{}: {name} lacks `/// {id}`", i + 1));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "tests named after a rule must cite it in their doc comment ({}):\n  {}",
        bad.len(),
        bad.join("\n  ")
    );
}

#[test]
fn tidy_no_clamd_reply_literal_outside_the_protocol_crate() {
    let mut bad = Vec::new();
    for p in all_files() {
        let r = rel(&p);
        if !r.ends_with(".rs")
            || is_test_file(&r)
            || r.starts_with("crates/clamd-proto/")
            || r.starts_with("xtask/tests/")
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let code = match text.find("#[cfg(test)]") {
            Some(at) => &text[..at],
            None => &text[..],
        };
        for (n, line) in code.lines().enumerate() {
            let l = line.trim_start();
            if l.starts_with("//") {
                continue;
            }
            for lit in CLAMD_REPLY_TEXTS {
                if line.contains(&format!("\"{lit}")) || line.contains(&format!(" {lit}\"")) {
                    bad.push(format!("{r}:{}: {lit:?}", n + 1));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "clamd reply texts belong in crates/clamd-proto/src/reply.rs (one place, next to their \
         rule ID); found elsewhere:\n  {}",
        bad.join("\n  ")
    );
}

/// Each crate's `src/` modules (non-test code) as module path -> source.
fn crate_sources() -> BTreeMap<String, BTreeMap<imports::ModPath, String>> {
    let mut out: BTreeMap<String, BTreeMap<_, _>> = BTreeMap::new();
    for p in all_files() {
        let r = rel(&p);
        let Some((krate, in_src)) = r.split_once("/src/") else {
            continue;
        };
        if krate.starts_with("conformance") || krate.starts_with("fuzz") {
            continue;
        }
        let Some(m) = imports::module_of(Path::new(in_src)) else {
            continue;
        };
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{r}: {e}"));
        out.entry(krate.to_string()).or_default().insert(m, text);
    }
    out
}

#[test]
fn tidy_no_two_modules_import_each_other() {
    let crates = crate_sources();
    assert!(crates.len() >= 10, "found only {:?}", crates.keys());
    let mut bad = Vec::new();
    for (krate, sources) in &crates {
        for pair in imports::mutual_pairs(sources) {
            bad.push(format!("{krate}: {pair}"));
        }
    }
    assert!(
        bad.is_empty(),
        "modules that import each other (move what both need into one of them or a third \
         module, so that imports go one way):\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn tidy_checks_can_fail() {
    // the helpers above must see what they are meant to see
    let ids: BTreeSet<String> = rule_ids("**CLAMD-SCAN-1** [C] x\n**SVSP-OPT-EXCLUDE-1** [S] y\n");
    assert_eq!(ids.len(), 2);
    assert!(cites("proves CLAMD-SCAN-1.", "CLAMD-SCAN-1"));
    assert!(!cites("proves CLAMD-SCAN-10", "CLAMD-SCAN-1"));
    assert!(!cites("(\"SVSP-TRANS-4\", \"no test\")", "SVSP-TRANS-4"));
    assert!(cites("rules = ['SVSP-TRANS-4']", "SVSP-TRANS-4"));
    assert_eq!(
        rules_in_name("svsp_opt_exclude_1_skips_names", &ids),
        vec!["SVSP-OPT-EXCLUDE-1"]
    );
    assert!(rules_in_name("clamd_scan_10_x", &ids).is_empty());
    // a module pair importing each other is found; one-way imports are not
    let src = |pairs: &[(&str, &str)]| -> BTreeMap<imports::ModPath, String> {
        pairs
            .iter()
            .map(|(m, t)| (m.split("::").map(String::from).collect(), t.to_string()))
            .collect()
    };
    let cycle = src(&[
        ("conn", "use crate::server::Shared; fn f(_: Shared) {}"),
        ("server", "fn g() { crate::conn::run(); }"),
        ("reply", "use super::conn;"),
    ]);
    assert_eq!(imports::mutual_pairs(&cycle), vec!["conn <-> server"]);
    let grouped = src(&[
        ("a::b", "use crate::{c::{self, X}};"),
        ("c", "fn f() { tracing::info!(\"{}\", super::a::b::y()); }"),
        ("d", "#[cfg(test)] mod tests { use crate::c::X; }"),
    ]);
    assert_eq!(imports::mutual_pairs(&grouped), vec!["a::b <-> c"]);
    let one_way = src(&[("c", "use crate::a::b::X;"), ("a::b", "")]);
    assert!(imports::mutual_pairs(&one_way).is_empty());
    assert_eq!(
        imports::module_of(Path::new("checks/mod.rs")),
        Some(vec!["checks".to_string()])
    );
    assert_eq!(imports::module_of(Path::new("lib.rs")), None);
}
