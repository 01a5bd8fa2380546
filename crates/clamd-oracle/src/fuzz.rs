//! Differential fuzzer (issue 18): random clamd conversations from a grammar (proptest
//! strategies), sent byte for byte to two servers started from the same clamd.conf, compared
//! with the equivalence clamd's own threads force ([`crate::equiv::race_records`]), and shrunk to a minimal
//! conversation on divergence. A divergence prints as a `gen_cases.py` line, so that it
//! becomes a recorded oracle case.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

use crate::case::{Case, Compare, Step, Transport};
use crate::equiv::{race_closing, race_records, torn};
use crate::runner::{run_case, End, Observed, Target, Timing};
use fixtures::notation::{escape, Vars};

/// Pause between two writes the conversation splits (the server has read the first one).
pub const GAP_MS: u64 = 30;
/// How long a conversation waits for the server to close after its last write.
pub const WAIT_MS: u64 = 200;
/// StreamMaxLength of the oracle's base config (`StreamMaxLength 1M`).
pub const STREAM_MAX: usize = 1 << 20;

/// Command framing (CLAMD-FRAME-1..3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fr {
    Z,
    N,
    Legacy,
}

impl Fr {
    fn wrap(self, cmd: &str) -> String {
        match self {
            Fr::Z => format!("z{cmd}\\0"),
            Fr::N => format!("n{cmd}\\n"),
            Fr::Legacy => format!("{cmd}\\n"),
        }
    }
}

/// What an INSTREAM carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Clean bytes of this length.
    Clean(usize),
    /// The 68-byte EICAR file, split into chunks at these sizes (the rest in one chunk).
    Eicar(Vec<usize>),
    /// Marker A inside clean bytes.
    Marker,
    /// `STREAM_MAX + delta` bytes of `A` in chunks of `chunk` (just under or over the limit).
    Big { delta: i32, chunk: usize },
    /// A chunk header announcing 0xFFFFFFFF bytes (CLAMD-INSTREAM-5 at once).
    Huge,
}

/// Path commands on the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathCmd {
    Scan,
    ContScan,
    MultiScan,
    AllMatchScan,
}

/// Corpus paths the path commands use (see `corpus::build`).
pub const PATHS: &[&str] = &[
    "clean.txt",
    "eicar.com",
    "onefound",
    "mixed",
    "cleandir",
    "emptydir",
    "does-not-exist",
    "mixperm",
    "markers_ab.txt",
    "eicar_stored.zip",
    "link_eicar.com",
    "symdir",
    "noaccess",
];

/// Malformed or unknown commands (CLAMD-CMD-9, CLAMD-PARSE-*).
pub const BAD: &[&str] = &["FOO", "ping", "SCAN", "VERSION x", "", "IDSESSION"];

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Ping,
    Version,
    VersionCommands,
    Stats,
    Instream(Payload),
    Path(PathCmd, usize),
    /// FILDES over TCP: no descriptor (CLAMD-FILDES-3).
    Fildes,
    Bad(usize),
    End,
    IdSession,
}

/// A command with its framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub fr: Fr,
    pub cmd: Cmd,
}

/// A whole conversation on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conv {
    /// One command, maybe followed by more bytes in the same write (CLAMD-CONN-3).
    Single { item: Item, more: Option<Item> },
    /// IDSESSION, 1-5 commands, then END (or not), maybe more commands after END.
    Session {
        open: Fr,
        items: Vec<Item>,
        end: Option<Fr>,
        after_end: Option<Item>,
    },
}

/// A conversation and where its bytes are split into separate writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub conv: Conv,
    /// Cut points, in commands (a cut before command k: that command starts a new write).
    pub cuts: Vec<usize>,
}

fn fr_zn() -> impl Strategy<Value = Fr> {
    prop_oneof![Just(Fr::Z), Just(Fr::N)]
}

fn fr_any() -> impl Strategy<Value = Fr> {
    prop_oneof![4 => Just(Fr::Z), 4 => Just(Fr::N), 1 => Just(Fr::Legacy)]
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        3 => (0usize..40).prop_map(Payload::Clean),
        4 => proptest::collection::vec(1usize..68, 0..4).prop_map(Payload::Eicar),
        2 => Just(Payload::Marker),
        1 => (-2i32..=2, prop_oneof![Just(1usize << 16), Just(STREAM_MAX), Just(4096)])
            .prop_map(|(delta, chunk)| Payload::Big { delta, chunk }),
        1 => Just(Payload::Huge),
    ]
}

