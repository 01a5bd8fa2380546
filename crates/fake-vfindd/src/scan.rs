//! One request's scan, run on a worker thread: file-system targets (SVSP-SCAN-FILE-1,
//! SVSP-SCAN-FILESHA1-1, section 7.2) and received streams, archive expansion through
//! `scan_engine`, and the SCANNING / INFECTED / terminal lines.

use crate::config::{Config, MemberErrors, Quirks};
use crate::confine::{self, Root};
use crate::feed::Fed;
use scan_engine::{
    EicarMode, Formats, PartEvent, ScanOptions, ScanResult, SignatureDb, TreeOptions, TreeScanner,
    TreeSummary,
};
use std::collections::HashSet;
use std::io::Read;
use std::ops::ControlFlow;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use svsp_proto::{Body, ErrorReply, Expander, OptionState};

/// Depth used for "unlimited" recursion (SVSP-OPT-RECURSE-1).
pub const DEPTH_CAP: u32 = 32;

/// Builds the SVSP detection table (SVSP-DET-1, SVSP-DET-2): EICAR anywhere, marker A,
/// marker B, then any extra test signatures. Returns the db and the names in table order.
pub fn build_db(cfg: &Config) -> Result<(Arc<SignatureDb>, Vec<String>), crate::Error> {
    let mut b = SignatureDb::builder();
    let mut names = vec![cfg.eicar_name.clone()];
    b.add_eicar(&cfg.eicar_name, EicarMode::Anywhere);
    for (n, bytes) in [crate::config::MARKER_A, crate::config::MARKER_B] {
        b.add_literal(n, bytes);
        names.push(n.to_string());
    }
    for (n, bytes) in &cfg.extra_signatures {
        b.add_literal(n, bytes);
        names.push(n.clone());
    }
    let db = b.build().map_err(|e| crate::Error::Db(e.to_string()))?;
    Ok((Arc::new(db), names))
}

/// Everything a scan needs that does not change per request.
#[derive(Debug, Clone)]
pub struct ScanEnv {
    /// The signature database.
    pub db: Arc<SignatureDb>,
    /// Names in table order (SVSP-DET-2 ordering).
    pub table: Arc<Vec<String>>,
    /// `--scan-root`, opened (hardening item 1: every target is opened beneath it).
    pub scan_root: Option<Arc<Root>>,
    /// `--virtual-root` (test hook), opened.
    pub virtual_root: Option<Arc<Root>>,
    /// `--follow-symlinks`.
    pub follow_symlinks: bool,
    /// `--member-errors`.
    pub member_errors: MemberErrors,
    /// `--delay-ms`.
    pub delay: Duration,
    /// `--quirk`s.
    pub quirks: Quirks,
    /// Expansion limits.
    pub max_members: u64,
    /// Expansion limits.
    pub max_expanded_bytes: u64,
    /// `--max-file-size`: bytes read from one file at most (hardening item 2).
    pub max_file_bytes: u64,
    /// Set when the server stops: scans in progress end at their next read.
    pub shutdown: Arc<AtomicBool>,
}

