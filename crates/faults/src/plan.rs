//! Triggers and plans: which fault, when, how often. Pure data (serde: TOML and JSON).

use serde::{Deserialize, Serialize};

use crate::fault::Fault;
use crate::FaultsError;

/// When a rule fires. Every given condition must hold; none given = always (at the first
/// protocol point where the fault can act).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// The Nth connection (1-based, counted since the plan was installed or reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<u64>,
    /// On this command (case-insensitive): clamd `INSTREAM`, `PING`, `SCAN`, ...; SVSP
    /// `SCAN`, `ENABLE`, `DISABLE`, `QUIT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// After the Nth INSTREAM chunk (clamd; 1-based) has been received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u64>,
    /// Once N bytes have been received on the connection (first protocol point at or after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// On the Kth request of an IDSESSION (clamd) / of the connection (SVSP), 1-based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<u64>,
    /// With this probability (0..=1) from the plan's seeded RNG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// On every Nth event at which the other conditions (except `times` and
    /// `probability`) hold, counted per rule over all connections: `every = 2` fires on the
    /// 2nd, 4th, ... matching event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// At the verdict: when the daemon is about to write the reply that ends a scan (clamd:
    /// the verdict line; SVSP: the DONE line, or the errno line the scan ended with), after
    /// the whole request was read. Rules without it never fire there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verdict: bool,
    /// Once the Nth reply of the connection (SVSP: the Nth line, READY included) has been
    /// written. Rules without it never fire there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<u64>,
}

impl Trigger {
    /// No condition: always.
    pub fn always() -> Self {
        Trigger::default()
    }
    /// The Nth connection.
    pub fn connection(n: u64) -> Self {
        Trigger {
            connection: Some(n),
            ..Trigger::default()
        }
    }
    /// On a command.
    pub fn command(name: &str) -> Self {
        Trigger {
            command: Some(name.to_string()),
            ..Trigger::default()
        }
    }
    /// After the Nth INSTREAM chunk.
    pub fn chunk(n: u64) -> Self {
        Trigger {
            chunk: Some(n),
            ..Trigger::default()
        }
    }
    /// After N bytes received.
    pub fn bytes(n: u64) -> Self {
        Trigger {
            bytes: Some(n),
            ..Trigger::default()
        }
    }
    /// On the Kth request of a session.
    pub fn request(k: u64) -> Self {
        Trigger {
            request: Some(k),
            ..Trigger::default()
        }
    }
    /// With probability `p`.
    pub fn probability(p: f64) -> Self {
        Trigger {
            probability: Some(p),
            ..Trigger::default()
        }
    }
    /// At the verdict of every scan request.
    pub fn verdict() -> Self {
        Trigger {
            verdict: true,
            ..Trigger::default()
        }
    }
    /// Once the Nth reply of a connection has been written.
    pub fn replies(n: u64) -> Self {
        Trigger {
            replies: Some(n),
            ..Trigger::default()
        }
    }
    /// This trigger, but only on every Nth event that meets it.
    pub fn every(mut self, n: u64) -> Self {
        self.every = Some(n);
        self
    }
    /// This trigger, but on this command only.
    pub fn on_command(mut self, name: &str) -> Self {
        self.command = Some(name.to_string());
        self
    }
    /// This trigger, but at the verdict.
    pub fn at_verdict(mut self) -> Self {
        self.verdict = true;
        self
    }
}

/// One rule: a trigger, a fault, an optional limit on how often it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name for stats and logs (default: `rule<index>-<kind>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When (default: always).
    #[serde(default)]
    pub when: Trigger,
    /// What.
    pub fault: Fault,
    /// Fire at most this many times in total (over all connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

impl Rule {
    /// A rule without name or limit.
    pub fn new(when: Trigger, fault: Fault) -> Self {
        Rule {
            name: None,
            when,
            fault,
            times: None,
        }
    }
    /// With a name.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
    /// At most `n` times.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }
}

/// A fault scenario: the RNG seed and the rules, checked in order (several may fire at
/// one point; the first immediate fault wins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Seed of the RNG (probabilities, random splits, garbage). None: chosen at install
    /// time, logged, and reported by `GET /faults` / [`crate::FaultSet::plan`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The rules (`[[rule]]` in TOML, `"rules"` in JSON).
    #[serde(default, alias = "rule")]
    pub rules: Vec<Rule>,
}