fn path_cmd() -> impl Strategy<Value = PathCmd> {
    prop_oneof![
        Just(PathCmd::Scan),
        Just(PathCmd::ContScan),
        Just(PathCmd::MultiScan),
        Just(PathCmd::AllMatchScan)
    ]
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        3 => Just(Cmd::Ping),
        2 => Just(Cmd::Version),
        1 => Just(Cmd::VersionCommands),
        1 => Just(Cmd::Stats),
        5 => payload().prop_map(Cmd::Instream),
        4 => (path_cmd(), 0..PATHS.len()).prop_map(|(c, p)| Cmd::Path(c, p)),
        1 => Just(Cmd::Fildes),
        1 => (0..BAD.len()).prop_map(Cmd::Bad),
        1 => Just(Cmd::End),
    ]
}

fn item(fr: impl Strategy<Value = Fr>) -> impl Strategy<Value = Item> {
    (fr, cmd()).prop_map(|(fr, cmd)| Item { fr, cmd })
}

/// The grammar of conversations.
pub fn conversation() -> impl Strategy<Value = Conversation> {
    let single = (
        item(fr_any()).prop_filter("no END alone", |i| i.cmd != Cmd::End),
        proptest::option::weighted(0.2, item(fr_any())),
    )
        .prop_map(|(item, more)| Conv::Single { item, more });
    let session_item = prop_oneof![
        12 => item(fr_zn()),
        1 => item(Just(Fr::Legacy)),
    ];
    let session = (
        prop_oneof![8 => fr_zn(), 1 => Just(Fr::Legacy)],
        proptest::collection::vec(session_item, 1..=5),
        proptest::option::weighted(0.85, fr_zn()),
        proptest::option::weighted(0.15, item(fr_zn())),
    )
        .prop_map(|(open, items, end, after_end)| Conv::Session {
            open,
            items,
            end,
            after_end,
        });
    (
        prop_oneof![1 => single, 3 => session],
        proptest::collection::vec(0usize..8, 0..2),
    )
        .prop_map(|(conv, mut cuts)| {
            cuts.sort_unstable();
            cuts.dedup();
            cuts.retain(|&c| c > 0);
            Conversation { conv, cuts }
        })
}

/// Bytes as all-`\xHH` notation (payload data: EICAR pieces never appear in plain form).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "\\x{b:02x}");
        s
    })
}

fn be32(n: usize) -> String {
    hex(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes())
}

/// One piece of a write: notation text, or a large INSTREAM body.
enum Piece {
    Text(String),
    Chunks { total: usize, chunk: usize },
}