impl ScanEnv {
    /// From the configuration; `--scan-root` / `--virtual-root` must be directories.
    pub fn new(cfg: &Config, db: Arc<SignatureDb>, table: Vec<String>) -> std::io::Result<ScanEnv> {
        let open =
            |p: &Option<PathBuf>| p.as_ref().map(|p| Root::open(p).map(Arc::new)).transpose();
        Ok(ScanEnv {
            db,
            table: Arc::new(table),
            scan_root: open(&cfg.scan_root)?,
            virtual_root: open(&cfg.virtual_root)?,
            follow_symlinks: cfg.follow_symlinks,
            member_errors: cfg.member_errors,
            delay: cfg.delay,
            quirks: cfg.quirks,
            max_members: cfg.max_members,
            max_expanded_bytes: cfg.max_expanded_bytes,
            max_file_bytes: cfg.max_file_bytes,
            shutdown: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// What to scan.
#[derive(Debug)]
pub enum Target {
    /// A path on the server (FILE, or FILE-SHA1 when `sha1`).
    Path {
        /// The name exactly as sent.
        name: Vec<u8>,
        /// FILE-SHA1.
        sha1: bool,
    },
    /// Received bytes (REQUEST, PORT, DATA, inline) already fed through the scanner as
    /// they arrived.
    Fed {
        /// Display name (`""` when none, SVSP-NAME-5).
        name: Vec<u8>,
        /// The scanner, to finish (report parts, open containers).
        fed: Fed,
    },
}

/// The tree options of a part at `depth` (SVSP-SCAN-TREE-1); SHA-1 only when the reply
/// carries it (it costs more per byte than the matcher).
fn tree_options(env: &ScanEnv, o: &OptionState, depth: u32, sha1: bool) -> TreeOptions {
    let limit = o.depth_limit().unwrap_or(DEPTH_CAP).min(DEPTH_CAP);
    TreeOptions {
        // SVSP-SCAN-TREE-1: a container at depth d opens iff d < L.
        max_depth: Some(limit.saturating_sub(depth)),
        formats: Formats {
            tar: o.expands(Expander::Tar),
            gzip: o.expands(Expander::Gz),
            zip: o.expands(Expander::Zip),
        },
        max_members: env.max_members,
        max_expanded_bytes: env.max_expanded_bytes,
        scan: ScanOptions {
            sha1,
            ..ScanOptions::default()
        },
        ..TreeOptions::default()
    }
}

/// The scanner a data channel feeds while it arrives; `None` when the name is excluded
/// (SVSP-OPT-EXCLUDE-1: DONE 0, nothing scanned).
pub(crate) fn stream_scanner(
    env: &ScanEnv,
    opts: &OptionState,
    name: &[u8],
) -> Option<TreeScanner> {
    if opts.is_excluded(name) {
        return None;
    }
    let o = tree_options(env, opts, 0, false);
    Some(TreeScanner::new(env.db.clone(), o, name))
}

/// The emitter returns `false` when the connection is gone (stop scanning).
pub type Emit<'a> = dyn FnMut(Body) -> bool + 'a;

/// Why a scan stopped without its normal terminal line.
enum Stop {
    /// The connection is gone or the server stops: emit nothing more.
    Cancelled,
    /// End the request with this error.
    Error(ErrorReply),
}

struct Run<'a> {
    env: &'a ScanEnv,
    opts: &'a OptionState,
    emit: &'a mut Emit<'a>,
    cancelled: &'a AtomicBool,
    infected: u64,
    sent_unknown: bool,
}

/// Resolution of a path under the fake's rules (SVSP-NAME-4, CL-7): an open descriptor,
/// and for a confined target its path beneath the root (to follow member symlinks).
enum Resolved {
    Ok(OwnedFd, Option<PathBuf>),
    NotFound,
    Denied,
}

impl ScanEnv {
    /// The root every target must stay beneath (`--scan-root`, else `--virtual-root`).
    fn confinement(&self) -> Option<&Root> {
        self.scan_root.as_deref().or(self.virtual_root.as_deref())
    }

    fn resolve(&self, name: &[u8]) -> Resolved {
        let raw = Path::new(std::ffi::OsStr::from_bytes(name));
        let path = if let Some(vr) = &self.virtual_root {
            // Test hook: strip the leading "/" and resolve below the virtual root.
            let rel: PathBuf = raw
                .components()
                .filter(|c| !matches!(c, Component::RootDir))
                .collect();
            vr.path().join(rel)
        } else if raw.is_relative() {
            match &self.scan_root {
                Some(root) => root.path().join(raw),
                None => raw.to_path_buf(),
            }
        } else {
            raw.to_path_buf()
        };
        let classify = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Resolved::NotFound
            } else {
                Resolved::Denied // CL-7: escapes (EXDEV), symlinks (ELOOP), permissions
            }
        };
        let Some(root) = self.confinement() else {
            // No root: the target itself may be a symlink (SVSP-SCAN-TREE-2).
            return match std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(confine::READ_FLAGS)
                .open(&path)
            {
                Ok(f) => Resolved::Ok(OwnedFd::from(f), None),
                Err(e) => classify(e),
            };
        };
        // CL-7: a path not under the root is refused without looking at it.
        let Some(rel) = root.relative(&path) else {
            return Resolved::Denied;
        };
        match root.open_beneath(&rel, self.follow_symlinks) {
            Ok(fd) => Resolved::Ok(fd, Some(rel)),
            Err(e) => classify(e),
        }
    }
}

/// Runs one request up to its terminal line and returns that line (the verdict: DONE, or
/// the errno reply the scan ended with) for the caller to write, so that faults at the
/// verdict can act on it; `None` when the request was cancelled (the connection is gone) or
/// the server stopped, checked between read chunks: the scan then ends silently.
pub fn run_request<'a>(
    env: &'a ScanEnv,
    opts: &'a OptionState,
    target: Target,
    cancelled: &'a AtomicBool,
    emit: &'a mut Emit<'a>,
) -> Option<Body> {
    let mut run = Run {
        env,
        opts,
        emit,
        cancelled,
        infected: 0,
        sent_unknown: false,
    };
    let (target_name, result) = match target {
        Target::Path { name, sha1 } => {
            let r = run.path_target(&name, sha1);
            (name, r)
        }
        Target::Fed { name, fed } => {
            let r = match fed {
                Fed { scanner: None, .. } => Ok(None),
                Fed { error: Some(e), .. } => Err(run.io_stop(e, &name)),
                Fed {
                    scanner: Some(s), ..
                } => run.visit_tree(&name, |visit| s.finish(visit)).map(|_| None),
            };
            (name, r)
        }
    };
    Some(match result {
        Err(Stop::Cancelled) => return None,
        Err(Stop::Error(e)) => e.body(),
        Ok(sha1) => Body::Done {
            // SVSP-RESP-DONE-1: count = INFECTED lines after IGNORE (INC-30)
            count: if env.quirks.done_without_count {
                None
            } else {
                Some(run.infected)
            },
            target: target_name,
            sha1,
        },
    })
}