impl FaultPlan {
    /// An empty plan.
    pub fn new() -> Self {
        FaultPlan::default()
    }
    /// Adds a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
    /// Adds `fault` under `when`.
    pub fn with(self, when: Trigger, fault: Fault) -> Self {
        self.rule(Rule::new(when, fault))
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Parses a TOML scenario.
    pub fn from_toml(text: &str) -> Result<Self, FaultsError> {
        let plan: FaultPlan =
            toml::from_str(text).map_err(|e| FaultsError::Parse(e.message().to_string()))?;
        if let Ok(v) = toml::from_str::<serde_json::Value>(text) {
            check_unit_faults(&v)?;
        }
        plan.validate()?;
        Ok(plan)
    }
    /// Reads a TOML scenario file: a regular file (or character device) of at most
    /// [`crate::file::MAX_PLAN_FILE`] bytes (hardening item 5: `--faults /dev/zero` fails
    /// at once, a FIFO never hangs).
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self, FaultsError> {
        let text = crate::file::read_bounded(path, crate::file::MAX_PLAN_FILE, "fault plan")?;
        Self::from_toml(&text).map_err(|e| match e {
            FaultsError::Parse(m) | FaultsError::Invalid(m) => {
                FaultsError::Invalid(format!("{}: {m}", path.display()))
            }
            other => other,
        })
    }
    /// Parses a JSON plan.
    pub fn from_json(text: &[u8]) -> Result<Self, FaultsError> {
        let plan: FaultPlan =
            serde_json::from_slice(text).map_err(|e| FaultsError::Parse(e.to_string()))?;
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(text) {
            check_unit_faults(&v)?;
        }
        plan.validate()?;
        Ok(plan)
    }
    /// The plan as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
    /// The plan as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    /// Checks values (probabilities in 0..=1, counts >= 1, sizes >= 1, raw reply texts
    /// that decode).
    pub fn validate(&self) -> Result<(), FaultsError> {
        for (i, r) in self.rules.iter().enumerate() {
            let bad = |m: &str| Err(FaultsError::Invalid(format!("rule {}: {m}", i + 1)));
            let w = &r.when;
            if let Some(p) = w.probability {
                if !(0.0..=1.0).contains(&p) {
                    return bad("probability must be within 0..=1");
                }
            }
            if [w.connection, w.chunk, w.request, w.replies].contains(&Some(0)) {
                return bad("connection, chunk, request and replies count from 1");
            }
            if w.every == Some(0) {
                return bad("every must be at least 1");
            }
            if w.verdict && (w.chunk.is_some() || w.replies.is_some()) {
                // three different protocol points: such a rule could never fire
                return bad("verdict cannot be combined with chunk or replies");
            }
            if w.replies.is_some() && w.chunk.is_some() {
                return bad("replies cannot be combined with chunk");
            }
            if r.times == Some(0) {
                return bad("times must be at least 1");
            }
            if let Fault::SlowRead { bytes: 0, .. } | Fault::SplitEvery { bytes: 0, .. } = r.fault {
                return bad("slow-read and split-every bytes must be at least 1");
            }
            if let Fault::Reply { text, raw: true } = &r.fault {
                if let Err((at, e)) = crate::escapes::unescape(text) {
                    return bad(&format!("raw reply text: {e} at byte {at}"));
                }
            }
        }
        Ok(())
    }

    /// Appends `other`'s rules; its seed, when set, replaces this one (how `--faults FILE`
    /// and repeated `--fault SPEC` flags combine).
    pub fn merge(&mut self, other: FaultPlan) {
        self.seed = other.seed.or(self.seed);
        self.rules.extend(other.rules);
    }
}

/// serde's `deny_unknown_fields` does not reach the field-less variants of an internally
/// tagged enum: reject `{ kind = "reset", x = 1 }` here.
fn check_unit_faults(v: &serde_json::Value) -> Result<(), FaultsError> {
    let rules = v
        .get("rules")
        .or_else(|| v.get("rule"))
        .and_then(|r| r.as_array());
    for (i, r) in rules.into_iter().flatten().enumerate() {
        if let Some(f) = r.get("fault").and_then(|f| f.as_object()) {
            let unit = matches!(
                f.get("kind").and_then(|k| k.as_str()),
                Some(
                    "reset"
                        | "never-reply"
                        | "refuse"
                        | "clean"
                        | "timeout"
                        | "eagain"
                        | "efault"
                        | "denied"
                )
            );
            if let Some(k) = f.keys().find(|k| unit && k.as_str() != "kind") {
                return Err(FaultsError::Parse(format!(
                    "rule {}: unknown field `{k}` for this fault kind",
                    i + 1
                )));
            }
        }
    }
    Ok(())
}
