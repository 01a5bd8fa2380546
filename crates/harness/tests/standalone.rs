//! Issue 14 (the harness as an installable tool): the built binary, started in an empty
//! directory outside this repository, runs the built-in suites for a client described by a
//! profile file there, writes JUnit, Markdown and JSON reports and keeps snapshots under
//! the current directory; a config file makes that one short command; the built-in data is
//! the repository's `conformance/` directory.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An empty directory that is not inside this repository (the harness must not find it).
fn outside_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("avc-user-repo-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    assert!(
        harness::runner::find_root(dir.path()).is_none(),
        "the temp dir {} is inside the repository; set TMPDIR elsewhere",
        dir.path().display()
    );
    dir
}

/// The user's own client (a copy of the harness's correct Python test client) and a
/// profile beside it that names it with `{profile_dir}`.
fn user_client(dir: &Path) -> PathBuf {
    let client = dir.join("client");
    std::fs::create_dir(&client).unwrap();
    std::fs::copy(
        repo().join("conformance/test-clients/clamd_client.py"),
        client.join("scan.py"),
    )
    .unwrap();
    let profile = client.join("my-client.toml");
    std::fs::write(
        &profile,
        r#"description = "a Python clamd client in its own repository"
protocol = "clamd"
command = "python3 {profile_dir}/scan.py --timeout 2 {addr} {file}"
timeout_secs = 8

[verdicts]
clean = { exit = 0 }
infected = { exit = 1 }
error = { exit = 2 }
"#,
    )
    .unwrap();
    profile
}

