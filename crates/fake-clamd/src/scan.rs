//! Scans: files and directory walks for SCAN/CONTSCAN/MULTISCAN/ALLMATCHSCAN (section 7),
//! and the verdict of one byte stream (INSTREAM, FILDES). Blocking code: run it on
//! `spawn_blocking`.

use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io;
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;

use clamd_proto::reply::{self, ReplyCtx, Subject};
use regex::bytes::Regex;
use scan_engine::{
    AllMatchSequence, CancelFlag, Formats, LimitExceeded, PartEvent, ScanLimits, ScanOptions,
    SignatureDb, TreeOptions, TreeScanner, TreeSummary,
};

use crate::config::Config;

/// Which path command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanMode {
    /// SCAN: stop at the first infected file (CLAMD-SCAN-6).
    Scan,
    /// CONTSCAN: report every infected file (CLAMD-SCAN-7).
    ContScan,
    /// MULTISCAN: like CONTSCAN, no `Excluded` lines (CLAMD-SCAN-8).
    MultiScan,
    /// ALLMATCHSCAN: a line per match, as clamd 1.4.6 writes them (repeats included, see
    /// `scan_reader_all`), stop after the first infected file (CLAMD-SCAN-9).
    AllMatch,
}

/// Access rights of the configured `User` (CLAMD-SCAN-12), emulated when the daemon runs as
/// root in-process and cannot drop privileges (clamd itself would have switched user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccess {
    /// The user's uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Supplementary gids.
    pub groups: Vec<u32>,
}

impl UserAccess {
    /// Look up `name`; `None` if unknown.
    pub fn lookup(name: &str) -> Option<UserAccess> {
        let user = nix::unistd::User::from_name(name).ok()??;
        let cname = std::ffi::CString::new(name).ok()?;
        let groups = nix::unistd::getgrouplist(&cname, user.gid)
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_default();
        Some(UserAccess {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            groups,
        })
    }

    /// Whether the user has all `want` bits (4 = r, 2 = w, 1 = x) on an object.
    pub fn allows(&self, meta: &Metadata, want: u32) -> bool {
        if self.uid == 0 {
            return true;
        }
        let mode = meta.mode();
        let bits = if meta.uid() == self.uid {
            (mode >> 6) & 7
        } else if meta.gid() == self.gid || self.groups.contains(&meta.gid()) {
            (mode >> 3) & 7
        } else {
            mode & 7
        };
        bits & want == want
    }
}

/// What a scan needs.
#[derive(Clone)]
pub struct ScanCtx {
    /// Signatures.
    pub db: Arc<SignatureDb>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Compiled ExcludePath.
    pub exclude: Arc<Vec<Regex>>,
    /// Emulated `User` access rights (root in-process only).
    pub access: Option<Arc<UserAccess>>,
    /// Set at shutdown: scans in progress stop between reads (hardening: a shutdown is never
    /// held up by a long scan).
    pub cancel: CancelFlag,
}

/// Result of scanning one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Clean.
    Clean,
    /// Signature names (one unless all-match).
    Infected(Vec<String>),
}

impl ScanCtx {
    /// Archive walk options from the config. clamd's own limits are in [`ScanCtx::limits`];
    /// these are the engine's safety bounds, never tighter than those (0 = unlimited).
    pub fn tree_options(&self) -> TreeOptions {
        let c = &self.config;
        let unlimited_if_zero = |v: u64| if v == 0 { u64::MAX } else { v };
        TreeOptions {
            max_depth: (c.max_recursion != 0)
                .then(|| u32::try_from(c.max_recursion).unwrap_or(u32::MAX)),
            formats: if c.scan_archive {
                Formats::all()
            } else {
                Formats::none()
            },
            max_members: unlimited_if_zero(c.max_files).saturating_add(1),
            max_expanded_bytes: unlimited_if_zero(c.max_scan_size),
            spill_threshold: 1 << 20,
            temp_dir: c.temporary_directory.clone(),
            // clamd replies carry no hash; SHA-1 would cap INSTREAM throughput
            // clamd also scans a text part as normalised text (CLAMD-DET-6)
            scan: ScanOptions {
                sha1: false,
                normalized_text: true,
            },
        }
    }