fn render_item(it: &Item, eicar_len: usize, out: &mut Vec<Piece>) {
    let text = |s: String| Piece::Text(s);
    match &it.cmd {
        Cmd::Ping => out.push(text(it.fr.wrap("PING"))),
        Cmd::Version => out.push(text(it.fr.wrap("VERSION"))),
        Cmd::VersionCommands => out.push(text(it.fr.wrap("VERSIONCOMMANDS"))),
        Cmd::Stats => out.push(text(it.fr.wrap("STATS"))),
        Cmd::Fildes => out.push(text(it.fr.wrap("FILDES"))),
        Cmd::End => out.push(text(it.fr.wrap("END"))),
        Cmd::IdSession => out.push(text(it.fr.wrap("IDSESSION"))),
        Cmd::Bad(i) => out.push(text(it.fr.wrap(&escape(BAD[*i].as_bytes())))),
        Cmd::Path(c, p) => {
            let name = match c {
                PathCmd::Scan => "SCAN",
                PathCmd::ContScan => "CONTSCAN",
                PathCmd::MultiScan => "MULTISCAN",
                PathCmd::AllMatchScan => "ALLMATCHSCAN",
            };
            out.push(text(
                it.fr.wrap(&format!("{name} {{corpus}}/{}", PATHS[*p])),
            ));
        }
        Cmd::Instream(p) => {
            out.push(text(it.fr.wrap("INSTREAM")));
            const TERM: &str = "\\0\\0\\0\\0";
            match p {
                Payload::Clean(n) => {
                    let data = vec![b'c'; *n];
                    let body = if data.is_empty() {
                        String::new()
                    } else {
                        format!("{}{}", be32(data.len()), escape(&data))
                    };
                    out.push(text(format!("{body}{TERM}")));
                }
                Payload::Eicar(cuts) => {
                    // chunk sizes: the cuts, then the rest (EICAR in \xHH pieces, or whole)
                    let mut sizes = Vec::new();
                    let mut left = eicar_len;
                    for &c in cuts {
                        if c < left {
                            sizes.push(c);
                            left -= c;
                        }
                    }
                    if left > 0 {
                        sizes.push(left);
                    }
                    if sizes.len() == 1 {
                        out.push(text(format!("{}{{eicar}}{TERM}", be32(eicar_len))));
                    } else {
                        let e = crate::sigs::eicar();
                        let mut s = String::new();
                        let mut off = 0;
                        for n in sizes {
                            s.push_str(&be32(n));
                            s.push_str(&hex(&e[off..off + n]));
                            off += n;
                        }
                        s.push_str(TERM);
                        out.push(text(s));
                    }
                }
                Payload::Marker => {
                    let data = [b"xx ".as_slice(), crate::sigs::MARKER_A, b" yy"].concat();
                    out.push(text(format!("{}{}{TERM}", be32(data.len()), escape(&data))));
                }
                Payload::Big { delta, chunk } => {
                    let total = (STREAM_MAX as i64 + i64::from(*delta)).max(1) as usize;
                    out.push(Piece::Chunks {
                        total,
                        chunk: *chunk,
                    });
                    out.push(text(TERM.to_string()));
                }
                Payload::Huge => out.push(text("\\xff\\xff\\xff\\xff".to_string())),
            }
        }
    }
}

impl Conversation {
    /// The commands in wire order (IDSESSION first for a session).
    fn items(&self) -> Vec<Item> {
        match &self.conv {
            Conv::Single { item, more } => {
                std::iter::once(item.clone()).chain(more.clone()).collect()
            }
            Conv::Session {
                open,
                items,
                end,
                after_end,
            } => {
                let mut v = vec![Item {
                    fr: *open,
                    cmd: Cmd::IdSession,
                }];
                v.extend(items.iter().cloned());
                if let Some(fr) = end {
                    v.push(Item {
                        fr: *fr,
                        cmd: Cmd::End,
                    });
                    v.extend(after_end.clone());
                }
                v
            }
        }
    }

    /// The steps of the case: one write per run of commands between cuts.
    pub fn steps(&self) -> Vec<Step> {
        let eicar_len = crate::sigs::eicar().len();
        let mut steps = Vec::new();
        let mut text = String::new();
        for (k, it) in self.items().iter().enumerate() {
            if self.cuts.contains(&k) && !text.is_empty() {
                steps.push(Step::Send(std::mem::take(&mut text)));
                steps.push(Step::SleepMs(GAP_MS));
            }
            let mut pieces = Vec::new();
            render_item(it, eicar_len, &mut pieces);
            for p in pieces {
                match p {
                    Piece::Text(s) => text.push_str(&s),
                    Piece::Chunks { total, chunk } => {
                        if !text.is_empty() {
                            steps.push(Step::Send(std::mem::take(&mut text)));
                        }
                        steps.push(Step::Chunks {
                            total,
                            chunk,
                            byte: b'A',
                        });
                    }
                }
            }
        }
        if !text.is_empty() {
            steps.push(Step::Send(text));
        }
        steps
    }

    /// Whether a path scan here may take long enough to matter for timing classes.
    pub fn is_session(&self) -> bool {
        matches!(self.conv, Conv::Session { .. })
    }

    /// A session whose END is followed by more bytes while worker jobs (streams, STATS, path
    /// scans) were queued before it: whether a job is still pending when clamd's reading
    /// thread reaches END is clamd's own race (CLAMD-SESSION-7; observed both ways on one
    /// conversation: the job's reply and a close, or `Error processing command` and no close).
    pub fn end_races_workers(&self) -> bool {
        let Conv::Session {
            items,
            end: Some(_),
            after_end: Some(_),
            ..
        } = &self.conv
        else {
            return false;
        };
        items
            .iter()
            .any(|i| matches!(i.cmd, Cmd::Instream(_) | Cmd::Stats | Cmd::Path(..)))
    }

