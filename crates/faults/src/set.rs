//! The runtime handle: the installed plan, rule matching against protocol events, per-rule
//! fire counts, per-connection state and counters. Thread-safe, no async runtime needed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::fault::{DelayAt, Fault, FaultClass, ForcedReply, ReplyText, SplitAt};
use crate::plan::FaultPlan;

/// Connections kept in the per-connection statistics (oldest dropped first).
const CONN_STATS_KEPT: usize = 1000;

/// A protocol point at which the daemon asks which faults fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A connection was accepted (before the greeting / first read).
    Connect,
    /// A complete command was decoded.
    Command {
        /// Its wire name (upper case), e.g. `INSTREAM`, `SCAN`.
        name: &'a str,
        /// Number of the request inside the session (clamd IDSESSION / SVSP connection).
        request: Option<u64>,
        /// Whether the command produces a scan verdict.
        scan: bool,
    },
    /// INSTREAM chunk number `n` (1-based) of the current command was received.
    Chunk {
        /// Chunk number.
        n: u64,
    },
    /// A scan's verdict is about to be written (the whole request was read). Only rules
    /// with `verdict = true` fire here. Immediate faults act in its place; reply faults
    /// (`truncate`, `garbage`, `delay`, `error`, `errno`, `reply`) change it.
    Verdict {
        /// The wire name of the scan command, e.g. `INSTREAM`, `SCAN`.
        name: &'a str,
        /// The request's number inside the session / connection.
        request: Option<u64>,
    },
    /// Reply number `n` (1-based) of the connection was written (SVSP: a line). Only rules
    /// with `replies = n` fire here.
    Reply {
        /// Replies written so far.
        n: u64,
    },
}

struct PlanState {
    plan: FaultPlan,
    seed: u64,
    rng: ChaCha8Rng,
    fired: Vec<u64>,
    /// Per rule: events that met its conditions (for `every`).
    seen: Vec<u64>,
    /// Connection number before the first one this plan counts.
    conn_base: u64,
}

#[derive(Default)]
struct Totals {
    connections: AtomicU64,
    commands: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    faults_fired: AtomicU64,
}

struct Inner {
    state: Mutex<PlanState>,
    next_conn: AtomicU64,
    totals: Totals,
    conns: Mutex<VecDeque<Arc<ConnCounters>>>,
    label: String,
}

/// The thread-safe runtime handle of a daemon's faults (cheap to clone). Replace, clear or
/// read the plan at any time; new events see the new plan at once.
#[derive(Clone)]
pub struct FaultSet {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FaultSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultSet")
            .field("plan", &self.plan())
            .finish()
    }
}