    /// clamd's limits (MaxFileSize, MaxScanSize, MaxFiles, MaxRecursion; 0 = unlimited).
    pub fn limits(&self) -> ScanLimits {
        let c = &self.config;
        ScanLimits {
            max_file_size: c.max_file_size,
            max_scan_size: c.max_scan_size,
            max_files: c.max_files,
            max_recursion: u32::try_from(c.max_recursion).unwrap_or(u32::MAX),
        }
    }

    /// A tree scanner for one object with this daemon's options, limits and cancel flag.
    pub fn tree_scanner(&self, name: &[u8]) -> TreeScanner {
        TreeScanner::new(Arc::clone(&self.db), self.tree_options(), name)
            .with_limits(self.limits())
            .with_more_formats(self.config.more_formats)
            .with_cancel(self.cancel.clone())
            .with_heuristic_precedence(
                self.config.heuristic_alerts && self.config.heuristic_scan_precedence,
            )
    }

    /// The verdict when a limit stopped a scan and nothing was found (CLAMD-INSTREAM-9):
    /// clean, or `Heuristics.Limits.Exceeded.<limit>` with `AlertExceedsMax yes`.
    pub fn exceeded_verdict(&self, limit: LimitExceeded) -> Verdict {
        if self.config.alert_exceeds_max {
            Verdict::Infected(vec![limit.heuristic_name()])
        } else {
            Verdict::Clean
        }
    }

    /// The verdict from the names a scan found and how it ended: a real detection wins,
    /// then a potentially-unwanted alert (`HeuristicAlerts yes`, e.g.
    /// `Heuristics.Zip.OverlappingFiles`), then the limit that stopped the scan, if any.
    /// With all-match (`all`) the alert comes after the detections, as clamd 1.4.6 lists
    /// it. (clamd reports its last alert of this kind; the fake knows one of each, and a
    /// scan with both needs `AlertExceedsMax yes` and a zip bomb: not distinguished.)
    pub fn verdict_of(&self, mut names: Vec<String>, summary: &TreeSummary, all: bool) -> Verdict {
        let alert = summary
            .potentially_unwanted
            .filter(|_| self.config.heuristic_alerts);
        match (alert, summary.exceeded) {
            (Some(alert), _) if all && !names.is_empty() => {
                if !names.iter().any(|n| n == alert) {
                    names.push(alert.to_string());
                }
                Verdict::Infected(names)
            }
            _ if !names.is_empty() => Verdict::Infected(names),
            (Some(alert), _) => Verdict::Infected(vec![alert.to_string()]),
            (None, Some(limit)) => self.exceeded_verdict(limit),
            (None, None) => Verdict::Clean,
        }
    }

    /// A visitor collecting the first detection name (CLAMD-DET-6).
    pub fn collector(names: &mut Vec<String>) -> impl FnMut(PartEvent<'_>) -> ControlFlow<()> + '_ {
        move |ev: PartEvent<'_>| match ev.result.detections.first() {
            Some(d) => {
                names.push(d.name.clone());
                ControlFlow::Break(())
            }
            None => ControlFlow::Continue(()),
        }
    }

    /// Scan everything a reader yields.
    pub fn scan_reader(&self, name: &[u8], r: impl io::Read, all: bool) -> io::Result<Verdict> {
        if all {
            return self.scan_reader_all(name, r);
        }
        let mut names = Vec::new();
        let summary = {
            let mut visit = Self::collector(&mut names);
            self.tree_scanner(name).scan_reader(r, &mut visit)?
        };
        Ok(self.verdict_of(names, &summary, false))
    }

