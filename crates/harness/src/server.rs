//! Server suites: raw-byte cases keyed to CLAMD-* / SVSP-* server rules, run against any
//! server (`--server HOST:PORT`, `--socket PATH`) or the embedded fakes.
//!
//! Case files: `conformance/cases/server/*.toml`, `[[case]]` tables with `steps` (what the
//! client does, in the raw-byte case format of [`fixtures::raw_case`] that the oracle's case
//! table uses too: `{ send = 'zPING\0' }`, `{ sleep_ms = 50 }`, `{ half_close = true }`, ...;
//! bytes in the notation of [`fixtures::notation`]), then either `expect` (exact bytes received
//! until the server closes, in the same notation) or `expect_regex` (a regex over the received
//! bytes); `until` ends the case when those bytes have arrived, `wait_ms` bounds the wait.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{HarnessError, Result};
use fixtures::notation::{expand, Vars};
use fixtures::raw_case::{plan, Action, Op, Plan, Step};

use crate::input::escape;
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
    /// What the client does (no `send_fd`: server suites run over any transport).
    pub steps: Vec<Step>,
    pub expect: Option<String>,
    pub expect_regex: Option<String>,
    /// How long to wait for the server to close after the last step, milliseconds.
    #[serde(default = "default_wait_ms")]
    pub wait_ms: u64,
    /// For SVSP: the case ends when these bytes have arrived (the server keeps the connection).
    pub until: Option<String>,
}

fn default_wait_ms() -> u64 {
    3000
}

/// A case's bytes: what the client writes, the exact reply expected, the end marker.
struct Prepared {
    plan: Plan,
    expect: Option<Vec<u8>>,
    until: Option<Vec<u8>>,
}

impl ServerCase {
    /// Builds the case's bytes (also at load time, so that a bad case is a configuration
    /// error, never a server failure).
    fn prepare(&self) -> std::result::Result<Prepared, String> {
        let vars = Vars::default();
        if self.steps.iter().any(|s| matches!(s, Step::SendFd { .. })) {
            return Err("send_fd is not available in server suites".into());
        }
        let bytes = |text: &Option<String>| {
            text.as_deref()
                .map(|t| expand(t, &vars))
                .transpose()
                .map_err(|e| e.to_string())
        };
        Ok(Prepared {
            plan: plan(&self.steps, &vars).map_err(|e| e.to_string())?,
            expect: bytes(&self.expect)?,
            until: bytes(&self.until)?,
        })
    }
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
            if let Err(e) = c.prepare() {
                return Err(HarnessError::config(&p, format!("case {}: {e}", c.id)));
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

/// Plays the case's writes, then reads until the server closes, `until` has arrived or
/// `wait_ms` has passed (at most 1 MiB is kept).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    c: &ServerCase,
    ops: &[Op<'_>],
    until: Option<&[u8]>,
) -> std::io::Result<Vec<u8>> {
    let mut got = Vec::new();
    let wait = Duration::from_millis(c.wait_ms.clamp(100, 600_000));
    for op in ops {
        let done = match op {
            Op::Write(bytes) => s.write_all(bytes).await,
            Op::Sleep(ms) => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                Ok(())
            }
            Op::HalfClose => s.shutdown().await,
            Op::SendFd(..) => Err(std::io::Error::other("send_fd in a server suite")),
        };
        if done.is_err() {
            break; // the server may close early (size limit); read what it sent
        }
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
                if until.is_some_and(|u| memchr::memmem::find(&got, u).is_some()) {
                    break;
                }
            }
            // a reset after the connect is the server's answer (FIN or RST after a close
            // depends on whether our bytes arrived first): judged, not a harness error
            Ok(Err(_)) => break,
        }
    }
    Ok(got)
}

/// The client's side of a failed case, one line per action.
fn client_lines(actions: &[Action]) -> String {
    actions
        .iter()
        .map(|a| match a {
            Action::Write { bytes, .. } => {
                format!("C: {}\n", crate::transcript::shorten(bytes, 96))
            }
            Action::Sleep(ms) => format!("C: (sleep {ms} ms)\n"),
            Action::HalfClose => "C: (half close)\n".to_string(),
            Action::SendFd { .. } => "C: (send_fd)\n".to_string(),
        })
        .collect()
}

/// Runs one server case.
pub async fn run_case(c: &ServerCase, target: &Target, suite: &str) -> Row {
    let start = Instant::now();
    let mut row = Row::new(
        suite.to_string(),
        c.id.clone(),
        c.rules.clone(),
        c.title.clone(),
    );
    let prepared = match c.prepare() {
        Ok(p) => p,
        Err(e) => {
            row.status = Status::HarnessError;
            row.note = Some(format!("bad case: {e}"));
            return row;
        }
    };
    let (ops, until) = (prepared.plan.ops(), prepared.until.as_deref());
    let res = match target {
        Target::Tcp(a) => match tokio::net::TcpStream::connect(a).await {
            Ok(s) => exchange(s, c, &ops, until).await,
            Err(e) => Err(e),
        },
        Target::Unix(p) => match tokio::net::UnixStream::connect(p).await {
            Ok(s) => exchange(s, c, &ops, until).await,
            Err(e) => Err(e),
        },
    };
    match res {
        Err(e) => {
            row.status = Status::HarnessError;
            row.note = Some(format!("cannot talk to the server: {e}"));
        }
        Ok(got) => {
            let (ok, expected) = match (&prepared.expect, &c.expect_regex) {
                // the notation text, so that `{eicar}` is shown as written, never as bytes
                (Some(e), _) => (
                    *e == got,
                    format!("exactly {}", c.expect.as_deref().unwrap_or_default()),
                ),
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
                row.transcript = client_lines(&prepared.plan.actions)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load_one(case: &str) -> Result<Vec<ServerCase>> {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("[[case]]\nid = \"t\"\nprotocol = \"clamd\"\nrules = []\n{case}\n");
        std::fs::write(dir.path().join("t.toml"), text).unwrap();
        load(dir.path(), Protocol::Clamd)
    }

    /// A bad escape, an unknown placeholder or a step the suites cannot play is a
    /// configuration error at load time, naming the case, the escape and its offset.
    #[test]
    fn bad_cases_fail_at_load() {
        let err = |case: &str| load_one(case).unwrap_err().to_string();
        let e = err("steps = [{ send = 'zPING\\q' }]\nexpect = ''");
        assert!(
            e.contains("case t") && e.contains("`\\q`") && e.contains("byte 5"),
            "{e}"
        );
        let e = err("steps = [{ send = 'zPING\\0' }]\nexpect = '{eicar:0:99}'");
        assert!(e.contains("eicar:0:99"), "{e}");
        let e = err("steps = [{ send_fd = { bytes = 'x', path = '/dev/null' } }]\nexpect = ''");
        assert!(e.contains("send_fd"), "{e}");
        // the old keys are gone: one format
        let e = err("send = ['zPING\\0']\nexpect = ''");
        assert!(e.contains("send"), "{e}");
        assert_eq!(
            load_one("steps = [{ send = '{eicar}' }, { half_close = true }]\nexpect = ''")
                .unwrap()
                .len(),
            1
        );
    }
}