/// A reader that stops with an error once the request is cancelled or the server stops
/// (hardening item 2: a shutdown interrupts scans between read chunks).
struct Cancellable<'a, R> {
    inner: R,
    flags: [&'a AtomicBool; 2],
}

impl<R: Read> Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.flags.iter().any(|f| f.load(Ordering::Relaxed)) {
            return Err(std::io::Error::other("scan cancelled"));
        }
        self.inner.read(buf)
    }
}

/// Why a file could not be scanned (the caller chooses the reply).
enum FileSkip {
    /// Larger than `--max-file-size`.
    TooLarge,
    /// Not a regular file.
    Special,
}

impl<'a> Run<'a> {
    fn send(&mut self, body: Body) -> Result<(), Stop> {
        if (self.emit)(body) {
            Ok(())
        } else {
            Err(Stop::Cancelled)
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || self.env.shutdown.load(Ordering::Relaxed)
    }

    /// FILE / FILE-SHA1 target. Returns the SHA-1 for FILE-SHA1.
    fn path_target(&mut self, name: &[u8], want_sha1: bool) -> Result<Option<String>, Stop> {
        let denied = || Stop::Error(ErrorReply::AccessDenied(name.to_vec()));
        let (fd, rel) = match self.env.resolve(name) {
            Resolved::Ok(fd, rel) => (fd, rel),
            Resolved::NotFound => return Err(Stop::Error(ErrorReply::NotFound(name.to_vec()))),
            Resolved::Denied => return Err(denied()),
        };
        let st = confine::fstat(fd.as_fd()).map_err(|_| denied())?;
        if confine::kind(&st) == libc::S_IFDIR {
            if want_sha1 {
                return Err(Stop::Error(ErrorReply::NotRegularFile(name.to_vec())));
                // CL-1
            }
            if self.opts.is_excluded(name) {
                return Ok(None);
            }
            let mut seen = HashSet::new();
            seen.insert((st.st_dev, st.st_ino));
            self.walk_dir(fd.as_fd(), rel.as_deref(), name, 0, &mut seen, true)?;
            return Ok(None);
        }
        // SVSP-OPT-EXCLUDE-1: DONE 0, hash computed anyway for FILE-SHA1.
        let excluded = self.opts.is_excluded(name);
        if excluded && !want_sha1 {
            return Ok(None);
        }
        let file = match self.open_file(fd, &st) {
            Ok(f) => f,
            Err(FileSkip::Special) => return Err(denied()), // special file
            Err(FileSkip::TooLarge) => {
                return Err(Stop::Error(ErrorReply::SizeLimitExceeded(name.to_vec())))
            }
        };
        if excluded {
            return self.sha1(file).map(Some).map_err(|e| self.io_stop(e, name));
        }
        let root = self.scan_part(name, file, 0, want_sha1)?;
        Ok(if want_sha1 { root.sha1_hex() } else { None })
    }

    /// A regular file, read by its fstat size and never more than `--max-file-size`
    /// (hardening item 2: /proc files and the like claim 0 and are read as empty).
    fn open_file(
        &self,
        fd: OwnedFd,
        st: &libc::stat,
    ) -> Result<Cancellable<'a, std::io::Take<std::fs::File>>, FileSkip> {
        let env: &'a ScanEnv = self.env;
        if confine::kind(st) != libc::S_IFREG {
            return Err(FileSkip::Special);
        }
        let size = u64::try_from(st.st_size).unwrap_or(0);
        if size > env.max_file_bytes {
            return Err(FileSkip::TooLarge);
        }
        Ok(Cancellable {
            inner: std::fs::File::from(fd).take(size),
            flags: [self.cancelled, &env.shutdown],
        })
    }