impl Default for FaultSet {
    fn default() -> Self {
        FaultSet::new(FaultPlan::default())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn fresh_seed() -> u64 {
    rand::random::<u64>()
}

impl FaultSet {
    /// A set running `plan`.
    pub fn new(plan: FaultPlan) -> Self {
        Self::with_label(plan, "faults")
    }

    /// A set whose log lines carry `label` (e.g. `fake-clamd`).
    pub fn with_label(plan: FaultPlan, label: &str) -> Self {
        let set = FaultSet {
            inner: Arc::new(Inner {
                state: Mutex::new(PlanState {
                    plan: FaultPlan::default(),
                    seed: 0,
                    rng: ChaCha8Rng::seed_from_u64(0),
                    fired: Vec::new(),
                    seen: Vec::new(),
                    conn_base: 0,
                }),
                next_conn: AtomicU64::new(1),
                totals: Totals::default(),
                conns: Mutex::new(VecDeque::new()),
                label: label.to_string(),
            }),
        };
        set.replace(plan);
        set
    }

    /// The installed plan, with its effective seed filled in.
    pub fn plan(&self) -> FaultPlan {
        let st = lock(&self.inner.state);
        let mut p = st.plan.clone();
        p.seed = Some(st.seed);
        p
    }

    /// The effective RNG seed (printed at install; replay with `seed = <it>`).
    pub fn seed(&self) -> u64 {
        lock(&self.inner.state).seed
    }

    /// Installs `plan` (fire counts restart; `connection = N` counts from the next
    /// connection). Returns the effective seed.
    pub fn replace(&self, plan: FaultPlan) -> u64 {
        let seed = plan.seed.unwrap_or_else(fresh_seed);
        let base = self.inner.next_conn.load(Ordering::SeqCst) - 1;
        let mut st = lock(&self.inner.state);
        st.fired = vec![0; plan.rules.len()];
        st.seen = vec![0; plan.rules.len()];
        st.rng = ChaCha8Rng::seed_from_u64(seed);
        st.seed = seed;
        st.conn_base = base;
        if !plan.rules.is_empty() {
            tracing::info!(
                target: "faults",
                label = %self.inner.label,
                seed,
                rules = plan.rules.len(),
                "fault plan installed (seed {seed})"
            );
        }
        st.plan = plan;
        seed
    }

    /// Removes every rule (the seed stays).
    pub fn clear(&self) {
        let seed = self.seed();
        self.replace(FaultPlan {
            seed: Some(seed),
            rules: Vec::new(),
        });
    }

    /// Clears the rules and zeroes all statistics and connection numbering.
    pub fn reset(&self) {
        self.inner.next_conn.store(1, Ordering::SeqCst);
        let t = &self.inner.totals;
        for c in [
            &t.connections,
            &t.commands,
            &t.bytes_in,
            &t.bytes_out,
            &t.faults_fired,
        ] {
            c.store(0, Ordering::SeqCst);
        }
        lock(&self.inner.conns).clear();
        self.replace(FaultPlan::default());
    }

    /// Registers a new connection and returns its fault state. Check
    /// [`ConnFaults::event`]`(Event::Connect)` next.
    pub fn connect(&self) -> ConnFaults {
        let conn = self.inner.next_conn.fetch_add(1, Ordering::SeqCst);
        self.inner
            .totals
            .connections
            .fetch_add(1, Ordering::Relaxed);
        let counters = Arc::new(ConnCounters {
            conn,
            open: AtomicBool::new(true),
            ..ConnCounters::default()
        });
        {
            let mut q = lock(&self.inner.conns);
            if q.len() >= CONN_STATS_KEPT {
                q.pop_front();
            }
            q.push_back(Arc::clone(&counters));
        }
        let seed = self.seed();
        ConnFaults {
            set: self.clone(),
            counters,
            state: Mutex::new(ConnState::new(ChaCha8Rng::seed_from_u64(
                seed ^ conn.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ))),
        }
    }

    /// Statistics snapshot.
    pub fn stats(&self) -> Stats {
        let st = lock(&self.inner.state);
        let rules = st
            .plan
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| RuleStats {
                name: rule_name(i, r),
                fired: st.fired.get(i).copied().unwrap_or(0),
            })
            .collect();
        let seed = st.seed;
        drop(st);
        let t = &self.inner.totals;
        Stats {
            seed,
            connections: t.connections.load(Ordering::Relaxed),
            commands: t.commands.load(Ordering::Relaxed),
            bytes_in: t.bytes_in.load(Ordering::Relaxed),
            bytes_out: t.bytes_out.load(Ordering::Relaxed),
            faults_fired: t.faults_fired.load(Ordering::Relaxed),
            rules,
            per_connection: lock(&self.inner.conns)
                .iter()
                .map(|c| c.snapshot())
                .collect(),
        }
    }

    /// Rules matching `ev` on connection `conn` (counts them as fired).
    fn fire(&self, conn: &ConnFaults, cs: &mut ConnState, ev: Event<'_>) -> Vec<(usize, Fault)> {
        let mut st = lock(&self.inner.state);
        let mut out = Vec::new();
        let PlanState {
            plan,
            rng,
            fired,
            seen,
            conn_base,
            ..
        } = &mut *st;
        let conn_no = conn.counters.conn.saturating_sub(*conn_base);
        let bytes_in = conn.counters.bytes_in.load(Ordering::Relaxed);
        for (i, rule) in plan.rules.iter().enumerate() {
            let w = &rule.when;
            let f = &rule.fault;
            // the verdict and written replies are points of their own: only rules that name
            // them fire there, and only there
            let own_point = match ev {
                Event::Verdict { .. } => w.verdict,
                Event::Reply { n } => w.replies == Some(n),
                _ => !w.verdict && w.replies.is_none(),
            };
            if !own_point {
                continue;
            }
            // where this fault can act
            let at_point = match (ev, f.class()) {
                (Event::Connect, FaultClass::Connect | FaultClass::Shaping) => true,
                (Event::Connect, _) | (_, FaultClass::Connect) => false,
                (Event::Command { scan, .. }, _) if f.scan_only() => scan,
                (Event::Chunk { .. }, _) if f.scan_only() => cs.scan,
                (Event::Reply { .. }, _) if f.scan_only() => false,
                _ => true,
            };
            // inside a command, only rules about chunks or bytes fire again (an `always`
            // or `command` rule already had its chance at the command itself)
            let mid_command =
                matches!(ev, Event::Chunk { .. }) && w.chunk.is_none() && w.bytes.is_none();
            if !at_point || mid_command {
                continue;
            }
            // shaping faults and byte triggers act once per connection
            let once = f.class() == FaultClass::Shaping || w.bytes.is_some();
            if once && cs.once.contains(&i) {
                continue;
            }
            if w.connection.is_some_and(|n| n != conn_no) {
                continue;
            }
            let command = match ev {
                Event::Command { name, .. } | Event::Verdict { name, .. } => Some(name),
                Event::Chunk { .. } | Event::Reply { .. } => cs.command.as_deref(),
                Event::Connect => None,
            };
            if let Some(want) = &w.command {
                if !command.is_some_and(|c| c.eq_ignore_ascii_case(want)) {
                    continue;
                }
            }
            if let Some(n) = w.chunk {
                if ev != (Event::Chunk { n }) {
                    continue;
                }
            }
            if w.bytes.is_some_and(|n| bytes_in < n) {
                continue;
            }
            if let Some(k) = w.request {
                let req = match ev {
                    Event::Command { request, .. } | Event::Verdict { request, .. } => request,
                    Event::Chunk { .. } | Event::Reply { .. } => cs.request,
                    Event::Connect => None,
                };
                if req != Some(k) {
                    continue;
                }
            }
            if let Some(n) = w.every {
                let s = seen.get_mut(i).map_or(1, |c| {
                    *c += 1;
                    *c
                });
                if s % n != 0 {
                    continue;
                }
            }
            if rule
                .times
                .is_some_and(|t| fired.get(i).copied().unwrap_or(0) >= t)
            {
                continue;
            }
            if let Some(p) = w.probability {
                // rolled only when every other condition holds, so replays see the same
                // sequence for the same sequence of events
                if rng.gen::<f64>() >= p {
                    continue;
                }
            }
            if let Some(c) = fired.get_mut(i) {
                *c += 1;
            }
            if once {
                cs.once.push(i);
            }
            tracing::info!(
                target: "faults",
                label = %self.inner.label,
                conn = conn.counters.conn,
                rule = %rule_name(i, rule),
                kind = f.kind(),
                "fault fired"
            );
            out.push((i, f.clone()));
        }
        drop(st);
        if !out.is_empty() {
            add_both(
                &self.inner.totals.faults_fired,
                &conn.counters.faults_fired,
                out.len() as u64,
            );
        }
        out
    }
}

/// Adds `n` to a count of the set's totals and to the same count of one connection; returns
/// the connection's new count.
fn add_both(total: &AtomicU64, conn: &AtomicU64, n: u64) -> u64 {
    total.fetch_add(n, Ordering::Relaxed);
    conn.fetch_add(n, Ordering::Relaxed) + n
}

/// The hold of a `stop-reading` fault (`hold_ms`, else [`crate::fault::STOP_READING_HOLD_MS`]).
/// How many bytes of `reply` run through the first `text` (`None`: `text` is empty or absent).
fn cut_through(reply: &[u8], text: &[u8]) -> Option<usize> {
    if text.is_empty() {
        return None;
    }
    reply
        .windows(text.len())
        .position(|w| w == text)
        .map(|at| at + text.len())
}

fn stop_reading_hold(hold_ms: Option<u64>) -> Duration {
    Duration::from_millis(hold_ms.unwrap_or(crate::fault::STOP_READING_HOLD_MS))
}

fn rule_name(i: usize, r: &crate::plan::Rule) -> String {
    r.name
        .clone()
        .unwrap_or_else(|| format!("rule{}-{}", i + 1, r.fault.kind()))
}

/// Counters of one connection.
#[derive(Default)]
struct ConnCounters {
    conn: u64,
    open: AtomicBool,
    commands: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    faults_fired: AtomicU64,
}

impl ConnCounters {
    fn snapshot(&self) -> ConnStats {
        ConnStats {
            conn: self.conn,
            open: self.open.load(Ordering::Relaxed),
            commands: self.commands.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            faults_fired: self.faults_fired.load(Ordering::Relaxed),
        }
    }
}

/// How `split-reply` / `split-every` cut replies.
#[derive(Clone, Copy)]
enum Split {
    Byte,
    Random,
    Every(usize),
}

struct ConnState {
    rng: ChaCha8Rng,
    once: Vec<usize>,
    command: Option<String>,
    request: Option<u64>,
    scan: bool,
    slow_read: Option<(usize, Duration)>,
    read_delay: Duration,
    byte_delay: Option<Duration>,
    split: Option<(Split, Duration)>,
    drop_at: Option<u64>,
    /// Armed `stop-reading` with `after_bytes`: stop once `bytes_in` reaches this, then hold.
    stall_at: Option<(u64, Duration)>,
    pending: Vec<Fault>,
}

impl ConnState {
    fn new(rng: ChaCha8Rng) -> Self {
        ConnState {
            rng,
            once: Vec::new(),
            command: None,
            request: None,
            scan: false,
            slow_read: None,
            read_delay: Duration::ZERO,
            byte_delay: None,
            split: None,
            drop_at: None,
            stall_at: None,
            pending: Vec::new(),
        }
    }
}

/// What the daemon must do right now after an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Close (FIN) without a reply.
    Drop,
    /// Abort with RST without a reply.
    Reset,
    /// Never answer; keep reading (bounded) until the client goes away.
    NeverReply,
    /// Read nothing, write nothing, keep the socket open for this long (or until the daemon
    /// stops), then reset it (`stop-reading`).
    StopReading(Duration),
    /// Refuse: reset before any byte.
    Refuse,
    /// SVSP: `DENIED` greeting, then close.
    Denied,
    /// clamd: `COMMAND READ TIMED OUT`, close.
    Timeout,
    /// `INSTREAM size limit exceeded. ERROR` with this follow-up.
    StreamLimit(crate::fault::LimitMode),
    /// Answer this request with an errno / error reply (`eagain`, `efault`, `errno`,
    /// `error` fired as immediate at a chunk).
    Reply(ForcedReply),
}