    /// The conversation as an oracle case (TCP, main profile, race-aware comparison).
    pub fn case(&self, name: &str) -> Case {
        Case {
            name: name.to_string(),
            rules: Vec::new(),
            profile: "main".to_string(),
            transport: Transport::Tcp,
            steps: self.steps(),
            compare: Compare::Session,
            wait_ms: WAIT_MS,
            probe_alive: false,
            end_racy: false,
            note: String::new(),
        }
    }

    /// A `gen_cases.py` line for this conversation.
    pub fn gen_cases_line(&self, name: &str, rules: &[&str]) -> String {
        let steps: Vec<String> = self
            .steps()
            .iter()
            .map(|s| match s {
                Step::Send(t) => format!("send('{}')", py_notation(t)),
                Step::SleepMs(ms) => format!("'{{ sleep_ms = {ms} }}'"),
                Step::Chunks { total, chunk, byte } => format!(
                    "'{{ chunks = {{ total = {total}, chunk = {chunk}, byte = {byte} }} }}'"
                ),
                other => format!("# unsupported step {other:?}"),
            })
            .collect();
        let rules: Vec<String> = rules.iter().map(|r| format!("'{r}'")).collect();
        format!(
            "case('{name}', [{}], [{}], compare='session', wait_ms={WAIT_MS})",
            rules.join(", "),
            steps.join(", ")
        )
    }
}

/// Notation inside a Python string literal that gen_cases.py puts into a TOML literal
/// string: backslashes doubled, quotes as `\x27`.
fn py_notation(t: &str) -> String {
    t.replace('\\', "\\\\").replace('\'', "\\\\x27")
}

/// The replies clamd's reading thread writes at once (PING, VERSION, VERSIONCOMMANDS), in
/// order: what an END race cannot change.
fn immediate_replies(reply: &[u8]) -> Vec<Vec<u8>> {
    race_records(reply)
        .into_iter()
        .filter(|r| {
            let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
            let body = r[digits..].strip_prefix(b": ").unwrap_or(&r[digits..]);
            body.starts_with(b"PONG") || body.starts_with(b"ClamAV ")
        })
        .collect()
}

fn same_immediate_replies(a: &[u8], b: &[u8]) -> bool {
    immediate_replies(a) == immediate_replies(b)
}

/// Why two observations of one conversation differ, or `None` if they are equivalent.
pub fn differs(a: &Observed, b: &Observed) -> Option<String> {
    if race_records(&a.reply) != race_records(&b.reply) {
        return Some(format!(
            "reply: {} vs {}",
            escape(&a.reply),
            escape(&b.reply)
        ));
    }
    // After a session's closing error clamd's close races with its workers: FIN, RST, or
    // (observed, with jobs pending) the connection is never closed. Otherwise compare.
    let racy_close = race_closing(&a.reply) || race_closing(&b.reply);
    let closed = |e: End| e != End::Open;
    if !racy_close && closed(a.end) != closed(b.end) {
        return Some(format!("end: {:?} vs {:?}", a.end, b.end));
    }
    let timing = |t: Timing| t == Timing::Delayed;
    if timing(a.timing) != timing(b.timing) {
        return Some(format!("timing: {:?} vs {:?}", a.timing, b.timing));
    }
    None
}

/// Two servers from the same clamd.conf.
pub struct Pair {
    /// The reference (the real clamd).
    pub reference: Target,
    /// The candidate (the fake).
    pub candidate: Target,
    pub vars: Vars,
}

/// What a run of the fuzzer found.
#[derive(Debug, Default)]
pub struct Report {
    pub conversations: usize,
    /// Candidate equivalent to the reference's first run.
    pub agree_first: usize,
    /// Candidate equivalent to one of the reference's runs (first or retries).
    pub agree: usize,
    /// Reference runs compared with a second reference run.
    pub self_runs: usize,
    pub self_agree: usize,
    /// Minimal diverging conversations, with the difference.
    pub divergences: Vec<(Conversation, String)>,
    /// Conversations during (or after) which the reference stopped answering: a crash of the
    /// reference, not a divergence of the candidate.
    pub reference_crashes: Vec<Conversation>,
    pub elapsed: Duration,
}