    /// CLAMD-SCAN-9, CLAMD-DET-6: all-match lists a name for every match clamd 1.4.6 makes,
    /// repeats included, in its order ([`AllMatchSequence`]). The spec's CLAMD-DET-6 [F]
    /// (each name once, DB order) is what clamd does not do: MISMATCHES.md, "ALLMATCHSCAN".
    fn scan_reader_all(&self, name: &[u8], r: impl io::Read) -> io::Result<Verdict> {
        let mut seq = AllMatchSequence::default();
        let summary = {
            let mut visit = |ev: PartEvent<'_>| {
                seq.part(&ev);
                if seq.is_full() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            };
            self.tree_scanner(name)
                .with_all_matches()
                .scan_reader(r, &mut visit)?
        };
        Ok(self.verdict_of(seq.finish(), &summary, true))
    }

    /// Scan an object of `size` bytes as stated by `fstat`. Like clamd, read at most that
    /// many bytes: a file that claims 0 bytes (`/proc/self/pagemap`) is clean at once and
    /// one that grows while it is read is not followed (hardening: bounded reads).
    pub fn scan_sized(
        &self,
        name: &[u8],
        r: impl io::Read,
        size: u64,
        all: bool,
    ) -> io::Result<Verdict> {
        if let Err(limit) = self.limits().check_root(size) {
            return Ok(self.exceeded_verdict(limit));
        }
        self.scan_reader(name, r.take(size), all)
    }

    /// Scan an open regular file.
    pub fn scan_file(&self, name: &[u8], file: File, size: u64, all: bool) -> io::Result<Verdict> {
        self.scan_sized(
            name,
            io::BufReader::with_capacity(64 * 1024, file),
            size,
            all,
        )
    }

    fn denied(&self, meta: &Metadata, want: u32) -> bool {
        self.access.as_ref().is_some_and(|a| !a.allows(meta, want))
    }

    /// Search permission on every ancestor directory (an emulated EACCES from lstat).
    fn ancestors_denied(&self, path: &Path) -> bool {
        let Some(a) = &self.access else { return false };
        let abs = match std::path::absolute(path) {
            Ok(p) => p,
            Err(_) => return false,
        };
        abs.ancestors()
            .skip(1)
            .filter_map(|d| fs::metadata(d).ok())
            .filter(Metadata::is_dir)
            .any(|m| !a.allows(&m, 1))
    }

    fn excluded(&self, path: &[u8]) -> bool {
        self.exclude.iter().any(|re| re.is_match(path))
    }
}

/// `/proc/self/...` belongs to the daemon process: after clamd's switch to `User` it is that
/// user's, so the emulated access check (CLAMD-SCAN-12) must not refuse it.
fn is_own_proc_entry(path: &Path) -> bool {
    let own = format!("/proc/{}/", std::process::id());
    let p = path.as_os_str().as_bytes();
    [
        b"/proc/self/".as_slice(),
        b"/proc/thread-self/",
        own.as_bytes(),
    ]
    .iter()
    .any(|prefix| p.starts_with(prefix))
}

/// CLAMD-TIME-7: libclamav's text for a file that cannot be read during the scan.
const CANT_ACCESS_FILE: &str = "Can't access file";

/// C library error text for an I/O error (`No such file or directory`).
pub fn strerror(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

struct Walk<'a> {
    ctx: &'a ScanCtx,
    rctx: ReplyCtx,
    mode: ScanMode,
    lines: Vec<Vec<u8>>,
    infected: bool,
    files_ok: u64,
    stop: bool,
    root_dev: u64,
}

