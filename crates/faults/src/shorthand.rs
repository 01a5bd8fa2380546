//! The `--fault SPEC` shorthand: `KIND[:ARG][@COND,COND...]`, several rules joined by `;`.
//!
//! Kinds and their argument: `delay:MS` (before the reply), `delay-read:MS`,
//! `delay-bytes:MS`, `slow-read:BYTES/MS`, `split-reply[:byte|random][/MS]`, `drop[:N]`
//! (after N more bytes), `reset`, `never-reply`, `stop-reading[:N][/HOLD_MS]` (after N
//! more bytes; the silent connection held HOLD_MS), `refuse`, `garbage[:TEXT]`,
//! `truncate[:KEEP]`, `truncate-through:TEXT` (the reply through the first TEXT),
//! `infected:NAME`, `clean`, `error:TEXT`, `errno:NAME`, `timeout`,
//! `stream-limit[:faithful|close|reply-drain|reset]`, `eagain`, `efault`, `denied`,
//! `split-every:BYTES[/MS]`, `reply:TEXT` (framed), `reply-raw:TEXT` (escapes such as
//! `\x01` decoded, unframed). A TEXT cannot contain `@` or `;`: use a TOML plan for those.
//!
//! Conditions: `always`, `conn=N`, `command=NAME`, `chunk=N`, `bytes=N`, `request=K`,
//! `p=P`, `every=N`, `verdict`, `replies=N`, and the rule options `times=N`, `seed=S` (the
//! plan's seed), `name=NAME`. Commas separate conditions, `;` separates rules.
//!
//! Legacy aliases of fake-vfindd's first `--fault` counters, translated here:
//! `eagain-every:N` = `eagain@command=SCAN,every=N`; `efault-every:N` =
//! `efault@verdict,every=N`; `drop-connection-after:N-lines` = `drop@replies=N`.
//!
//! Example: `reset@command=INSTREAM,chunk=2,times=1;delay:200@conn=3`.

use crate::fault::{DelayAt, Fault, LimitMode, SplitAt};
use crate::plan::{FaultPlan, Rule, Trigger};
use crate::FaultsError;

// Here rather than in `plan`, so that imports go one way (shorthand -> plan).
impl FaultPlan {
    /// Parses the `--fault SPEC` shorthand: `KIND[:ARG][@TRIGGER]`, several joined by `;`.
    /// See [`crate::shorthand`].
    pub fn from_shorthand(spec: &str) -> Result<Self, FaultsError> {
        parse(spec)
    }
}

/// Parses a shorthand spec.
pub fn parse(spec: &str) -> Result<FaultPlan, FaultsError> {
    let mut plan = FaultPlan::default();
    for part in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (fault, conds) = match part.split_once('@') {
            Some((f, c)) => (f, Some(c)),
            None => (part, None),
        };
        let mut rule = parse_head(fault.trim())?;
        for c in conds
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            apply_cond(&mut plan, &mut rule, c)?;
        }
        plan.rules.push(rule);
    }
    plan.validate()?;
    Ok(plan)
}

fn bad(what: &str) -> FaultsError {
    FaultsError::Invalid(format!(
        "fault spec {what:?}: see --help for KIND[:ARG][@COND,...]"
    ))
}

fn num<T: std::str::FromStr>(s: &str, whole: &str) -> Result<T, FaultsError> {
    s.trim().parse().map_err(|_| bad(whole))
}

/// The part before `@`: a fault, or a legacy alias that also sets the trigger.
fn parse_head(s: &str) -> Result<Rule, FaultsError> {
    let (kind, arg) = match s.split_once(':') {
        Some((k, a)) => (k.trim(), Some(a.trim())),
        None => (s, None),
    };
    let count = |a: Option<&str>| -> Result<u64, FaultsError> {
        a.and_then(|a| a.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(s))
    };
    Ok(match kind {
        "eagain-every" => Rule::new(Trigger::command("SCAN").every(count(arg)?), Fault::Eagain),
        "efault-every" => Rule::new(Trigger::verdict().every(count(arg)?), Fault::Efault),
        "drop-connection-after" => Rule::new(
            Trigger::replies(count(arg.map(|a| a.strip_suffix("-lines").unwrap_or(a)))?),
            Fault::Drop { after_bytes: None },
        ),
        _ => Rule::new(Trigger::default(), parse_fault(s)?),
    })
}