/// Reference runs tried before a difference counts (clamd's own races).
pub const RETRIES: usize = 3;

fn run(target: &Target, conv: &Conversation, vars: &Vars) -> Option<Observed> {
    match run_case(target, &conv.case("fuzz"), vars) {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::warn!(error = %e, "fuzz conversation did not run");
            eprintln!("fuzz: conversation did not run: {e}");
            None
        }
    }
}

impl Pair {
    /// None if the candidate's outcome is one of the reference's (up to [`RETRIES`] runs),
    /// else the difference with the reference's first run. Also returns the first reference
    /// run and whether the first comparison already agreed.
    fn check(&self, conv: &Conversation) -> (Option<String>, bool, Option<Observed>) {
        let (cand, first) = std::thread::scope(|s| {
            let h = s.spawn(|| run(&self.candidate, conv, &self.vars));
            let r = run(&self.reference, conv, &self.vars);
            (h.join().ok().flatten(), r)
        });
        let (Some(cand), Some(first)) = (cand, first) else {
            return (Some("a run failed to start".into()), false, None);
        };
        let Some(diff) = differs(&first, &cand) else {
            return (None, true, Some(first));
        };
        if conv.end_races_workers() && same_immediate_replies(&first.reply, &cand.reply) {
            return (None, false, Some(first));
        }
        let mut all_torn = torn(&first.reply);
        for _ in 1..RETRIES {
            settle();
            if let Some(r) = run(&self.reference, conv, &self.vars) {
                if differs(&r, &cand).is_none() {
                    return (None, false, Some(first));
                }
                all_torn &= torn(&r.reply);
            }
        }
        if all_torn {
            // every reference run was torn by clamd's own write race: no verdict
            return (None, false, Some(first));
        }
        (Some(diff), false, Some(first))
    }

    /// Shrinks a diverging conversation (bounded): the smallest one proptest's value tree
    /// reaches that still diverges.
    fn shrink(
        &self,
        tree: impl ValueTree<Value = Conversation>,
        diff: String,
    ) -> (Conversation, String) {
        crate::explore::shrink(tree, diff, 48, |cur| {
            settle();
            // a candidate must diverge twice: one flaky run must not steer the shrink
            self.check(cur).0.and_then(|d| {
                settle();
                self.check(cur).0.map(|_| d)
            })
        })
    }

    /// Runs `n` generated conversations from `seed` (shrinking every divergence, at most
    /// `max_divergences`); with `self_check`, every reference run is compared with a second.
    /// When the reference stops answering (clamd 1.4.6 can abort on heap corruption under
    /// generated sessions), the conversation is kept in [`Report::reference_crashes`], not
    /// counted as a divergence, and `revive` starts a new reference; without one the run ends.
    pub fn explore(
        &mut self,
        seed: u64,
        n: usize,
        self_check: bool,
        max_divergences: usize,
        revive: &mut dyn FnMut() -> Option<Target>,
    ) -> Report {
        let t0 = Instant::now();
        let mut runner = crate::explore::runner(seed, Config::default().max_local_rejects);
        let strategy = conversation();
        let mut rep = Report::default();
        for _ in 0..n {
            let Ok(tree) = strategy.new_tree(&mut runner) else {
                continue;
            };
            let conv = tree.current();
            rep.conversations += 1;
            let (diff, first_ok, first) = self.check(&conv);
            if first_ok {
                rep.agree_first += 1;
            }
            if self_check {
                if let Some(first) = &first {
                    settle();
                    if let Some(again) = run(&self.reference, &conv, &self.vars) {
                        rep.self_runs += 1;
                        if differs(first, &again).is_none() {
                            rep.self_agree += 1;
                        }
                    }
                }
            }
            // a divergence must repeat before it counts (a loaded machine can delay one run)
            let diff = diff.and_then(|d| {
                settle();
                self.check(&conv).0.map(|_| d)
            });
            if diff.is_some() && !answers_ping(&self.reference) {
                eprintln!("fuzz: the reference stopped answering during or after: {conv:?}");
                rep.reference_crashes.push(conv);
                match revive() {
                    Some(t) => self.reference = t,
                    None => break,
                }
                continue;
            }
            match diff {
                None => rep.agree += 1,
                Some(d) if rep.divergences.len() < max_divergences => {
                    rep.divergences.push(self.shrink(tree, d));
                }
                Some(_) => {}
            }
            if conv.is_session() {
                settle();
            }
            crate::explore::progress(
                "fuzz",
                "conversations",
                seed,
                (rep.conversations, n),
                rep.divergences.len(),
                t0,
            );
        }
        rep.elapsed = t0.elapsed();
        rep
    }
}

