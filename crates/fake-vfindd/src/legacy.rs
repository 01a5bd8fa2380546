//! fake-vfindd's first fault counters, kept as a thin builder-only shim while other crates'
//! tests move to the shared vocabulary: the server never sees them, they become rules of a
//! [`faults::FaultPlan`] (the same rules the `--fault eagain-every:N` aliases give).

use faults::{Fault, FaultPlan, Trigger};

/// Deprecated: the older `--fault` counters (SVSP-FAKE-2). Pass a [`FaultPlan`] to
/// [`crate::Builder::faults`] instead; this converts into one:
/// `eagain_every: N` = `eagain@command=SCAN,every=N`, `efault_every: N` =
/// `efault@verdict,every=N`, `drop_connection_after_lines: N` = `drop@replies=N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    /// Every Nth SCAN (over all connections) is refused with `EAGAIN Server busy`.
    pub eagain_every: Option<u64>,
    /// Every Nth scan verdict is `EFAULT Internal error` in the place of DONE.
    pub efault_every: Option<u64>,
    /// The connection is closed after N lines were written (READY included).
    pub drop_connection_after_lines: Option<u64>,
}

impl From<Faults> for FaultPlan {
    fn from(f: Faults) -> FaultPlan {
        let mut plan = FaultPlan::new();
        if let Some(n) = f.eagain_every.filter(|n| *n > 0) {
            plan = plan.with(Trigger::command("SCAN").every(n), Fault::Eagain);
        }
        if let Some(n) = f.efault_every.filter(|n| *n > 0) {
            plan = plan.with(Trigger::verdict().every(n), Fault::Efault);
        }
        if let Some(n) = f.drop_connection_after_lines.filter(|n| *n > 0) {
            plan = plan.with(Trigger::replies(n), Fault::Drop { after_bytes: None });
        }
        plan
    }
}