impl Walk<'_> {
    fn all(&self) -> bool {
        self.mode == ScanMode::AllMatch
    }

    fn report(&mut self, display: &[u8], v: Verdict) {
        if let Verdict::Infected(names) = v {
            for n in names {
                self.lines
                    .push(reply::found(self.rctx, Subject::Path(display), &n));
            }
            self.infected = true;
            // CLAMD-SCAN-6 / CLAMD-SCAN-9: SCAN and ALLMATCHSCAN stop the walk
            if matches!(self.mode, ScanMode::Scan | ScanMode::AllMatch) {
                self.stop = true;
            }
        }
    }

    /// A regular file (top-level or in a walk).
    fn file(&mut self, display: &[u8], fs_path: &Path, meta: &Metadata) {
        if self.ctx.denied(meta, 4) && !is_own_proc_entry(fs_path) {
            // CLAMD-SCAN-12 (emulated User)
            self.lines.push(reply::access_denied(self.rctx, display));
            return;
        }
        match File::open(fs_path) {
            Ok(f) => match self.ctx.scan_file(display, f, meta.len(), self.all()) {
                Ok(v) => {
                    if v == Verdict::Clean {
                        self.files_ok += 1;
                    }
                    self.report(display, v)
                }
                // CLAMD-TIME-7: libclamav error text before " ERROR"
                Err(_) => self.lines.push(reply::error(
                    self.rctx,
                    Subject::Path(display),
                    CANT_ACCESS_FILE,
                )),
            },
            // section 7.1: open failed
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                self.lines.push(reply::access_denied(self.rctx, display));
            }
            Err(e) => self
                .lines
                .push(reply::path_check_failure(self.rctx, display, &strerror(&e))),
        }
    }

    /// Walk a directory; `depth` of `dir` (top = 0).
    fn dir(&mut self, display: &[u8], fs_path: &Path, depth: u64) -> bool {
        if fs::metadata(fs_path).is_ok_and(|m| self.ctx.denied(&m, 5)) {
            let e = io::Error::from_raw_os_error(libc::EACCES);
            self.lines
                .push(reply::path_check_failure(self.rctx, display, &strerror(&e)));
            return false;
        }
        let rd = match fs::read_dir(fs_path) {
            Ok(rd) => rd,
            Err(e) => {
                self.lines
                    .push(reply::path_check_failure(self.rctx, display, &strerror(&e)));
                return false;
            }
        };
        let names = walk_order(fs_path, rd);
        // CLAMD-SCAN-2: argument with trailing '/' removed, then '/', then the entry
        let mut base = display.to_vec();
        while base.last() == Some(&b'/') {
            base.pop();
        }
        for name in names {
            if self.stop || self.ctx.cancel.is_cancelled() {
                break;
            }
            let mut child = base.clone();
            child.push(b'/');
            child.extend_from_slice(&name);
            let child_fs = fs_path.join(OsStr::from_bytes(&name));
            let Ok(lmeta) = fs::symlink_metadata(&child_fs) else {
                continue;
            };
            let (meta, is_link) = if lmeta.file_type().is_symlink() {
                match fs::metadata(&child_fs) {
                    Ok(m) => (m, true),
                    Err(_) => continue,
                }
            } else {
                (lmeta, false)
            };
            // CLAMD-SCAN-5: symlinks skipped silently unless the matching Follow* is set
            if is_link {
                let follow = if meta.is_dir() {
                    self.ctx.config.follow_directory_symlinks
                } else {
                    self.ctx.config.follow_file_symlinks
                };
                if !follow {
                    continue;
                }
            }
            if !(meta.is_dir() || meta.is_file()) {
                continue;
            }
            // CLAMD-SCAN-11: ExcludePath on the full path
            if self.ctx.excluded(&child) {
                if self.mode != ScanMode::MultiScan {
                    self.lines.push(reply::excluded(self.rctx, &child));
                }
                continue;
            }
            if !self.ctx.config.cross_filesystems && meta.dev() != self.root_dev {
                if self.mode != ScanMode::MultiScan {
                    self.lines.push(reply::excluded_other_fs(self.rctx, &child));
                }
                continue;
            }
            if meta.is_dir() {
                let max = self.ctx.config.max_directory_recursion;
                // CLAMD-SCAN-11: deeper directories skipped silently (0 = unlimited)
                if max != 0 && depth + 1 > max {
                    continue;
                }
                self.dir(&child, &child_fs, depth + 1);
            } else {
                self.file(&child, &child_fs, &meta);
            }
        }
        true
    }
}

/// The order clamd 1.4.6 visits a directory's entries (libclamav's `cli_ftw`, observed with
/// the oracle, CLAMD-SCAN-6): the whole directory is read first; then every entry that is not
/// a directory, by inode number; then the subdirectories, by inode number. It decides SCAN's
/// first infection and CONTSCAN's line order; neither sorted names nor raw readdir order.
fn walk_order(dir: &Path, rd: fs::ReadDir) -> Vec<Vec<u8>> {
    use std::os::unix::fs::DirEntryExt;
    let mut entries: Vec<(bool, u64, Vec<u8>)> = rd
        .filter_map(Result::ok)
        .map(|e| {
            let name = e.file_name().as_bytes().to_vec();
            // the entry's kind as a walk sees it: a followed link to a directory is one
            let is_dir = fs::metadata(dir.join(OsStr::from_bytes(&name))).is_ok_and(|m| m.is_dir());
            (is_dir, e.ino(), name)
        })
        .collect();
    entries.sort_by_key(|(is_dir, ino, _)| (*is_dir, *ino));
    entries.into_iter().map(|(_, _, name)| name).collect()
}