/// Whether `target` answers a PING within two seconds (a crashed clamd refuses the connect).
fn answers_ping(target: &Target) -> bool {
    crate::runner::ping_tcp(target.tcp, Duration::from_secs(2))
}

/// clamd writes the reply of a scan that outlived its closed session to whatever connection
/// reuses the descriptor next (not imitated: MISMATCHES.md); a pause lets such a scan end
/// before the next conversation connects.
fn settle() {
    std::thread::sleep(Duration::from_millis(5));
}

impl Report {
    /// Percentages and counts in one line.
    pub fn summary(&self) -> String {
        let pct = |a: usize, b: usize| {
            if b == 0 {
                100.0
            } else {
                a as f64 * 100.0 / b as f64
            }
        };
        format!(
            "{} conversations in {:.1} s: candidate agrees with the reference on {} ({:.2} %), \
             on the first reference run {} ({:.2} %); reference vs itself {}/{} ({:.2} %); \
             {} divergences; the reference stopped answering {} times",
            self.conversations,
            self.elapsed.as_secs_f64(),
            self.agree,
            pct(self.agree, self.conversations),
            self.agree_first,
            pct(self.agree_first, self.conversations),
            self.self_agree,
            self.self_runs,
            pct(self.self_agree, self.self_runs),
            self.divergences.len(),
            self.reference_crashes.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CLAMD-SESSION-7: with worker jobs queued before an END that is followed by more bytes,
    /// clamd answers either the jobs (and closes) or `Error processing command` (and holds);
    /// only the immediate replies must agree. Seen by the 100k exploration (seeds 1001, 1003).
    #[test]
    fn end_race_with_queued_workers_compares_only_immediate_replies() {
        let item = |fr, cmd| Item { fr, cmd };
        let conv = Conversation {
            conv: Conv::Session {
                open: Fr::Z,
                items: vec![item(Fr::Z, Cmd::Stats), item(Fr::Z, Cmd::Ping)],
                end: Some(Fr::N),
                after_end: Some(item(Fr::Z, Cmd::VersionCommands)),
            },
            cuts: vec![],
        };
        assert!(conv.end_races_workers());
        let jobs_answered = b"1: POOLS: 1\n\nEND\x002: PONG\x00";
        let pending = b"2: PONG\x003: Error processing command. ERROR\n";
        assert!(same_immediate_replies(jobs_answered, pending));
        assert!(!same_immediate_replies(
            jobs_answered,
            b"3: Error processing command. ERROR\n"
        ));
        // without bytes after END there is no race to allow for
        let Conv::Session { items, end, .. } = conv.conv else {
            unreachable!()
        };
        let plain = Conversation {
            conv: Conv::Session {
                open: Fr::Z,
                items,
                end,
                after_end: None,
            },
            cuts: vec![],
        };
        assert!(!plain.end_races_workers());
    }

    /// Conversations render without EICAR in plain form unless it is the whole `{eicar}`.
    #[test]
    fn split_eicar_is_rendered_in_hex() {
        let conv = Conversation {
            conv: Conv::Single {
                item: Item {
                    fr: Fr::Z,
                    cmd: Cmd::Instream(Payload::Eicar(vec![10, 20])),
                },
                more: None,
            },
            cuts: vec![],
        };
        let steps = conv.steps();
        let Step::Send(text) = &steps[0] else {
            panic!("{steps:?}")
        };
        assert!(text.starts_with("zINSTREAM\\0\\x00\\x00\\x00\\x0a\\x"));
        assert!(!text.contains("EICAR"));
    }
}
