//! Shared by the argv property tests of every binary (`tests/argv.rs` in harness, fave,
//! fake-clamd, fake-vfindd, included with `#[path]`): turns generated raw items into an argv
//! mixing arbitrary bytes (non-UTF-8 too) with the binary's own flags, runs the binary with a
//! time bound (killing it, and its process group, by id when it keeps running, e.g. a
//! daemon that started) and checks that it did not panic nor die of a signal.
//! Std only: fake-clamd has no proptest, so its test drives the same items from a seeded
//! generator.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a flag takes its value.
#[derive(Clone, Copy)]
pub enum Value {
    /// A switch (no value).
    None,
    /// One of these, or arbitrary bytes.
    Any(&'static [&'static str]),
    /// Only one of these, or a value that cannot be valid (not UTF-8): for flags where an
    /// arbitrary value could reach the network (addresses, ports) or run a program.
    Safe(&'static [&'static str]),
}

/// A binary's flag (`--name`), or with an empty name: a positional argument.
pub struct Flag {
    pub name: &'static str,
    pub value: Value,
}

pub const fn flag(name: &'static str, value: Value) -> Flag {
    Flag { name, value }
}

/// Case count: PROPTEST_CASES, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One generated item: a selector (bits 0-2: free token or flag, 3-7: which flag, 8-9:
/// arbitrary or listed value, 10: `--name=value` form, 12+: which listed value) and bytes. Shrinks well under proptest (fewer items,
/// smaller selectors, fewer bytes).
pub type Item = (u32, Vec<u8>);

/// Arbitrary bytes as an argument (NUL cannot be in an argv string: it is dropped).
fn os(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.iter().copied().filter(|&b| b != 0).collect())
}

/// Builds the argv: an item is a free token of arbitrary bytes (1 in 8), or a flag of
/// `vocab` with a value (`--name value` or `--name=value`). `extra` values (paths made at
/// run time, e.g. a temp file) join every `Any`/`Safe` pick list.
pub fn build_argv(vocab: &[Flag], items: &[Item], extra: &[OsString]) -> Vec<OsString> {
    let mut argv = Vec::new();
    for (sel, bytes) in items {
        let sel = *sel;
        if sel % 8 == 0 || vocab.is_empty() {
            argv.push(os(bytes));
            continue;
        }
        let f = &vocab[(sel / 8) as usize % vocab.len()];
        let pick = |list: &[&str]| -> OsString {
            let n = list.len() + extra.len();
            let i = (sel >> 12) as usize % n.max(1);
            match (list.get(i), extra.get(i.wrapping_sub(list.len()))) {
                (Some(v), _) => OsString::from(*v),
                (None, Some(e)) => e.clone(),
                (None, None) => OsString::new(),
            }
        };
        let value: Option<OsString> = match f.value {
            Value::None => None,
            Value::Any(_) if (sel >> 8) % 4 == 0 => Some(os(bytes)),
            Value::Any(list) => Some(pick(list)),
            Value::Safe(_) if (sel >> 8) % 4 == 0 => {
                let mut v = vec![0xff];
                v.extend_from_slice(bytes);
                Some(os(&v))
            }
            Value::Safe(list) => Some(pick(list)),
        };
        match (f.name.is_empty(), value) {
            (true, Some(v)) => argv.push(v),
            (true, None) => {}
            (false, None) => argv.push(OsString::from(format!("--{}", f.name))),
            (false, Some(v)) if (sel >> 10) % 2 == 0 => {
                argv.push(OsString::from(format!("--{}", f.name)));
                argv.push(v);
            }
            (false, Some(v)) => {
                let mut s = OsString::from(format!("--{}=", f.name));
                s.push(v);
                argv.push(s);
            }
        }
    }
    argv
}

/// Appends `--name value` unless some argument already spells `--name` (any case, with or
/// without `=`): e.g. an ephemeral port so that a daemon never takes a fixed one.
pub fn ensure(argv: &mut Vec<OsString>, name: &str, value: &str) {
    let flag = format!("--{name}").to_ascii_lowercase();
    let present = argv.iter().any(|a| {
        let a = a.as_encoded_bytes().to_ascii_lowercase();
        a == flag.as_bytes() || a.starts_with(format!("{flag}=").as_bytes())
    });
    if !present {
        argv.push(OsString::from(format!("--{name}")));
        argv.push(OsString::from(value));
    }
}

/// How one run ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Still running at the time limit (a daemon that started): killed by us.
    pub killed: bool,
    pub stderr: String,
}

/// Most stderr kept per run.
const STDERR_CAP: usize = 64 * 1024;

/// Runs `exe argv` in `cwd` with `env` set (stdin empty, stdout discarded) in its own
/// process group; after `limit` the group is killed by its id (the child's pid).
pub fn run(
    exe: &Path,
    argv: &[OsString],
    env: &[(&str, &OsStr)],
    cwd: &Path,
    limit: Duration,
) -> Run {
    let mut cmd = Command::new(exe);
    cmd.args(argv)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "1")
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the binary under test");
    let (tx, rx) = std::sync::mpsc::channel();
    let mut err = child.stderr.take().expect("stderr piped");
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = STDERR_CAP.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        let _ = tx.send(kept);
    });
    let start = Instant::now();
    let mut killed = false;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for the child") {
            break st;
        }
        if start.elapsed() >= limit {
            killed = true;
            // The child is not reaped yet, so its pid is still its process group's id:
            // this reaches exactly the processes it started (e.g. a client the harness ran).
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            break child.wait().expect("wait for the killed child");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = rx
        .recv_timeout(Duration::from_secs(3))
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default();
    if std::env::var_os("AVC_ARGV_DEBUG").is_some() {
        let first = stderr.lines().next().unwrap_or("");
        eprintln!(
            "argv-run: code={:?} killed={killed} {argv:?} {first}",
            status.code()
        );
    }
    Run {
        code: status.code(),
        signal: status.signal(),
        killed,
        stderr,
    }
}

/// The property: no panic (exit 101 or "panicked at" on stderr, in any thread) and no death
/// by a signal other than our own kill at the time limit. `Err` describes the failure.
pub fn check(argv: &[OsString], r: &Run) -> Result<(), String> {
    let shown: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    let what = format!("argv [{}]", shown.join(", "));
    if r.stderr.contains("panicked at") {
        return Err(format!("{what}: panicked:\n{}", r.stderr));
    }
    if r.code == Some(101) {
        return Err(format!("{what}: exit 101:\n{}", r.stderr));
    }
    if !r.killed {
        if let Some(sig) = r.signal {
            return Err(format!("{what}: died of signal {sig}:\n{}", r.stderr));
        }
    }
    Ok(())
}

/// A tiny deterministic generator (splitmix64) for the crates without proptest.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Up to `max_items` items of up to `max_bytes` arbitrary bytes each.
    pub fn items(&mut self, max_items: usize, max_bytes: usize) -> Vec<Item> {
        let n = (self.next() as usize) % (max_items + 1);
        (0..n)
            .map(|_| {
                let sel = self.next() as u32;
                let len = (self.next() as usize) % (max_bytes + 1);
                (sel, (0..len).map(|_| self.next() as u8).collect())
            })
            .collect()
    }
}