    fn io_stop(&self, _e: std::io::Error, name: &[u8]) -> Stop {
        if self.is_cancelled() {
            Stop::Cancelled
        } else {
            Stop::Error(ErrorReply::AccessDenied(name.to_vec()))
        }
    }

    fn sha1(&self, mut r: impl Read) -> std::io::Result<String> {
        use sha1::{Digest, Sha1};
        let mut h = Sha1::new();
        // the hasher is an io::Write: copy streams through a fixed buffer
        std::io::copy(&mut r, &mut h)?;
        Ok(hex::encode(h.finalize()))
    }

    /// Opens a directory entry through the directory's descriptor, never by a path name
    /// (hardening item 1). `None`: skip it without a line.
    fn open_member(
        &self,
        dir: BorrowedFd<'_>,
        rel_dir: Option<&Path>,
        fname: &[u8],
        open_dirs: bool,
    ) -> std::io::Result<Option<(OwnedFd, libc::stat, Option<PathBuf>)>> {
        let lst = confine::lstatat(dir, fname)?;
        let child_rel = rel_dir.map(|r| r.join(std::ffi::OsStr::from_bytes(fname)));
        let (fd, rel) = match confine::kind(&lst) {
            libc::S_IFLNK => {
                // SVSP-SCAN-TREE-2: skipped unless --follow-symlinks; then only while the
                // link stays beneath the root (dangling and escaping links are skipped).
                if !self.env.follow_symlinks {
                    return Ok(None);
                }
                match (self.env.confinement(), rel_dir) {
                    (Some(root), Some(rel_dir)) => {
                        let text = confine::readlinkat(dir, fname)?;
                        let text = Path::new(std::ffi::OsStr::from_bytes(&text));
                        let target = if text.is_absolute() {
                            match root.relative(text) {
                                Some(r) => r,
                                None => return Ok(None),
                            }
                        } else {
                            rel_dir.join(text)
                        };
                        match root.open_beneath(&target, true) {
                            Ok(fd) => (fd, Some(target)),
                            Err(_) => return Ok(None),
                        }
                    }
                    _ => match confine::openat(dir, fname, confine::READ_FLAGS) {
                        Ok(fd) => (fd, None),
                        Err(_) => return Ok(None),
                    },
                }
            }
            libc::S_IFDIR if open_dirs => (
                confine::openat(
                    dir,
                    fname,
                    confine::READ_FLAGS | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                )?,
                child_rel,
            ),
            libc::S_IFREG => (
                confine::openat(dir, fname, confine::READ_FLAGS | libc::O_NOFOLLOW)?,
                child_rel,
            ),
            libc::S_IFDIR => return Ok(None), // beyond the depth limit: not opened
            _ => return Ok(None),             // special files: skipped without a line
        };
        let st = confine::fstat(fd.as_fd())?;
        Ok(Some((fd, st, rel)))
    }