/// One write of a reply: wait `delay`, then write `bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Pause before this piece.
    pub delay: Duration,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// How to write one reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WritePlan {
    /// The pieces, in order.
    pub pieces: Vec<Piece>,
    /// Close the connection after the last piece (garbage, truncate).
    pub close_after: bool,
}

/// How to read next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadPlan {
    /// Read at most this many bytes (None: as the daemon likes).
    pub max: Option<usize>,
    /// Sleep this long before reading.
    pub delay: Duration,
}

/// The fault state of one connection. Thread-safe; share it between a connection's reader
/// and writer with an `Arc`.
pub struct ConnFaults {
    set: FaultSet,
    counters: Arc<ConnCounters>,
    state: Mutex<ConnState>,
}

impl Drop for ConnFaults {
    fn drop(&mut self) {
        self.counters.open.store(false, Ordering::Relaxed);
    }
}

impl ConnFaults {
    /// This connection's number (1-based since start or reset).
    pub fn conn(&self) -> u64 {
        self.counters.conn
    }

    /// Reports an event; returns the action to take now, if any. Shaping faults are
    /// remembered for [`Self::read_plan`] / [`Self::write_plan`], reply faults for the next
    /// reply ([`Self::take_forced`], [`Self::write_plan`]).
    pub fn event(&self, ev: Event<'_>) -> Option<Action> {
        let mut cs = lock(&self.state);
        if let Event::Command {
            name,
            request,
            scan,
        } = ev
        {
            add_both(&self.set.inner.totals.commands, &self.counters.commands, 1);
            cs.command = Some(name.to_string());
            cs.request = request;
            cs.scan = scan;
        }
        let fired = self.set.fire(self, &mut cs, ev);
        let mut action = None;
        for (_, f) in fired {
            let now = match f {
                Fault::Refuse => Some(Action::Refuse),
                Fault::Denied => Some(Action::Denied),
                Fault::Drop { after_bytes: None } => Some(Action::Drop),
                Fault::Drop {
                    after_bytes: Some(n),
                } => {
                    let at = self.counters.bytes_in.load(Ordering::Relaxed) + n;
                    cs.drop_at = Some(cs.drop_at.map_or(at, |d| d.min(at)));
                    None
                }
                Fault::Reset => Some(Action::Reset),
                Fault::NeverReply => Some(Action::NeverReply),
                Fault::StopReading {
                    after_bytes,
                    hold_ms,
                } => {
                    let hold = stop_reading_hold(hold_ms);
                    match after_bytes {
                        None | Some(0) => Some(Action::StopReading(hold)),
                        Some(n) => {
                            let at = self.counters.bytes_in.load(Ordering::Relaxed) + n;
                            if cs.stall_at.is_none_or(|(d, _)| at < d) {
                                cs.stall_at = Some((at, hold));
                            }
                            None
                        }
                    }
                }
                Fault::Timeout => Some(Action::Timeout),
                Fault::StreamLimit { mode } => Some(Action::StreamLimit(mode)),
                Fault::Eagain => Some(Action::Reply(ForcedReply::Errno {
                    name: "EAGAIN".into(),
                    text: None,
                })),
                Fault::Efault => Some(Action::Reply(ForcedReply::Errno {
                    name: "EFAULT".into(),
                    text: None,
                })),
                Fault::SlowRead { bytes, ms } => {
                    cs.slow_read = Some((bytes.max(1), Duration::from_millis(ms)));
                    None
                }
                Fault::Delay { ms, at } => {
                    let d = Duration::from_millis(ms);
                    match at {
                        DelayAt::Read => cs.read_delay = d,
                        DelayAt::Bytes => cs.byte_delay = Some(d),
                        DelayAt::Reply => cs.pending.push(f),
                    }
                    None
                }
                Fault::SplitReply { at, ms } => {
                    let how = match at {
                        SplitAt::Byte => Split::Byte,
                        SplitAt::Random => Split::Random,
                    };
                    cs.split = Some((how, Duration::from_millis(ms)));
                    None
                }
                Fault::SplitEvery { bytes, ms } => {
                    cs.split = Some((Split::Every(bytes.max(1)), Duration::from_millis(ms)));
                    None
                }
                // the rest are the reply faults (`Fault::class`): they wait for the reply
                // being composed
                _ => {
                    debug_assert_eq!(f.class(), FaultClass::Reply, "{f:?}");
                    cs.pending.push(f);
                    None
                }
            };
            if action.is_none() {
                action = now;
            }
        }
        action
    }