/// Run a path command and return every reply record, in order (section 7).
pub fn scan_path(ctx: &ScanCtx, rctx: ReplyCtx, mode: ScanMode, path: &[u8]) -> Vec<Vec<u8>> {
    let fs_path = Path::new(OsStr::from_bytes(path));
    // CLAMD-SCAN-9: ALLMATCHSCAN refused by configuration
    if mode == ScanMode::AllMatch && !ctx.config.allow_all_match_scan {
        return vec![reply::allmatch_disabled(rctx, path)];
    }
    if ctx.ancestors_denied(fs_path) {
        let e = io::Error::from_raw_os_error(libc::EACCES);
        return vec![reply::path_check_failure(rctx, path, &strerror(&e))];
    }
    let lmeta = match fs::symlink_metadata(fs_path) {
        Ok(m) => m,
        // section 7.1: lstat failed
        Err(e) => return vec![reply::path_check_failure(rctx, path, &strerror(&e))],
    };
    if ctx.excluded(path) {
        return vec![reply::excluded(rctx, path)];
    }
    let mut walk = Walk {
        ctx,
        rctx,
        mode,
        lines: Vec::new(),
        infected: false,
        files_ok: 0,
        stop: false,
        root_dev: lmeta.dev(),
    };
    let ok_line = || reply::ok(rctx, Subject::Path(path));
    let ft = lmeta.file_type();
    if ft.is_symlink() {
        // CLAMD-SCAN-5: a top-level symlink is skipped silently (=> OK) unless followed
        let target = fs::metadata(fs_path);
        match target {
            Ok(m) if m.is_dir() && ctx.config.follow_directory_symlinks => {
                walk.root_dev = m.dev();
                return finish_dir(walk, path, fs_path, mode);
            }
            Ok(m) if m.is_file() && ctx.config.follow_file_symlinks => {
                walk.file(path, fs_path, &m);
                if !walk.infected && walk.lines.is_empty() {
                    walk.lines.push(ok_line());
                }
                return walk.lines;
            }
            // observed on clamd 1.4.6: MULTISCAN of an unfollowed directory link => nothing
            Ok(m) if m.is_dir() && mode == ScanMode::MultiScan => return Vec::new(),
            _ => return vec![ok_line()],
        }
    }
    if ft.is_file() {
        walk.file(path, fs_path, &lmeta);
        // CLAMD-SCAN-3: OK only if not infected and not every item was an error
        if !walk.infected && walk.lines.is_empty() {
            walk.lines.push(ok_line());
        }
        return walk.lines;
    }
    if ft.is_dir() {
        return finish_dir(walk, path, fs_path, mode);
    }
    // CLAMD-SCAN-3: fifo, device, socket => error, then OK
    if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() || ft.is_socket() {
        return vec![reply::not_supported_file_type(rctx, path), ok_line()];
    }
    vec![reply::not_supported_file_type(rctx, path), ok_line()]
}

fn finish_dir(mut walk: Walk<'_>, path: &[u8], fs_path: &Path, mode: ScanMode) -> Vec<Vec<u8>> {
    let rctx = walk.rctx;
    if mode == ScanMode::MultiScan && walk.ctx.config.max_threads < 2 {
        return vec![reply::not_enough_threads(rctx, path)];
    }
    let opened = walk.dir(path, fs_path, 0);
    // CLAMD-SCAN-3: an unreadable directory => ERROR then OK, but only ERROR for MULTISCAN
    if !opened && mode == ScanMode::MultiScan {
        return walk.lines;
    }
    // CLAMD-SCAN-3; observed on clamd 1.4.6: MULTISCAN does not count the directory itself,
    // so it sends OK only when at least one file was scanned clean (empty dir => no bytes)
    let ok = !walk.infected && (mode != ScanMode::MultiScan || walk.files_ok > 0);
    if ok {
        walk.lines.push(reply::ok(rctx, Subject::Path(path)));
    }
    walk.lines
}
