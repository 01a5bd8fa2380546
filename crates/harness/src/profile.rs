//! Client profiles: how to run one client program and read its verdict.
//!
//! A profile is a TOML file under `conformance/clients/` (format in the crate README).

use crate::session_sort::SnapshotOrder;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{HarnessError, Result};
use crate::template;

/// Which wire protocol a client speaks (and so which daemon the harness runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Clamd,
    Svsp,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Clamd => "clamd",
            Protocol::Svsp => "svsp",
        })
    }
}

/// Where the harness's recording proxy listens for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Tcp,
    Unix,
}

/// What a client command takes as `{file}`: one file, or a directory of files it scans in
/// one go (the cases with a `files` input; IDSESSION clients, CLAMD-CLIENT-9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    File,
    Dir,
}

fn file_only() -> Vec<InputKind> {
    vec![InputKind::File]
}

/// A verdict as a client reports it, or as a case expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Clean,
    Infected,
    Error,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Clean => "clean",
            Verdict::Infected => "infected",
            Verdict::Error => "error",
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum CommandSpec {
    Line(String),
    Argv(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ExitSpec {
    One(i32),
    Many(Vec<i32>),
    Word(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    exit: Option<ExitSpec>,
    output: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct VerdictsFile {
    clean: Option<RuleFile>,
    infected: Option<RuleFile>,
    error: Option<RuleFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenFileSpec {
    path: String,
    content: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CargoBinSpec {
    package: String,
    bin: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: Option<String>,
    #[serde(default)]
    description: String,
    protocol: Protocol,
    #[serde(default)]
    transport: Transport,
    command: CommandSpec,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default = "default_timeout")]
    timeout_secs: f64,
    #[serde(default)]
    verdicts: VerdictsFile,
    #[serde(default)]
    files: Vec<GenFileSpec>,
    program_from: Option<String>,
    cargo_bin: Option<CargoBinSpec>,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    requires_python: Vec<String>,
    #[serde(default)]
    requires_node: Vec<String>,
    #[serde(default)]
    requires_perl: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default = "yes")]
    snapshots: bool,
    #[serde(default)]
    snapshot_order: SnapshotOrder,
    #[serde(default = "file_only")]
    inputs: Vec<InputKind>,
}

fn default_timeout() -> f64 {
    30.0
}

fn yes() -> bool {
    true
}

/// Which exit statuses a rule accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitMatch {
    Codes(Vec<i32>),
    NonZero,
    Any,
}

impl ExitMatch {
    fn matches(&self, code: Option<i32>) -> bool {
        match (self, code) {
            (ExitMatch::Any, _) => true,
            (ExitMatch::NonZero, Some(c)) => c != 0,
            (ExitMatch::NonZero, None) => false,
            (ExitMatch::Codes(list), Some(c)) => list.contains(&c),
            (ExitMatch::Codes(_), None) => false,
        }
    }
}

/// One verdict rule: an exit status and optional regexes on the output.
#[derive(Debug, Clone)]
pub struct VerdictRule {
    pub exit: ExitMatch,
    pub output: Option<Regex>,
    pub stdout: Option<Regex>,
    pub stderr: Option<Regex>,
}

impl VerdictRule {
    pub fn exit_code(code: i32) -> Self {
        VerdictRule {
            exit: ExitMatch::Codes(vec![code]),
            output: None,
            stdout: None,
            stderr: None,
        }
    }

    fn matches(&self, code: Option<i32>, stdout: &str, stderr: &str) -> bool {
        if !self.exit.matches(code) {
            return false;
        }
        if let Some(re) = &self.stdout {
            if !re.is_match(stdout) {
                return false;
            }
        }
        if let Some(re) = &self.stderr {
            if !re.is_match(stderr) {
                return false;
            }
        }
        if let Some(re) = &self.output {
            if !re.is_match(stdout) && !re.is_match(stderr) {
                return false;
            }
        }
        true
    }
}

/// A program the harness builds with cargo before running the profile.
#[derive(Debug, Clone)]
pub struct CargoBin {
    pub package: String,
    pub bin: String,
}

/// A loaded, validated client profile.
#[derive(Debug, Clone)]
pub struct ClientProfile {
    pub name: String,
    pub description: String,
    pub protocol: Protocol,
    pub transport: Transport,
    /// argv templates (a command line string is split with shell-words rules first).
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    /// Rules in priority order: infected, error, clean (the first that matches wins).
    pub rules: Vec<(Verdict, VerdictRule)>,
    pub files: Vec<(String, String)>,
    pub program_from: Option<String>,
    pub cargo_bin: Option<CargoBin>,
    pub requires: Vec<String>,
    pub requires_python: Vec<String>,
    /// npm packages that `require.resolve` must find from the profile's directory.
    pub requires_node: Vec<String>,
    /// Perl modules (`ClamAV::Client`) that `perl -M<module> -e 1` must load.
    pub requires_perl: Vec<String>,
    pub tags: Vec<String>,
    pub snapshots: bool,
    /// How snapshots list the requests of a clamd session: as sent, or `by-content` for a
    /// client whose request order is its directory walk's (see [`crate::session_sort`]).
    pub snapshot_order: SnapshotOrder,
    /// Which cases the profile runs: `file` (the default) the one-file cases, `dir` those
    /// with a `files` input, where `{file}` is the directory holding them and the client
    /// prints one clamdscan-style line per file (`<path>: OK`, `<path>: <name> FOUND`,
    /// `<path>: <text> ERROR`).
    pub inputs: Vec<InputKind>,
    pub source: Option<PathBuf>,
}

impl ClientProfile {
    /// Parses a profile from TOML text. `origin` names the file in error messages; the
    /// file stem is the default profile name.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self> {
        let mut raw: ProfileFile =
            toml::from_str(text).map_err(|e| HarnessError::config(origin, e.to_string()))?;
        let cfg = |m: String| HarnessError::config(origin, m);
        let name = match raw.name {
            Some(n) => n,
            None => origin
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .ok_or_else(|| cfg("profile has no name".into()))?,
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(cfg(format!(
                "profile name {name:?} must be non-empty and use only [A-Za-z0-9._-]"
            )));
        }
        let argv = match raw.command {
            CommandSpec::Line(line) => {
                shell_words::split(&line).map_err(|e| cfg(format!("command: {e}")))?
            }
            CommandSpec::Argv(v) => v,
        };
        // `{profile_dir}` is known at load time: replace it before the run's placeholders.
        let pdir = profile_dir(origin);
        let argv: Vec<String> = argv.iter().map(|a| with_profile_dir(a, &pdir)).collect();
        for v in raw.env.values_mut() {
            *v = with_profile_dir(v, &pdir);
        }
        for f in &mut raw.files {
            f.content = with_profile_dir(&f.content, &pdir);
        }
        // `requires` names programs or paths, checked before any run: `{profile_dir}` is
        // its only placeholder (a client built beside its profile)
        let requires =
            raw.requires
                .iter()
                .map(|r| {
                    template::expand(&with_profile_dir(r, &pdir), &template::Vars::default())
                        .map_err(|_| {
                            cfg(format!(
                                "requires: {r:?}: only {{profile_dir}} is expanded there"
                            ))
                        })
                })
                .collect::<Result<Vec<String>>>()?;
        if argv.is_empty() {
            return Err(cfg("command is empty".into()));
        }
        for a in &argv {
            template::validate(a).map_err(|e| cfg(e.to_string()))?;
        }
        for (k, v) in &raw.env {
            template::validate(v).map_err(|e| cfg(format!("env {k}: {e}")))?;
        }
        for f in &raw.files {
            template::validate(&f.path).map_err(|e| cfg(format!("files: {e}")))?;
            template::validate(&f.content).map_err(|e| cfg(format!("files: {e}")))?;
            check_file_path_template(&f.path).map_err(cfg)?;
        }
        if !(raw.timeout_secs > 0.0 && raw.timeout_secs <= 3600.0) {
            return Err(cfg("timeout_secs must be in (0, 3600]".into()));
        }
        let mut rules = Vec::new();
        for (verdict, rule) in [
            (Verdict::Infected, raw.verdicts.infected),
            (Verdict::Error, raw.verdicts.error),
            (Verdict::Clean, raw.verdicts.clean),
        ] {
            let Some(rule) = rule else { continue };
            rules.push((verdict, compile_rule(rule, verdict).map_err(cfg)?));
        }
        if !rules.iter().any(|(v, _)| *v == Verdict::Clean) {
            return Err(cfg("verdicts.clean is required".into()));
        }
        if raw.inputs.is_empty() {
            return Err(cfg("inputs must name file, dir or both".into()));
        }
        // `perl -M<name>` would run anything after a `=`: only a module name gets there
        if let Some(bad) = raw.requires_perl.iter().find(|m| !is_perl_module_name(m)) {
            return Err(cfg(format!(
                "requires_perl: {bad:?} is not a Perl module name (such as ClamAV::Client)"
            )));
        }
        Ok(ClientProfile {
            name,
            description: raw.description,
            protocol: raw.protocol,
            transport: raw.transport,
            argv,
            env: raw.env,
            timeout: Duration::from_secs_f64(raw.timeout_secs),
            rules,
            files: raw.files.into_iter().map(|f| (f.path, f.content)).collect(),
            program_from: raw.program_from,
            cargo_bin: raw.cargo_bin.map(|c| CargoBin {
                package: c.package,
                bin: c.bin,
            }),
            requires,
            requires_python: raw.requires_python,
            requires_node: raw.requires_node,
            requires_perl: raw.requires_perl,
            tags: raw.tags,
            snapshots: raw.snapshots,
            snapshot_order: raw.snapshot_order,
            inputs: raw.inputs,
            source: Some(origin.to_path_buf()),
        })
    }

    /// Loads one profile file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_config_text(path, "profile")?;
        Self::from_toml(&text, path)
    }

    /// Loads every `*.toml` in a directory, sorted by name.
    pub fn load_dir(dir: &Path) -> Result<Vec<Self>> {
        let paths = toml_files(dir)?;
        let mut out: Vec<Self> = Vec::new();
        for p in paths {
            let prof = Self::load(&p)?;
            if out.iter().any(|o| o.name == prof.name) {
                return Err(HarnessError::config(
                    &p,
                    format!("duplicate profile name {}", prof.name),
                ));
            }
            out.push(prof);
        }
        Ok(out)
    }

    /// The one-off profile of `--client-cmd`: clamdscan's exit-code convention (0 clean,
    /// 1 infected, 2 error).
    pub fn one_off(command: &str, protocol: Protocol, timeout: Duration) -> Result<Self> {
        let argv = shell_words::split(command)
            .map_err(|e| HarnessError::Usage(format!("--client-cmd: {e}")))?;
        if argv.is_empty() {
            return Err(HarnessError::Usage("--client-cmd is empty".into()));
        }
        for a in &argv {
            template::validate(a).map_err(|e| HarnessError::Usage(format!("--client-cmd: {e}")))?;
        }
        Ok(ClientProfile {
            name: "client-cmd".into(),
            description: format!("one-off client: {command}"),
            protocol,
            transport: Transport::Tcp,
            argv,
            env: BTreeMap::new(),
            timeout,
            rules: vec![
                (Verdict::Infected, VerdictRule::exit_code(1)),
                (Verdict::Error, VerdictRule::exit_code(2)),
                (Verdict::Clean, VerdictRule::exit_code(0)),
            ],
            files: Vec::new(),
            program_from: None,
            cargo_bin: None,
            requires: Vec::new(),
            requires_python: Vec::new(),
            requires_node: Vec::new(),
            requires_perl: Vec::new(),
            tags: Vec::new(),
            snapshots: false,
            snapshot_order: SnapshotOrder::AsSent,
            inputs: file_only(),
            source: None,
        })
    }

    /// Reads the client's verdict from its exit status and output; `None` = unclassified.
    pub fn classify(&self, exit: Option<i32>, stdout: &str, stderr: &str) -> Option<Verdict> {
        self.rules
            .iter()
            .find(|(_, r)| r.matches(exit, stdout, stderr))
            .map(|(v, _)| *v)
    }
}