    /// Takes a pending forced verdict / error reply (`infected`, `clean`, `error`, `errno`)
    /// for the reply being composed.
    pub fn take_forced(&self) -> Option<ForcedReply> {
        let mut cs = lock(&self.state);
        let i = cs.pending.iter().position(|f| {
            matches!(
                f,
                Fault::Infected { .. } | Fault::Clean | Fault::Error { .. } | Fault::Errno { .. }
            )
        })?;
        Some(match cs.pending.remove(i) {
            Fault::Infected { name } => ForcedReply::Infected(name),
            Fault::Clean => ForcedReply::Clean,
            Fault::Error { text } => ForcedReply::Error(text),
            Fault::Errno { name, text } => ForcedReply::Errno { name, text },
            _ => return None,
        })
    }

    /// Takes a pending `reply` fault: the text to write in the place of the verdict (or of
    /// the answer to a command without one), framed by the daemon unless `raw`.
    pub fn take_reply(&self) -> Option<ReplyText> {
        let mut cs = lock(&self.state);
        let i = cs
            .pending
            .iter()
            .position(|f| matches!(f, Fault::Reply { .. }))?;
        match cs.pending.remove(i) {
            Fault::Reply { text, raw } => Some(ReplyText { text, raw }),
            _ => None,
        }
    }

