//! State every connection of one server shares (configuration, database, recorder, faults,
//! log), and loading the database. Its own module so that `conn` and `server` both read it
//! and import in one direction (server -> conn -> shared).

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use regex::bytes::Regex;
use scan_engine::{BuiltinOptions, LoadOptions, SignatureDb};
use tokio::sync::{watch, Semaphore};

use crate::config::Config;
use crate::record::Recorder;
use crate::scan::ScanCtx;
use crate::Error;

/// Where signatures come from.
#[derive(Clone)]
pub enum DbSource {
    /// `DatabaseDirectory` from the config, else the built-in signatures (CLAMD-DET-1).
    FromConfig,
    /// A fixed database (tests); RELOAD keeps it.
    Fixed(Arc<SignatureDb>),
}

pub(crate) struct Shared {
    pub(crate) config: Arc<Config>,
    pub(crate) db: RwLock<Arc<SignatureDb>>,
    pub(crate) db_source: DbSource,
    pub(crate) exclude: Arc<Vec<Regex>>,
    pub(crate) access: Option<Arc<crate::scan::UserAccess>>,
    pub(crate) recorder: Option<Arc<Recorder>>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) scan_permits: Semaphore,
    pub(crate) next_conn: AtomicU64,
    pub(crate) log: Option<std::sync::Mutex<std::fs::File>>,
    pub(crate) faults: faults::FaultSet,
    /// Set when the server stops: scans in progress end at their next read.
    pub(crate) cancel: scan_engine::CancelFlag,
    /// INSTREAM streams read through their terminator, per peer (TCP, or a named unix one).
    pub(crate) streams_read: crate::streams::StreamsRead,
}

impl Shared {
    pub(crate) fn db(&self) -> Arc<SignatureDb> {
        match self.db.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    pub(crate) fn scan_ctx(&self) -> ScanCtx {
        ScanCtx {
            db: self.db(),
            config: Arc::clone(&self.config),
            exclude: Arc::clone(&self.exclude),
            access: self.access.clone(),
            cancel: self.cancel.clone(),
        }
    }

    /// SIGHUP: re-open `LogFile` (logrotate moved it), as clamd does.
    pub(crate) fn reopen_log(&self) {
        let (Some(slot), Some(path)) = (&self.log, &self.config.log_file) else {
            return;
        };
        match open_log(path) {
            Ok(f) => {
                if let Ok(mut g) = slot.lock() {
                    *g = f;
                }
                self.log_line("SIGHUP caught: re-opening log file.");
            }
            Err(e) => tracing::error!("cannot re-open LogFile {}: {e}", path.display()),
        }
    }

    /// CLAMD-CMD-4 [F]: re-read the signature files.
    pub(crate) fn reload(self: &Arc<Self>) {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || match load_db(&me.config, &me.db_source) {
            Ok(db) => {
                tracing::info!(signatures = db.len(), "database reloaded");
                if let Ok(mut g) = me.db.write() {
                    *g = db;
                }
            }
            Err(e) => tracing::error!("reload failed: {e}"),
        });
    }

    pub(crate) fn log_line(&self, line: &str) {
        if let Some(f) = &self.log {
            use std::io::Write;
            if let Ok(mut f) = f.lock() {
                let _ = writeln!(f, "{line}");
            }
        }
    }
}

/// Load the database the way clamd would (CLAMD-DET-1/2).
pub fn load_db(config: &Config, source: &DbSource) -> Result<Arc<SignatureDb>, Error> {
    if let DbSource::Fixed(db) = source {
        return Ok(Arc::clone(db));
    }
    match &config.database_directory {
        Some(dir) if has_signature_files(dir) => {
            let opts = LoadOptions {
                unofficial_suffix: !config.fake.official_names,
            };
            SignatureDb::load_dir(dir, &opts)
                .map(Arc::new)
                .map_err(|source| Error::Db {
                    dir: dir.display().to_string(),
                    source,
                })
        }
        Some(dir) if !dir.is_dir() => Err(Error::Invalid(format!(
            "DatabaseDirectory {}: not a readable directory",
            dir.display()
        ))),
        _ => {
            if let Some(dir) = &config.database_directory {
                tracing::warn!(
                    "no .hdb/.hsb/.ndb files in {}: using the built-in signatures",
                    dir.display()
                );
            }
            Ok(Arc::new(SignatureDb::builtin(&BuiltinOptions::default())))
        }
    }
}

fn has_signature_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok).any(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.ends_with(".hdb") || n.ends_with(".hsb") || n.ends_with(".ndb")
            })
        })
        .unwrap_or(false)
}

pub(crate) fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}