/// The absolute directory of a profile file, for `{profile_dir}`.
fn profile_dir(origin: &Path) -> String {
    let dir = origin.parent().unwrap_or(Path::new(""));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::path::absolute(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Replaces `{profile_dir}` in a template with `dir` (its braces doubled, so they stay
/// literal), leaving `{{`, `}}` and every other placeholder as they are. A profile in a
/// client's own repository names its scripts relative to itself this way (issue 14).
fn with_profile_dir(template: &str, dir: &str) -> String {
    const KEY: &str = "{profile_dir}";
    let escaped = dir.replace('{', "{{").replace('}', "}}");
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let r = &rest[i..];
        let step = if r.starts_with("{{") || r.starts_with("}}") {
            out.push_str(&r[..2]);
            2
        } else if r.starts_with(KEY) {
            out.push_str(&escaped);
            KEY.len()
        } else {
            out.push_str(&r[..1]);
            1
        };
        rest = &r[step..];
    }
    out.push_str(rest);
    out
}

/// Largest profile or case file the harness reads (they are a few KiB; a bigger one is a
/// mistake, e.g. a data file named `.toml`).
pub const MAX_CONFIG_FILE: u64 = 1 << 20;

/// The `*.toml` files of `dir`, sorted by name (profiles, cases).
pub(crate) fn toml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| HarnessError::io(format!("reading {}", dir.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Reads a profile or case file as UTF-8 text, at most [`MAX_CONFIG_FILE`] bytes. Every
/// failure (missing, a directory, too large, not UTF-8) is a configuration error (exit 2)
/// naming the file.
pub fn read_config_text(path: &Path, what: &str) -> Result<String> {
    use std::io::Read;
    let cfg = |m: String| HarnessError::config(path, m);
    let file =
        std::fs::File::open(path).map_err(|e| cfg(format!("cannot open the {what}: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cfg(format!("cannot read the {what}: {e}")))?;
    if bytes.len() as u64 > MAX_CONFIG_FILE {
        return Err(cfg(format!(
            "the {what} is larger than {MAX_CONFIG_FILE} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        cfg(format!(
            "the {what} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Whether `path` stays inside the directory it is joined to: relative, normal components
/// only (no `..`, no root, no prefix), not empty.
pub fn is_contained_relative(path: &str) -> bool {
    use std::path::Component;
    let p = Path::new(path);
    p.components().next().is_some() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// A `[[files]] path` template must expand to a path inside the case directory. Checked at
/// load time with stand-ins (placeholders that hold paths expand to absolute ones); the
/// runner checks the real expansion again.
fn check_file_path_template(path: &str) -> std::result::Result<(), String> {
    let mut vars = template::Vars::default();
    for name in template::PLACEHOLDERS {
        let sample = match *name {
            "socket" | "file" | "dir" | "program" | "test_clients" => "/abs",
            _ => "x",
        };
        vars.set(name, sample);
    }
    let expanded = template::expand(path, &vars).map_err(|e| format!("files: {e}"))?;
    if is_contained_relative(&expanded) {
        Ok(())
    } else {
        Err(format!(
            "files: path {path:?} must be relative inside the case directory (no absolute path, no `..`, no placeholder holding a path)"
        ))
    }
}

/// A verdict pattern. Client output is lines, so `^` and `$` match at the start and end of
/// any line (a `\r\n` ending included): `^infected: ` finds the line wherever it is, and
/// `^OK$` matches the output `OK\n`. `\A` and `\z` (or a leading `(?-m)`) anchor to the
/// whole output.
fn verdict_regex(pattern: &str) -> std::result::Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .multi_line(true)
        .crlf(true)
        .build()
}

fn compile_rule(rule: RuleFile, verdict: Verdict) -> std::result::Result<VerdictRule, String> {
    let exit = match rule.exit {
        None => ExitMatch::Any,
        Some(ExitSpec::One(c)) => ExitMatch::Codes(vec![c]),
        Some(ExitSpec::Many(v)) if !v.is_empty() => ExitMatch::Codes(v),
        Some(ExitSpec::Many(_)) => return Err(format!("verdicts.{verdict}.exit: empty list")),
        Some(ExitSpec::Word(w)) => match w.as_str() {
            "nonzero" => ExitMatch::NonZero,
            "any" => ExitMatch::Any,
            other => {
                return Err(format!(
                    "verdicts.{verdict}.exit: {other:?} (want a number, a list, \"nonzero\" or \"any\")"
                ))
            }
        },
    };
    let re = |s: Option<String>, what: &str| -> std::result::Result<Option<Regex>, String> {
        s.map(|s| verdict_regex(&s).map_err(|e| format!("verdicts.{verdict}.{what}: {e}")))
            .transpose()
    };
    let out = VerdictRule {
        exit,
        output: re(rule.output, "output")?,
        stdout: re(rule.stdout, "stdout")?,
        stderr: re(rule.stderr, "stderr")?,
    };
    if out.exit == ExitMatch::Any
        && out.output.is_none()
        && out.stdout.is_none()
        && out.stderr.is_none()
    {
        return Err(format!(
            "verdicts.{verdict}: matches everything (give exit and/or a regex)"
        ));
    }
    Ok(out)
}

/// `Foo::Bar_2`: words of letters, digits and `_` joined by `::`, not starting with a digit.
fn is_perl_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.split("::").all(|w| {
            w.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
        protocol = "clamd"
        command = "my-scanner --host {host} --port {port} '{file}'"
        timeout_secs = 5
        [env]
        FL_CLAMAV_CONNECTION = "{host}:{port}"
        [verdicts]
        clean = { exit = 0 }
        infected = { exit = 1, output = "FOUND" }
        error = { exit = "nonzero" }
    "#;

    /// `requires_perl` takes module names only: `perl -M<text>` runs code after a `=`.
    #[test]
    fn requires_perl_takes_module_names_only() {
        let with = |m: &str| {
            EXAMPLE.replace(
                "timeout_secs = 5",
                &format!("timeout_secs = 5\nrequires_perl = [{m:?}]"),
            )
        };
        let ok = ClientProfile::from_toml(&with("ClamAV::Client"), Path::new("p.toml")).unwrap();
        assert_eq!(ok.requires_perl, ["ClamAV::Client"]);
        for bad in ["strict=system('id')", "Foo;", "", "9x", "Foo::", "-e"] {
            let err = ClientProfile::from_toml(&with(bad), Path::new("p.toml"))
                .expect_err(bad)
                .to_string();
            assert!(err.contains("not a Perl module name"), "{bad}: {err}");
        }
    }

    #[test]
    fn parses_and_classifies() {
        let p = ClientProfile::from_toml(EXAMPLE, Path::new("x/my-scanner.toml")).unwrap();
        assert_eq!(p.name, "my-scanner");
        assert_eq!(p.argv.len(), 6);
        assert_eq!(p.classify(Some(0), "", ""), Some(Verdict::Clean));
        assert_eq!(p.classify(Some(1), "x: FOUND", ""), Some(Verdict::Infected));
        // exit 1 without FOUND falls through to the error rule ("nonzero").
        assert_eq!(p.classify(Some(1), "odd", ""), Some(Verdict::Error));
        // killed by a signal: no exit code, nothing matches: unclassified.
        assert_eq!(p.classify(None, "", ""), None);
    }

    /// `^`/`$` are line anchors (what a profile author who greps output expects): a result
    /// line after a banner matches, `^OK$` matches `OK\n` and `OK\r\n`; `\A`/`\z` still
    /// anchor to the whole output.
    #[test]
    fn verdict_patterns_anchor_to_lines() {
        let text = EXAMPLE
            .replace(
                "infected = { exit = 1, output = \"FOUND\" }",
                "infected = { exit = 1, stdout = '^infected: ' }",
            )
            .replace(
                "clean = { exit = 0 }",
                "clean = { exit = 0, stdout = '^OK$' }",
            )
            .replace(
                "error = { exit = \"nonzero\" }",
                "error = { exit = 2, stdout = '\\Aerror\\z' }",
            );
        let p = ClientProfile::from_toml(&text, Path::new("x/lines.toml")).unwrap();
        assert_eq!(
            p.classify(Some(1), "scanner 1.0\ninfected: Eicar-Test\n", ""),
            Some(Verdict::Infected)
        );
        assert_eq!(
            p.classify(Some(0), "scanner 1.0\nOK\n", ""),
            Some(Verdict::Clean)
        );
        assert_eq!(p.classify(Some(0), "OK\r\n", ""), Some(Verdict::Clean));
        assert_eq!(p.classify(Some(0), "NOT OK\n", ""), None);
        assert_eq!(p.classify(Some(2), "error", ""), Some(Verdict::Error));
        assert_eq!(p.classify(Some(2), "x\nerror\n", ""), None);
    }

    #[test]
    fn rejects_bad_profiles() {
        let bad = EXAMPLE.replace("{port}", "{prot}");
        assert!(ClientProfile::from_toml(&bad, Path::new("a.toml")).is_err());
        let no_clean = EXAMPLE.replace("clean = { exit = 0 }", "");
        assert!(ClientProfile::from_toml(&no_clean, Path::new("a.toml")).is_err());
        let unknown_key = format!("{EXAMPLE}\nfrobnicate = 1\n");
        assert!(ClientProfile::from_toml(&unknown_key, Path::new("a.toml")).is_err());
    }

    /// Hardening item 8: a generated file may not escape the case's scratch directory.
    #[test]
    fn files_paths_outside_the_case_directory_are_config_errors() {
        for bad in [
            "../../x",
            "/tmp/x",
            "a/../../x",
            "{dir}/x",
            "{file}",
            "",
            ".",
        ] {
            let text = format!("{EXAMPLE}\n[[files]]\npath = {bad:?}\ncontent = \"x\"\n");
            let err = ClientProfile::from_toml(&text, Path::new("p/evil.toml"))
                .expect_err(bad)
                .to_string();
            assert!(
                err.contains("p/evil.toml") && err.contains("relative inside the case directory"),
                "{bad}: {err}"
            );
        }
        for good in ["c.conf", "sub/c.conf", "port-{port}.conf"] {
            let text = format!("{EXAMPLE}\n[[files]]\npath = {good:?}\ncontent = \"x\"\n");
            assert!(
                ClientProfile::from_toml(&text, Path::new("a.toml")).is_ok(),
                "{good}"
            );
        }
    }

    /// Hardening item 8: unreadable profiles (a directory, not UTF-8, over 1 MiB) are
    /// configuration errors (exit 2) that name the file.
    #[test]
    fn unreadable_profiles_are_config_errors() {
        let dir = tempfile::tempdir().unwrap();
        let bad_utf8 = dir.path().join("bad.toml");
        std::fs::write(&bad_utf8, b"name = \"\xff\"\n").unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_CONFIG_FILE as usize + 1]).unwrap();
        let as_dir = dir.path().join("d.toml");
        std::fs::create_dir(&as_dir).unwrap();
        for (p, want) in [
            (&bad_utf8, "not UTF-8"),
            (&big, "larger than"),
            (&as_dir, "cannot read"),
        ] {
            let e = ClientProfile::load(p).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            let msg = e.to_string();
            assert!(
                msg.contains(&*p.to_string_lossy()) && msg.contains(want),
                "{msg}"
            );
        }
    }

    /// Issue 14: `{profile_dir}` is the profile file's absolute directory, so a profile in
    /// a client's repository can name its scripts wherever the harness is started;
    /// `{{profile_dir}}` stays literal and braces in the directory stay literal.
    #[test]
    fn profile_dir_placeholder_is_the_profile_files_directory() {
        let text = "protocol = \"clamd\"\ncommand = \"python3 {profile_dir}/scan.py {{profile_dir}} {file}\"\n[env]\nX = \"{profile_dir}\"\n[verdicts]\nclean = { exit = 0 }\n";
        let p = ClientProfile::from_toml(text, Path::new("/srv/my {repo}/c/p.toml")).unwrap();
        assert_eq!(p.argv[1], "/srv/my {{repo}}/c/scan.py");
        assert_eq!(p.argv[2], "{{profile_dir}}");
        assert_eq!(p.env["X"], "/srv/my {{repo}}/c");
        let vars = template::Vars::default();
        assert_eq!(
            template::expand(&p.argv[1], &vars).unwrap(),
            "/srv/my {repo}/c/scan.py"
        );
        let rel = ClientProfile::from_toml(text, Path::new("p.toml")).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(rel.argv[1], format!("{}/scan.py", cwd.display()));
    }

    /// `{profile_dir}` is expanded in `requires` too (a client built beside its profile);
    /// any other placeholder there is a profile error.
    #[test]
    fn requires_expands_profile_dir() {
        let text = "protocol = \"clamd\"\ncommand = \"x {file}\"\nrequires = [\"{profile_dir}/target/debug/scan\", \"python3\"]\n[verdicts]\nclean = { exit = 0 }\n";
        let p = ClientProfile::from_toml(text, Path::new("/srv/my {repo}/p.toml")).unwrap();
        assert_eq!(p.requires, ["/srv/my {repo}/target/debug/scan", "python3"]);
        let bad = text.replace("{profile_dir}/target", "{dir}/target");
        let e = ClientProfile::from_toml(&bad, Path::new("p.toml")).unwrap_err();
        assert!(
            e.to_string().contains("only {profile_dir} is expanded"),
            "{e}"
        );
    }

    #[test]
    fn one_off_uses_clamdscan_convention() {
        let p =
            ClientProfile::one_off("x {file}", Protocol::Clamd, Duration::from_secs(1)).unwrap();
        assert_eq!(p.classify(Some(0), "", ""), Some(Verdict::Clean));
        assert_eq!(p.classify(Some(1), "", ""), Some(Verdict::Infected));
        assert_eq!(p.classify(Some(2), "", ""), Some(Verdict::Error));
        assert_eq!(p.classify(Some(3), "", ""), None);
    }
}