    /// Counts `n` received bytes. Returns [`Action::Drop`] when an armed `drop
    /// { after_bytes }` is reached (the daemon closes without processing them), else
    /// [`Action::StopReading`] when an armed `stop-reading { after_bytes }` is (the daemon
    /// reads no more; [`Self::read_plan`] keeps reads from going past that byte).
    pub fn bytes_in(&self, n: usize) -> Option<Action> {
        let total = add_both(
            &self.set.inner.totals.bytes_in,
            &self.counters.bytes_in,
            n as u64,
        );
        let cs = lock(&self.state);
        if cs.drop_at.is_some_and(|at| total >= at) {
            return Some(Action::Drop);
        }
        cs.stall_at
            .filter(|(at, _)| total >= *at)
            .map(|(_, hold)| Action::StopReading(hold))
    }

    /// Counts `n` sent bytes.
    pub fn bytes_out(&self, n: usize) {
        add_both(
            &self.set.inner.totals.bytes_out,
            &self.counters.bytes_out,
            n as u64,
        );
    }

    /// How to do the next read.
    pub fn read_plan(&self) -> ReadPlan {
        let cs = lock(&self.state);
        let (mut max, slow) = match cs.slow_read {
            Some((b, d)) => (Some(b), d),
            None => (None, Duration::ZERO),
        };
        if let Some((at, _)) = cs.stall_at {
            // an armed stop-reading: read no byte past the point where reading stops
            let left = at.saturating_sub(self.counters.bytes_in.load(Ordering::Relaxed));
            let left = usize::try_from(left).unwrap_or(usize::MAX).max(1);
            max = Some(max.map_or(left, |m| m.min(left)));
        }
        ReadPlan {
            max,
            delay: slow + cs.read_delay,
        }
    }

