//! The handle API both fake daemons offer (issue 13: one handle API, not two that drift).
//!
//! A handle keeps a [`HandleCore`] (the fault set, the recorder, the admin server and the
//! expectations) and implements [`FakeDaemon`]; the trait's provided methods are the whole
//! shared API, so `FakeClamd` and `FakeVfindd` cannot differ in a name or a return shape.
//! Only what a daemon does its own way is required: [`FakeDaemon::core`], stopping, and
//! waiting for the stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use super::expect::{Expectation, Expectations, Observed, VerifyError};
use super::AdminServer;
use crate::record::{Recorded, Recorder, Transcript};
use crate::FaultSet;

/// What every fake daemon handle holds besides its listeners.
pub struct HandleCore<C: Recorded> {
    name: &'static str,
    faults: FaultSet,
    recorder: Option<Arc<Recorder<C>>>,
    admin: Option<AdminServer>,
    expectations: Expectations,
}

impl<C: Recorded> HandleCore<C> {
    /// `name` starts the messages of unmet expectations (`fake-clamd`); `recorder` is `None`
    /// when the daemon does not record.
    pub fn new(
        name: &'static str,
        faults: FaultSet,
        recorder: Option<Arc<Recorder<C>>>,
        admin: Option<AdminServer>,
    ) -> Self {
        HandleCore {
            name,
            faults,
            recorder,
            admin,
            expectations: Expectations::default(),
        }
    }

    fn observed(&self) -> Observed {
        Observed::of_daemon(&self.faults, self.recorder.as_deref())
    }
}

impl<C: Recorded> Drop for HandleCore<C> {
    /// Unmet expectations panic when the handle is dropped. The handle's own `Drop` runs
    /// first, so the daemon has stopped by then and the panic leaves nothing running.
    fn drop(&mut self) {
        self.expectations
            .verify_on_drop(self.name, || self.observed());
    }
}

/// The API of a running fake daemon (`fake_clamd::FakeClamd`, `fake_vfindd::FakeVfindd`).
pub trait FakeDaemon {
    /// What the daemon records per command (clamd: its typed command; SVSP: the line).
    type Command: Recorded;

    /// The shared parts of the handle.
    fn core(&self) -> &HandleCore<Self::Command>;

    /// Stop serving now: listeners close, connections end, scans in progress end at their
    /// next read.
    fn shutdown(&self);

    /// True once the server was told to stop ([`Self::shutdown`], or the protocol's own
    /// stop command).
    fn is_shut_down(&self) -> bool;

    /// Resolves once the server was told to stop.
    fn stopped(&self) -> impl Future<Output = ()> + Send;

    /// The runtime fault handle: get/replace/clear the plan, read statistics.
    fn faults(&self) -> &FaultSet {
        &self.core().faults
    }

    /// Where the fault admin API listens (when configured).
    fn admin_addr(&self) -> Option<SocketAddr> {
        self.core().admin.as_ref().map(AdminServer::addr)
    }

    /// Transcripts of the connections so far: bytes both ways in order, and the commands
    /// decoded (empty when recording is off).
    fn transcripts(&self) -> Vec<Transcript<Self::Command>> {
        self.core()
            .recorder
            .as_ref()
            .map_or_else(Vec::new, |r| r.transcripts())
    }

    /// Every command recorded so far, over all connections, in connection order.
    fn commands(&self) -> Vec<Self::Command> {
        self.core()
            .recorder
            .as_ref()
            .map_or_else(Vec::new, |r| r.commands())
    }

    /// Forget recorded transcripts and commands (as `POST /reset` of the admin API).
    fn clear_records(&self) {
        if let Some(r) = &self.core().recorder {
            r.clear();
        }
    }

    /// Adds an expectation, checked by [`Self::verify`] and when the handle is dropped
    /// (which panics with the message, unless the thread is already panicking).
    fn expect(&self, e: Expectation) -> &Self {
        self.core().expectations.add(e);
        self
    }

    /// Checks every expectation now: command names recorded (`INSTREAM`; SVSP: the
    /// keyword, `SCAN` for `SCAN/FILE`), connections accepted (since start or
    /// `POST /reset`), fault rule firings (since the plan was installed).
    fn verify(&self) -> Result<(), VerifyError> {
        let core = self.core();
        core.expectations.check(core.name, &core.observed())
    }
}
