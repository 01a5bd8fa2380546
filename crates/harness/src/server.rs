//! Server suites: raw-byte cases keyed to CLAMD-* / SVSP-* server rules, run against any
//! server (`--server HOST:PORT`, `--socket PATH`) or the embedded fakes.
//!
//! Case files: `conformance/cases/server/*.toml`, `[[case]]` tables with `send` (list of
//! writes, `\0 \n \r \t \\ \xHH` escapes, `{eicar}` for the EICAR bytes), then either
//! `expect` (exact bytes received until the server closes) or `expect_regex` (a regex over
//! the received bytes), and `half_close` to shut down the write side after sending.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{HarnessError, Result};
use crate::input::{eicar, escape, unescape};
use crate::judge::{Failure, Status};
use crate::profile::Protocol;
use crate::report::Row;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerCase {
    pub id: String,
    pub protocol: Protocol,
    pub rules: Vec<String>,
    #[serde(default)]
    pub title: String,
    pub send: Vec<String>,
    pub expect: Option<String>,
    pub expect_regex: Option<String>,
    #[serde(default)]
    pub half_close: bool,
    /// Pause between writes, milliseconds.
    #[serde(default)]
    pub pause_ms: u64,
    /// How long to wait for the server to close, seconds.
    #[serde(default = "three")]
    pub wait_secs: f64,
    /// For SVSP: the case ends when this line has arrived (the server keeps the connection).
    pub until: Option<String>,
}

fn three() -> f64 {
    3.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default, rename = "case")]
    cases: Vec<ServerCase>,
}

/// Loads server cases for one protocol.
pub fn load(dir: &Path, protocol: Protocol) -> Result<Vec<ServerCase>> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => return Err(HarnessError::io(format!("reading {}", dir.display()), e)),
    };
    paths.sort();
    let mut out: Vec<ServerCase> = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p)
            .map_err(|e| HarnessError::io(format!("reading {}", p.display()), e))?;
        let f: CaseFile =
            toml::from_str(&text).map_err(|e| HarnessError::config(&p, e.to_string()))?;
        for c in f.cases {
            if c.expect.is_none() == c.expect_regex.is_none() {
                return Err(HarnessError::config(
                    &p,
                    format!("case {}: give exactly one of expect, expect_regex", c.id),
                ));
            }
            if let Some(re) = &c.expect_regex {
                regex::bytes::Regex::new(re)
                    .map_err(|e| HarnessError::config(&p, format!("case {}: {e}", c.id)))?;
            }
            if out.iter().any(|o| o.id == c.id) {
                return Err(HarnessError::config(
                    &p,
                    format!("duplicate case id {}", c.id),
                ));
            }
            if c.protocol == protocol {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// Where the server under test listens.
#[derive(Debug, Clone)]
pub enum Target {
    Tcp(String),
    Unix(PathBuf),
}

/// Unescapes a `send` string; `{eicar}` is the EICAR file, `{eicar:A:B}` its bytes A..B.
fn payload(s: &str) -> Vec<u8> {
    let raw = unescape(s);
    let e = eicar();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(b"{eicar") {
            if let Some(close) = raw[i..].iter().position(|c| *c == b'}') {
                let inner = String::from_utf8_lossy(&raw[i + 6..i + close]).into_owned();
                let range = match inner.split(':').collect::<Vec<_>>().as_slice() {
                    [""] => Some((0, e.len())),
                    ["", a, b] => a.parse::<usize>().ok().zip(b.parse::<usize>().ok()),
                    _ => None,
                };
                if let Some((a, b)) = range.filter(|(a, b)| a <= b && *b <= e.len()) {
                    out.extend_from_slice(&e[a..b]);
                    i += close + 1;
                    continue;
                }
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    c: &ServerCase,
) -> std::io::Result<Vec<u8>> {
    let mut got = Vec::new();
    let wait = Duration::from_secs_f64(c.wait_secs.clamp(0.1, 600.0));
    let until = c.until.as_ref().map(|u| unescape(u));
    for (i, w) in c.send.iter().enumerate() {
        if i > 0 && c.pause_ms > 0 {
            tokio::time::sleep(Duration::from_millis(c.pause_ms)).await;
        }
        if s.write_all(&payload(w)).await.is_err() {
            break; // the server may close early (size limit); read what it sent
        }
    }
    if c.half_close {
        let _ = s.shutdown().await;
    }
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() > 1 << 20 {
                    break;
                }
                if let Some(u) = &until {
                    if got.windows(u.len()).any(|w| w == u.as_slice()) {
                        break;
                    }
                }
            }
            // a reset after the connect is the server's answer (FIN or RST after a close
            // depends on whether our bytes arrived first): judged, not a harness error
            Ok(Err(_)) => break,
        }
    }
    Ok(got)
}

/// Runs one server case.
pub async fn run_case(c: &ServerCase, target: &Target, suite: &str) -> Row {
    let start = Instant::now();
    let res = match target {
        Target::Tcp(a) => match tokio::net::TcpStream::connect(a).await {
            Ok(s) => exchange(s, c).await,
            Err(e) => Err(e),
        },
        Target::Unix(p) => match tokio::net::UnixStream::connect(p).await {
            Ok(s) => exchange(s, c).await,
            Err(e) => Err(e),
        },
    };
    let mut row = Row {
        suite: suite.to_string(),
        id: c.id.clone(),
        rules: c.rules.clone(),
        title: c.title.clone(),
        status: Status::Pass,
        detail: String::new(),
        failures: Vec::new(),
        warnings: Vec::new(),
        note: None,
        seconds: 0.0,
        transcript: String::new(),
    };
    match res {
        Err(e) => {
            row.status = Status::HarnessError;
            row.note = Some(format!("cannot talk to the server: {e}"));
        }
        Ok(got) => {
            let (ok, expected) = match (&c.expect, &c.expect_regex) {
                (Some(e), _) => (payload(e) == got, format!("exactly {e}")),
                (None, Some(re)) => (
                    regex::bytes::Regex::new(re)
                        .map(|r| r.is_match(&got))
                        .unwrap_or(false),
                    format!("bytes matching /{re}/"),
                ),
                _ => (false, String::new()),
            };
            row.detail = format!("received {}", crate::transcript::shorten(&got, 80));
            if !ok {
                row.status = Status::Fail;
                row.failures.push(Failure {
                    rule: c.rules.first().cloned().unwrap_or_default(),
                    kind: "server-reply".into(),
                    expected,
                    happened: format!("received {} bytes", got.len()),
                    excerpt: escape(&got[..got.len().min(512)]),
                });
                row.transcript = c
                    .send
                    .iter()
                    .map(|s| format!("C: {}\n", crate::transcript::shorten(&payload(s), 96)))
                    .collect::<String>()
                    + &format!("S: {}\n", crate::transcript::shorten(&got, 200));
            }
        }
    }
    row.seconds = start.elapsed().as_secs_f64();
    row
}

/// What a run against a server under test needs (filled in from `--server` / `--socket`,
/// `--protocol`, `--filter` and `--list` by the CLI).
#[derive(Debug, Clone)]
pub struct ServerRun {
    pub protocol: Protocol,
    pub target: Target,
    /// `--filter` terms: a case runs when its id or a rule ID contains one (all without).
    pub filter: Vec<String>,
    /// Print the selected cases instead of running them.
    pub list: bool,
}

/// Whether a server case matches the `--filter` terms (all match when there are none).
fn selected(c: &ServerCase, filter: &[String]) -> bool {
    filter.is_empty()
        || filter
            .iter()
            .any(|f| c.id.contains(f.as_str()) || c.rules.iter().any(|r| r.contains(f.as_str())))
}

/// `--server` / `--socket`.
pub async fn run_target(run: &ServerRun, root: &Path) -> Result<Vec<Row>> {
    let protocol = run.protocol;
    let target = &run.target;
    let dir = root.join("conformance").join("cases").join("server");
    let cases = selected_cases(&dir, protocol, &run.filter)?;
    if run.list {
        for c in &cases {
            println!("{:<40} {}", c.id, c.rules.join(" "));
        }
        return Ok(Vec::new());
    }
    let suite = format!("server:{protocol}");
    let mut rows = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let r = run_case(c, target, &suite).await;
        eprintln!(
            "[{:>3}/{}] {:<13} {:<40} {:.2}s",
            i + 1,
            cases.len(),
            r.status.label(),
            r.id,
            r.seconds
        );
        rows.push(r);
    }
    Ok(rows)
}