    /// Whether the installed plan has no rule (then no event can fire a fault: a daemon
    /// may batch its writes without asking after each one).
    pub fn plan_is_empty(&self) -> bool {
        lock(&self.set.inner.state).plan.rules.is_empty()
    }

    /// Whether any write shaping or pending reply fault is active (fast path check).
    pub fn shapes_writes(&self) -> bool {
        let cs = lock(&self.state);
        cs.split.is_some()
            || cs.byte_delay.is_some()
            || cs.pending.iter().any(|f| {
                matches!(
                    f,
                    Fault::Garbage { .. } | Fault::Truncate { .. } | Fault::Delay { .. }
                )
            })
    }

    /// How to write `reply`: consumes a pending `delay` (reply), `garbage` or `truncate`,
    /// then cuts as `split-reply` / `delay` (bytes) say.
    pub fn write_plan(&self, reply: &[u8]) -> WritePlan {
        let mut cs = lock(&self.state);
        let mut first_delay = Duration::ZERO;
        let mut bytes = reply.to_vec();
        let mut close_after = false;
        let mut keep = Vec::new();
        for f in std::mem::take(&mut cs.pending) {
            match f {
                Fault::Delay { ms, .. } => first_delay += Duration::from_millis(ms),
                Fault::Garbage { text, len } => {
                    bytes = match text {
                        Some(t) => t.into_bytes(),
                        None => (0..len.clamp(1, 1 << 20))
                            .map(|_| cs.rng.gen_range(0x21u8..0x7f))
                            .collect(),
                    };
                    close_after = true;
                }
                Fault::Truncate { keep: k, through } => {
                    let k = through
                        .and_then(|t| cut_through(&bytes, t.as_bytes()))
                        .or(k)
                        .unwrap_or(bytes.len() / 2)
                        .min(bytes.len());
                    bytes.truncate(k);
                    close_after = true;
                }
                other => keep.push(other),
            }
        }
        cs.pending = keep;
        let mut pieces = Vec::new();
        let gap = cs.byte_delay.or(cs.split.map(|(_, d)| d));
        match (cs.split, cs.byte_delay) {
            (None, None) => pieces.push(Piece {
                delay: first_delay,
                bytes,
            }),
            (split, _) => {
                let how = split.map(|(h, _)| h);
                let mut off = 0;
                while off < bytes.len() {
                    let n = match how {
                        Some(Split::Random) => cs.rng.gen_range(1..=8usize),
                        Some(Split::Every(n)) => n,
                        Some(Split::Byte) | None => 1,
                    };
                    let end = (off + n).min(bytes.len());
                    pieces.push(Piece {
                        delay: if off == 0 {
                            first_delay
                        } else {
                            gap.unwrap_or_default()
                        },
                        bytes: bytes[off..end].to_vec(),
                    });
                    off = end;
                }
            }
        }
        WritePlan {
            pieces,
            close_after,
        }
    }
}

/// Statistics (`GET /stats`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// The effective RNG seed.
    pub seed: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Commands decoded.
    pub commands: u64,
    /// Bytes received from clients.
    pub bytes_in: u64,
    /// Bytes sent to clients.
    pub bytes_out: u64,
    /// Faults fired.
    pub faults_fired: u64,
    /// Per rule of the installed plan.
    pub rules: Vec<RuleStats>,
    /// The last 1000 connections.
    pub per_connection: Vec<ConnStats>,
}

/// Fire count of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleStats {
    /// Rule name (given, else `rule<N>-<kind>`).
    pub name: String,
    /// Times fired since the plan was installed.
    pub fired: u64,
}

/// Counters of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnStats {
    /// Connection number.
    pub conn: u64,
    /// Still open.
    pub open: bool,
    /// Commands decoded.
    pub commands: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Faults fired on it.
    pub faults_fired: u64,
}