fn avc(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avc-conformance"))
        .current_dir(cwd)
        .args(args)
        // a local run: new snapshots are written, not failed on
        .env_remove("CI")
        .env_remove("AVC_REQUIRE_CLIENTS")
        .timeout(Duration::from_secs(240))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Elements of an XML document balance (a small well-formedness check: every start tag is
/// closed in order, one root, nothing after it).
fn assert_balanced_xml(xml: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = xml.trim();
    assert!(rest.starts_with("<?xml"), "no XML declaration");
    while let Some(i) = rest.find('<') {
        let j = rest[i..].find('>').expect("unclosed tag") + i;
        let tag = &rest[i + 1..j];
        rest = &rest[j + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
            continue;
        }
        let name = tag
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        if stack.is_empty() {
            roots += 1;
        }
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
    assert_eq!(roots, 1, "one root element");
}

/// The clamd client cases compiled into the harness.
/// The built-in clamd cases a one-file profile runs (not those with a `files` input).
fn builtin_clamd_cases() -> usize {
    harness::case::load_dir(&repo().join("conformance/cases/client"))
        .unwrap()
        .iter()
        .filter(|c| c.protocol == harness::Protocol::Clamd && c.input.files().is_none())
        .count()
}

/// Issue 14 done-when: from an empty directory outside this repository, a profile file and
/// one command run the whole clamd suite for a client and write JUnit, Markdown and JSON
/// reports; snapshots go to `./av-conformance/snapshots`, and `review` finds them there.
#[test]
fn a_profile_file_and_one_command_run_the_suite_from_outside_the_repository() {
    need_python!();
    let dir = outside_dir();
    let profile = user_client(dir.path());
    let out = avc(
        dir.path(),
        &[
            "--profile",
            &profile.to_string_lossy(),
            "--report-junit",
            "junit.xml",
            "--report-md",
            "report.md",
            "--report-json",
            "report.json",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let n = builtin_clamd_cases();
    assert!(n >= 30, "{n} built-in clamd cases");

    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_balanced_xml(&junit);
    assert_eq!(junit.matches("<testcase ").count(), n, "{junit}");
    assert!(
        junit.contains(&format!("tests=\"{n}\" failures=\"0\"")),
        "{junit}"
    );
    assert!(junit.contains("name=\"clamd.over-limit\" classname=\"client:my-client\""));

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["counts"]["passed"], n, "{json}");
    assert_eq!(json["report"]["rows"].as_array().map(Vec::len), Some(n));

    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.starts_with("# Conformance report"), "{md}");
    assert!(
        md.contains(&format!("**{n} passed, 0 failed, 0 fail-open")),
        "{md}"
    );
    assert_eq!(md.matches("| PASS | client:my-client |").count(), n);

    let snaps = dir.path().join("av-conformance/snapshots/my-client");
    // In the cases where nothing listens there is no connection to keep (harness README,
    // "Snapshots"); every other case has its snapshot.
    let refused = ["clamd.refused.snap", "clamd.fault-refuse.snap"];
    for f in refused {
        assert!(!snaps.join(f).exists(), "{f}");
    }
    let written = std::fs::read_dir(&snaps).unwrap().count();
    assert_eq!(
        written,
        n - refused.len(),
        "snapshots in {}",
        snaps.display()
    );
    let eicar = std::fs::read_to_string(snaps.join("clamd.eicar.snap")).unwrap();
    assert!(eicar.contains("FOUND"), "{eicar}");

    // `review` outside the repository looks in the same directory.
    let review = avc(dir.path(), &["review"]);
    assert_eq!(review.status.code(), Some(0), "{}", text(&review.stderr));
    assert!(
        text(&review.stdout).contains("no pending snapshots")
            || text(&review.stderr).contains("no pending snapshots"),
        "{} {}",
        text(&review.stdout),
        text(&review.stderr)
    );
}

/// Issue 14: `av-conformance.toml` in the current directory holds the profile, the case
/// selection, the snapshot directory and the report file (paths relative to the config
/// file), so CI runs `avc-conformance` with no argument.
#[test]
fn the_config_file_in_the_current_directory_makes_the_run_one_bare_command() {
    need_python!();
    let dir = outside_dir();
    user_client(dir.path());
    std::fs::write(
        dir.path().join("av-conformance.toml"),
        r#"profiles = ["client/my-client.toml"]
filter = ["clamd.eicar", "clamd.over-limit"]
snapshots = "ci/snaps"
report_junit = "ci/junit.xml"
"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("ci")).unwrap();
    let out = avc(dir.path(), &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("2 passed, 0 failed"), "{stderr}");
    let junit = std::fs::read_to_string(dir.path().join("ci/junit.xml")).unwrap();
    assert_balanced_xml(&junit);
    assert_eq!(junit.matches("<testcase ").count(), 2);
    assert!(dir
        .path()
        .join("ci/snaps/my-client/clamd.over-limit.snap")
        .is_file());
    assert!(!dir.path().join("av-conformance").exists());
    // A config file with a key it does not know is a configuration error.
    std::fs::write(dir.path().join("av-conformance.toml"), "profile = []\n").unwrap();
    let bad = avc(dir.path(), &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(text(&bad.stderr).contains("av-conformance.toml"));
}

/// A case file with one clamd case `id` (CLAMD-CLIENT-6) that expects `input` (a TOML
/// inline table) to be reported infected.
fn infected_case(id: &str, input: &str) -> String {
    format!(
        "[[case]]\nid = {id:?}\nprotocol = \"clamd\"\nrules = [\"CLAMD-CLIENT-6\"]\ninput = {input}\nexpect = \"infected\"\n"
    )
}

/// Issue 14: `--cases DIR` adds the user's own case files to the built-in ones; an id that
/// repeats a built-in case is a configuration error (exit 2) naming the file.
#[test]
fn user_case_directories_are_added_to_the_builtin_cases() {
    let dir = outside_dir();
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, TRUE_PROFILE).unwrap();
    let cases = dir.path().join("cases");
    std::fs::create_dir(&cases).unwrap();
    let marker = r#"{ kind = "bytes", data = "AV-FAKE-TEST-MARKER-1" }"#;
    std::fs::write(
        cases.join("mine.toml"),
        infected_case("clamd.mine-marker", marker),
    )
    .unwrap();
    let p = profile.to_string_lossy();
    let out = avc(dir.path(), &["--profile", &p, "--cases", "cases", "--list"]);
    let listing = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(listing.contains("clamd.mine-marker"), "{listing}");
    assert!(listing.contains("clamd.over-limit"), "{listing}");
    assert_eq!(listing.lines().count(), builtin_clamd_cases() + 1);

    let eicar = infected_case("clamd.eicar", r#"{ kind = "eicar" }"#);
    std::fs::write(cases.join("dup.toml"), eicar).unwrap();
    let dup = avc(dir.path(), &["--profile", &p, "--cases", "cases", "--list"]);
    assert_eq!(dup.status.code(), Some(2));
    let e = text(&dup.stderr);
    assert!(
        e.contains("dup.toml") && e.contains("duplicate case id clamd.eicar"),
        "{e}"
    );
    let missing = avc(dir.path(), &["--profile", &p, "--cases", "nope", "--list"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
}

/// The directories under `conformance/` whose files are compiled in.
const DATA_DIRS: [&str; 5] = [
    "cases/client",
    "cases/server",
    "clients",
    "clients/wrappers",
    "test-clients",
];

/// The data files directly under `conformance/<sub>`, as (path under conformance/, text),
/// sorted: every regular file but a known-failures baseline.
fn disk_files(sub: &str) -> Vec<(String, String)> {
    let dir = repo().join("conformance").join(sub);
    let mut v: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| !p.to_string_lossy().ends_with(".known-failures.toml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                format!("{sub}/{name}"),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Issue 14: the data compiled into the binary is exactly the repository's
/// `conformance/cases`, `conformance/clients` (with its wrapper scripts) and test-client
/// scripts (no file missing, none extra, no byte different), and none of it holds the EICAR
/// string.
#[test]
fn builtin_data_is_exactly_the_repository_conformance_files() {
    // every file of these directories, whatever its extension (a wrapper in a new
    // language must be compiled in too), but known-failures baselines: CI passes those by
    // path, and a user's run has its own
    let mut disk = Vec::new();
    for sub in DATA_DIRS {
        disk.extend(disk_files(sub));
    }
    let built: Vec<(String, String)> = harness::builtin::FILES
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    let names = |v: &[(String, String)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&built), names(&disk));
    for ((p, a), (_, b)) in built.iter().zip(&disk) {
        assert!(a == b, "{p}: the built-in copy differs from the file");
    }
    let eicar = scan_engine::eicar();
    for (p, t) in &built {
        assert!(
            !t.as_bytes()
                .windows(eicar.len())
                .any(|w| w == eicar.as_slice()),
            "{p} holds EICAR"
        );
    }
}

/// The HTML report's rule texts come from the specifications compiled into the binary
/// (`spec-data`, the link to `../shared/spec`), never from a file of the machine it runs
/// on: started outside the repository, the report shows CLAMD-CLIENT-3's first sentence as
/// the spec has it and says where the texts came from.
#[test]
fn clamd_client_3_html_rule_texts_are_compiled_in() {
    let spec = repo().join("crates/harness/spec-data/clamd.md");
    let Ok(clamd) = std::fs::read_to_string(&spec) else {
        println!(
            "SKIP: {} is not here: this build has no rule texts",
            spec.display()
        );
        return;
    };
    assert!(clamd.contains("**CLAMD-CLIENT-3** A client MUST treat any of these as"));
    let names: Vec<&str> = harness::report_html::SPEC_FILES
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(names, ["clamd.md", "fave.md", "svsp.md"]);
    let dir = outside_dir();
    let out = avc(
        dir.path(),
        &[
            "--client-cmd",
            "sh -c 'exit 2'",
            "--protocol",
            "clamd",
            "--filter",
            "clamd.refused",
            "--report-html",
            "r.html",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(
        html.contains("<b>CLAMD-CLIENT-3</b> <span class=\"rule-sum\">A client MUST treat any of these as an error, never as clean:"),
        "{html}"
    );
    assert!(
        html.contains("specifications compiled into this harness (clamd.md, fave.md, svsp.md)"),
        "{html}"
    );
}