/// Server suites against the embedded fakes (fake clamd with StreamMaxLength 1M, fake vfindd
/// with defaults).
pub async fn run_embedded(root: &Path, filter: &[String]) -> Result<Vec<Row>> {
    let dir = root.join("conformance").join("cases").join("server");
    let mut rows = Vec::new();
    let clamd_cases = selected_cases(&dir, Protocol::Clamd, filter)?;
    if !clamd_cases.is_empty() {
        let clamd = fake_clamd::FakeClamd::builder()
            .stream_max_length(1 << 20)
            .allow_shutdown(false)
            .record(false)
            .start()
            .await
            .map_err(|e| HarnessError::Daemon(format!("fake clamd: {e}")))?;
        let addr = clamd
            .addr()
            .ok_or_else(|| HarnessError::Daemon("fake clamd: no TCP address".into()))?;
        run_suite(&clamd_cases, addr, "server:fake-clamd", &mut rows).await;
    }
    let svsp_cases = selected_cases(&dir, Protocol::Svsp, filter)?;
    if !svsp_cases.is_empty() {
        let v = fake_vfindd::FakeVfindd::builder()
            .threads(1)
            .start()
            .await
            .map_err(|e| HarnessError::Daemon(format!("fake vfindd: {e}")))?;
        run_suite(&svsp_cases, v.addr(), "server:fake-vfindd", &mut rows).await;
    }
    Ok(rows)
}

/// The server cases of `protocol` in `dir` that `filter` selects.
fn selected_cases(dir: &Path, protocol: Protocol, filter: &[String]) -> Result<Vec<ServerCase>> {
    Ok(load(dir, protocol)?
        .into_iter()
        .filter(|c| selected(c, filter))
        .collect())
}

/// Runs `cases` against an embedded fake at `addr`, one progress line each.
async fn run_suite(
    cases: &[ServerCase],
    addr: std::net::SocketAddr,
    suite: &str,
    rows: &mut Vec<Row>,
) {
    let target = Target::Tcp(addr.to_string());
    for c in cases {
        let r = run_case(c, &target, suite).await;
        eprintln!(
            "[server] {:<13} {:<44} {:.2}s",
            r.status.label(),
            r.id,
            r.seconds
        );
        rows.push(r);
    }
}