    /// Directory walk through descriptors (SVSP-SCAN-TREE-1, -2, -3; hardening item 1).
    fn walk_dir(
        &mut self,
        dir: BorrowedFd<'_>,
        rel: Option<&Path>,
        display: &[u8],
        depth: u32,
        seen: &mut HashSet<(u64, u64)>,
        is_target: bool,
    ) -> Result<(), Stop> {
        let member_error = |this: &Self, d: &[u8]| -> Result<(), Stop> {
            if this.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            match this.env.member_errors {
                MemberErrors::Skip => Ok(()),
                MemberErrors::Terminal => Err(Stop::Error(ErrorReply::AccessDenied(d.to_vec()))),
            }
        };
        let mut entries = match confine::list_dir(dir) {
            Ok(e) => e,
            Err(_) if is_target => {
                return Err(Stop::Error(ErrorReply::AccessDenied(display.to_vec())))
            }
            Err(_) => return member_error(self, display),
        };
        entries.sort(); // SVSP-SCAN-TREE-2: by name bytes
        let limit = self.limit();
        for fname in entries {
            if self.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            let mut child = display.to_vec();
            if !child.ends_with(b"/") {
                child.push(b'/');
            }
            child.extend_from_slice(&fname);
            if self.opts.is_excluded(&child) {
                continue;
            }
            let d = depth + 1;
            // Directories are opened only when d < L.
            let (fd, st, child_rel) = match self.open_member(dir, rel, &fname, d < limit) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(_) => {
                    member_error(self, &child)?;
                    continue;
                }
            };
            match confine::kind(&st) {
                libc::S_IFDIR => {
                    // never follow loops
                    let key = (st.st_dev, st.st_ino);
                    if d < limit && seen.insert(key) {
                        self.walk_dir(fd.as_fd(), child_rel.as_deref(), &child, d, seen, false)?;
                        seen.remove(&key);
                    }
                }
                libc::S_IFREG => match self.open_file(fd, &st) {
                    Ok(f) => {
                        self.scan_part(&child, f, d, false)?;
                    }
                    Err(_) => member_error(self, &child)?,
                },
                _ => {} // special files: skipped without a line
            }
        }
        Ok(())
    }

    fn limit(&self) -> u32 {
        self.opts.depth_limit().unwrap_or(DEPTH_CAP).min(DEPTH_CAP)
    }

    /// Scans one file or stream as a tree; emits its lines. Returns the root result.
    fn scan_part(
        &mut self,
        display: &[u8],
        reader: impl std::io::Read,
        depth: u32,
        sha1: bool,
    ) -> Result<ScanResult, Stop> {
        let o = tree_options(self.env, self.opts, depth, sha1);
        let scanner = TreeScanner::new(self.env.db.clone(), o, display);
        self.visit_tree(display, |visit| scanner.scan_reader(reader, visit))
    }

    /// Runs a tree scan with this request's part visitor (its lines, its stop).
    fn visit_tree(
        &mut self,
        display: &[u8],
        scan: impl FnOnce(
            &mut dyn FnMut(PartEvent<'_>) -> ControlFlow<()>,
        ) -> std::io::Result<TreeSummary>,
    ) -> Result<ScanResult, Stop> {
        let mut stop: Option<Stop> = None;
        let summary = scan(&mut |ev: PartEvent<'_>| match self.on_part(display, &ev) {
            Ok(()) => ControlFlow::Continue(()),
            Err(s) => {
                stop = Some(s);
                ControlFlow::Break(())
            }
        });
        if let Some(s) = stop {
            return Err(s);
        }
        match summary {
            Ok(s) => Ok(s.root),
            Err(e) => Err(self.io_stop(e, display)),
        }
    }

    fn on_part(&mut self, display: &[u8], ev: &PartEvent<'_>) -> Result<(), Stop> {
        // SVSP-NAME-6: member names get a leading "/".
        let mut chain: Vec<Vec<u8>> = Vec::with_capacity(ev.chain.len() + 1);
        chain.push(display.to_vec());
        for m in ev.chain {
            let mut n = Vec::with_capacity(m.len() + 1);
            if !m.starts_with(b"/") {
                n.push(b'/');
            }
            n.extend_from_slice(m);
            chain.push(n);
        }
        // SVSP-OPT-EXCLUDE-1: an excluded member hides itself and everything below it.
        if chain[1..].iter().any(|m| self.opts.is_excluded(m)) {
            return Ok(());
        }
        // SVSP-OPT-ORIGINAL-1: an opened container gets a line only with ORIGINAL.
        if ev.opened.is_some() && !self.opts.original {
            return Ok(());
        }
        if !self.env.delay.is_zero() {
            // in slices, so that a shutdown is not held up by --delay-ms
            let end = std::time::Instant::now() + self.env.delay;
            while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
                if self.is_cancelled() || left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(Duration::from_millis(20)));
            }
        }
        if self.env.quirks.unknown_line && !self.sent_unknown {
            self.sent_unknown = true;
            self.send(Body::Unknown(b"NOTICE test".to_vec()))?;
        }
        self.send(Body::Scanning(chain.clone()))?;
        // SVSP-DET-2: one line per virus, in table order; SVSP-DET-3: IGNORE first.
        let mut dets: Vec<_> = ev
            .result
            .detections
            .iter()
            .filter(|d| !self.opts.is_ignored(d.name.as_bytes()))
            .collect();
        dets.sort_by_key(|d| {
            self.env
                .table
                .iter()
                .position(|n| *n == d.name)
                .unwrap_or(usize::MAX)
        });
        for d in dets {
            let mut name = chain.clone();
            if self.env.quirks.infected_empty_archive_name && name.len() > 1 {
                name[0].clear();
            }
            let message = format!("end at {}", d.end_offset.unwrap_or(ev.result.size)).into_bytes(); // INC-34
            self.send(Body::Infected {
                virus: d.name.clone().into_bytes(),
                name,
                message,
            })?;
            self.infected += 1;
        }
        Ok(())
    }
}