fn parse_fault(s: &str) -> Result<Fault, FaultsError> {
    let (kind, arg) = match s.split_once(':') {
        Some((k, a)) => (k.trim(), Some(a)),
        None => (s, None),
    };
    let need = || arg.ok_or_else(|| bad(s));
    Ok(match kind {
        "delay" => Fault::Delay {
            ms: num(need()?, s)?,
            at: DelayAt::Reply,
        },
        "delay-read" => Fault::Delay {
            ms: num(need()?, s)?,
            at: DelayAt::Read,
        },
        "delay-bytes" => Fault::Delay {
            ms: num(need()?, s)?,
            at: DelayAt::Bytes,
        },
        "slow-read" => {
            let a = arg.unwrap_or("1/10");
            let (b, ms) = a.split_once('/').unwrap_or((a, "0"));
            Fault::SlowRead {
                bytes: num(b, s)?,
                ms: num(ms, s)?,
            }
        }
        "split-reply" => {
            let a = arg.unwrap_or("byte");
            let (how, ms) = a.split_once('/').unwrap_or((a, "0"));
            let at = match how.trim() {
                "byte" | "" => SplitAt::Byte,
                "random" => SplitAt::Random,
                _ => return Err(bad(s)),
            };
            Fault::SplitReply {
                at,
                ms: num(ms, s)?,
            }
        }
        "drop" => Fault::Drop {
            after_bytes: arg.map(|a| num(a, s)).transpose()?,
        },
        "reset" => Fault::Reset,
        "never-reply" => Fault::NeverReply,
        "stop-reading" => {
            let a = arg.unwrap_or("");
            let (after, hold) = a.split_once('/').unwrap_or((a, ""));
            let opt = |v: &str| -> Result<Option<u64>, FaultsError> {
                match v.trim() {
                    "" => Ok(None),
                    v => num(v, s).map(Some),
                }
            };
            Fault::StopReading {
                after_bytes: opt(after)?,
                hold_ms: opt(hold)?,
            }
        }
        "refuse" => Fault::Refuse,
        "garbage" => Fault::Garbage {
            text: arg.map(str::to_string),
            len: 32,
        },
        "truncate" => Fault::Truncate {
            keep: arg.map(|a| num(a, s)).transpose()?,
            through: None,
        },
        "truncate-through" => Fault::Truncate {
            keep: None,
            through: Some(need()?.to_string()),
        },
        "infected" => Fault::Infected {
            name: need()?.to_string(),
        },
        "clean" => Fault::Clean,
        "error" => Fault::Error {
            text: need()?.to_string(),
        },
        "errno" => Fault::Errno {
            name: need()?.to_string(),
            text: None,
        },
        "timeout" => Fault::Timeout,
        "stream-limit" => Fault::StreamLimit {
            mode: match arg.map(str::trim) {
                None | Some("configured") => LimitMode::Configured,
                Some("faithful") => LimitMode::Faithful,
                Some("close") => LimitMode::Close,
                Some("reply-drain") => LimitMode::ReplyDrain,
                Some("reset") => LimitMode::Reset,
                Some(_) => return Err(bad(s)),
            },
        },
        "eagain" => Fault::Eagain,
        "efault" => Fault::Efault,
        "denied" => Fault::Denied,
        "split-every" => {
            let a = need()?;
            let (b, ms) = a.split_once('/').unwrap_or((a, "0"));
            Fault::SplitEvery {
                bytes: num(b, s)?,
                ms: num(ms, s)?,
            }
        }
        "reply" => Fault::Reply {
            text: need()?.to_string(),
            raw: false,
        },
        "reply-raw" => Fault::Reply {
            text: need()?.to_string(),
            raw: true,
        },
        _ => return Err(bad(s)),
    })
}

fn apply_cond(plan: &mut FaultPlan, rule: &mut Rule, c: &str) -> Result<(), FaultsError> {
    match c {
        "always" => return Ok(()),
        "verdict" => {
            rule.when.verdict = true;
            return Ok(());
        }
        _ => {}
    }
    let (k, v) = c.split_once('=').ok_or_else(|| bad(c))?;
    let w = &mut rule.when;
    match k.trim() {
        "conn" | "connection" => w.connection = Some(num(v, c)?),
        "command" | "cmd" => w.command = Some(v.trim().to_string()),
        "chunk" => w.chunk = Some(num(v, c)?),
        "bytes" => w.bytes = Some(num(v, c)?),
        "request" => w.request = Some(num(v, c)?),
        "p" | "probability" => w.probability = Some(num(v, c)?),
        "every" => w.every = Some(num(v, c)?),
        "replies" => w.replies = Some(num(v, c)?),
        "times" => rule.times = Some(num(v, c)?),
        "seed" => plan.seed = Some(num(v, c)?),
        "name" => rule.name = Some(v.trim().to_string()),
        _ => return Err(bad(c)),
    }
    Ok(())
}
