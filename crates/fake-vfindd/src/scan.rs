//! One request's scan, run on a worker thread: file-system targets (SVSP-SCAN-FILE-1,
//! SVSP-SCAN-FILESHA1-1, section 7.2) and received streams, archive expansion through
//! `scan_engine`, and the SCANNING / INFECTED / terminal lines.

use crate::config::{Config, MemberErrors, Quirks};
use scan_engine::{
    scan_reader, EicarMode, Formats, PartEvent, ScanResult, SignatureDb, TreeOptions,
};
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use svsp_proto::{Body, ErrorReply, Expander, OptionState};

/// Depth used for "unlimited" recursion (SVSP-OPT-RECURSE-1).
pub const DEPTH_CAP: u32 = 32;

/// Builds the SVSP detection table (SVSP-DET-1, SVSP-DET-2): EICAR anywhere, marker A,
/// marker B, then any extra test signatures. Returns the db and the names in table order.
pub fn build_db(cfg: &Config) -> Result<(Arc<SignatureDb>, Vec<String>), crate::VfinddError> {
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
    let db = b
        .build()
        .map_err(|e| crate::VfinddError::Db(e.to_string()))?;
    Ok((Arc::new(db), names))
}

/// Everything a scan needs that does not change per request.
#[derive(Debug, Clone)]
pub struct ScanEnv {
    /// The signature database.
    pub db: Arc<SignatureDb>,
    /// Names in table order (SVSP-DET-2 ordering).
    pub table: Arc<Vec<String>>,
    /// `--scan-root`, canonicalised.
    pub scan_root: Option<PathBuf>,
    /// `--virtual-root` (test hook), canonicalised.
    pub virtual_root: Option<PathBuf>,
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
}

impl ScanEnv {
    /// From the configuration.
    pub fn new(cfg: &Config, db: Arc<SignatureDb>, table: Vec<String>) -> std::io::Result<ScanEnv> {
        let canon = |p: &Option<PathBuf>| p.as_ref().map(|p| p.canonicalize()).transpose();
        Ok(ScanEnv {
            db,
            table: Arc::new(table),
            scan_root: canon(&cfg.scan_root)?,
            virtual_root: canon(&cfg.virtual_root)?,
            follow_symlinks: cfg.follow_symlinks,
            member_errors: cfg.member_errors,
            delay: cfg.delay,
            quirks: cfg.quirks,
            max_members: cfg.max_members,
            max_expanded_bytes: cfg.max_expanded_bytes,
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
    /// Received bytes (REQUEST, PORT, DATA, inline) with their display name.
    Stream {
        /// Display name (`""` when none, SVSP-NAME-5).
        name: Vec<u8>,
        /// The data.
        data: Vec<u8>,
    },
}

/// The emitter returns `false` when the connection is gone (stop scanning).
pub type Emit<'a> = dyn FnMut(Body) -> bool + 'a;

/// Why a scan stopped without its normal terminal line.
enum Stop {
    /// The connection is gone: emit nothing more.
    Cancelled,
    /// End the request with this error.
    Error(ErrorReply),
}

struct Run<'a> {
    env: &'a ScanEnv,
    opts: &'a OptionState,
    emit: &'a mut Emit<'a>,
    infected: u64,
    sent_unknown: bool,
}

/// Resolution of a path under the fake's rules (SVSP-NAME-4, CL-7).
enum Resolved {
    Ok(PathBuf),
    NotFound,
    Denied,
}

fn lexical_normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl ScanEnv {
    fn resolve(&self, name: &[u8]) -> Resolved {
        let raw = Path::new(std::ffi::OsStr::from_bytes(name));
        let path = if let Some(vr) = &self.virtual_root {
            // Test hook: strip the leading "/" and resolve below the virtual root.
            let rel: PathBuf = raw
                .components()
                .filter(|c| !matches!(c, Component::RootDir))
                .collect();
            vr.join(rel)
        } else if raw.is_relative() {
            match &self.scan_root {
                Some(root) => root.join(raw),
                None => raw.to_path_buf(),
            }
        } else {
            raw.to_path_buf()
        };
        let Some(root) = self.scan_root.as_ref().or(self.virtual_root.as_ref()) else {
            return match std::fs::symlink_metadata(&path) {
                Ok(_) => Resolved::Ok(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Resolved::NotFound,
                Err(_) => Resolved::Denied,
            };
        };
        match path.canonicalize() {
            Ok(c) if c.starts_with(root) => Resolved::Ok(c),
            Ok(_) => Resolved::Denied, // CL-7, symlinks included
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // CL-7: never reveal whether a path outside the root exists.
                let abs = if path.is_absolute() {
                    path.clone()
                } else {
                    std::env::current_dir()
                        .map(|d| d.join(&path))
                        .unwrap_or(path.clone())
                };
                let mut existing = abs.as_path();
                let mut rest = Vec::new();
                while let Some(parent) = existing.parent() {
                    if let Some(f) = existing.file_name() {
                        rest.push(f.to_owned());
                    }
                    existing = parent;
                    if let Ok(c) = existing.canonicalize() {
                        let mut full = c;
                        for r in rest.iter().rev() {
                            full.push(r);
                        }
                        let full = lexical_normalize(&full);
                        return if full.starts_with(root) {
                            Resolved::NotFound
                        } else {
                            Resolved::Denied
                        };
                    }
                }
                Resolved::Denied
            }
            Err(_) => Resolved::Denied,
        }
    }

    fn inside_root(&self, p: &Path) -> bool {
        match self.scan_root.as_ref().or(self.virtual_root.as_ref()) {
            None => true,
            Some(root) => p
                .canonicalize()
                .map(|c| c.starts_with(root))
                .unwrap_or(false),
        }
    }
}

/// Runs one request to its terminal line. `efault` replaces DONE by `EFAULT Internal error`
/// (fault injection, SVSP-ERR-EFAULT-1).
pub fn run_request<'a>(
    env: &'a ScanEnv,
    opts: &'a OptionState,
    target: Target,
    efault: bool,
    emit: &'a mut Emit<'a>,
) {
    let mut run = Run {
        env,
        opts,
        emit,
        infected: 0,
        sent_unknown: false,
    };
    let (target_name, result) = match target {
        Target::Path { name, sha1 } => {
            let r = run.path_target(&name, sha1);
            (name, r)
        }
        Target::Stream { name, data } => {
            let r = if opts.is_excluded(&name) {
                Ok(None)
            } else {
                run.scan_bytes_part(&name, &data, 0).map(|_| None)
            };
            (name, r)
        }
    };
    let body = match result {
        Err(Stop::Cancelled) => return,
        Err(Stop::Error(e)) => e.body(),
        Ok(_) if efault => ErrorReply::InternalError.body(),
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
    };
    (run.emit)(body);
}

impl Run<'_> {
    fn send(&mut self, body: Body) -> Result<(), Stop> {
        if (self.emit)(body) {
            Ok(())
        } else {
            Err(Stop::Cancelled)
        }
    }

    /// FILE / FILE-SHA1 target. Returns the SHA-1 for FILE-SHA1.
    fn path_target(&mut self, name: &[u8], want_sha1: bool) -> Result<Option<String>, Stop> {
        let path = match self.env.resolve(name) {
            Resolved::Ok(p) => p,
            Resolved::NotFound => return Err(Stop::Error(ErrorReply::NotFound(name.to_vec()))),
            Resolved::Denied => return Err(Stop::Error(ErrorReply::AccessDenied(name.to_vec()))),
        };
        // A symbolic link that is itself the target is followed (SVSP-SCAN-TREE-2).
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Stop::Error(ErrorReply::NotFound(name.to_vec())))
            }
            Err(_) => return Err(Stop::Error(ErrorReply::AccessDenied(name.to_vec()))),
        };
        if meta.is_dir() {
            if want_sha1 {
                return Err(Stop::Error(ErrorReply::NotRegularFile(name.to_vec())));
                // CL-1
            }
            if self.opts.is_excluded(name) {
                return Ok(None);
            }
            let mut seen = HashSet::new();
            seen.insert((meta.dev(), meta.ino()));
            self.walk_dir(&path, name, 0, &mut seen, true)?;
            return Ok(None);
        }
        if !meta.is_file() {
            return Err(Stop::Error(ErrorReply::AccessDenied(name.to_vec()))); // special file
        }
        if self.opts.is_excluded(name) {
            // SVSP-OPT-EXCLUDE-1: DONE 0, hash computed anyway for FILE-SHA1.
            return if want_sha1 {
                sha1_file(&path)
                    .map(Some)
                    .map_err(|_| Stop::Error(ErrorReply::AccessDenied(name.to_vec())))
            } else {
                Ok(None)
            };
        }
        let file = std::fs::File::open(&path)
            .map_err(|_| Stop::Error(ErrorReply::AccessDenied(name.to_vec())))?;
        let root = self.scan_part(name, file, 0)?;
        Ok(if want_sha1 { root.sha1_hex() } else { None })
    }

    /// Directory walk (SVSP-SCAN-TREE-1, -2, -3).
    fn walk_dir(
        &mut self,
        dir: &Path,
        display: &[u8],
        depth: u32,
        seen: &mut HashSet<(u64, u64)>,
        is_target: bool,
    ) -> Result<(), Stop> {
        let member_error = |this: &Self, d: &[u8]| -> Result<(), Stop> {
            match this.env.member_errors {
                MemberErrors::Skip => Ok(()),
                MemberErrors::Terminal => Err(Stop::Error(ErrorReply::AccessDenied(d.to_vec()))),
            }
        };
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(_) if is_target => {
                return Err(Stop::Error(ErrorReply::AccessDenied(display.to_vec())))
            }
            Err(_) => return member_error(self, display),
        };
        let mut entries: Vec<(Vec<u8>, PathBuf)> = rd
            .filter_map(Result::ok)
            .map(|e| (e.file_name().as_bytes().to_vec(), e.path()))
            .collect();
        entries.sort(); // SVSP-SCAN-TREE-2: by name bytes
        let limit = self.limit();
        for (fname, path) in entries {
            let mut child = display.to_vec();
            if !child.ends_with(b"/") {
                child.push(b'/');
            }
            child.extend_from_slice(&fname);
            if self.opts.is_excluded(&child) {
                continue;
            }
            let Ok(lmeta) = std::fs::symlink_metadata(&path) else {
                member_error(self, &child)?;
                continue;
            };
            let meta = if lmeta.file_type().is_symlink() {
                if !self.env.follow_symlinks || !self.env.inside_root(&path) {
                    continue;
                }
                match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(_) => continue, // dangling link
                }
            } else {
                lmeta
            };
            let d = depth + 1;
            if meta.is_dir() {
                // Opened only when d < L; never follow loops.
                if d < limit && seen.insert((meta.dev(), meta.ino())) {
                    self.walk_dir(&path, &child, d, seen, false)?;
                    seen.remove(&(meta.dev(), meta.ino()));
                }
            } else if meta.is_file() {
                match std::fs::File::open(&path) {
                    Ok(f) => {
                        self.scan_part(&child, f, d)?;
                    }
                    Err(_) => member_error(self, &child)?,
                }
            }
            // special files: skipped without a line
        }
        Ok(())
    }

    fn limit(&self) -> u32 {
        self.opts.depth_limit().unwrap_or(DEPTH_CAP).min(DEPTH_CAP)
    }

    fn tree_options(&self, depth: u32) -> TreeOptions {
        let o = self.opts;
        TreeOptions {
            // SVSP-SCAN-TREE-1: a container at depth d opens iff d < L.
            max_depth: Some(self.limit().saturating_sub(depth)),
            formats: Formats {
                tar: o.expands(Expander::Tar),
                gzip: o.expands(Expander::Gz),
                zip: o.expands(Expander::Zip),
            },
            max_members: self.env.max_members,
            max_expanded_bytes: self.env.max_expanded_bytes,
            ..TreeOptions::default()
        }
    }

    fn scan_bytes_part(
        &mut self,
        display: &[u8],
        data: &[u8],
        depth: u32,
    ) -> Result<ScanResult, Stop> {
        self.scan_part(display, data, depth)
    }

    /// Scans one file or stream as a tree; emits its lines. Returns the root result.
    fn scan_part(
        &mut self,
        display: &[u8],
        reader: impl std::io::Read,
        depth: u32,
    ) -> Result<ScanResult, Stop> {
        let env = self.env;
        let db = env.db.clone();
        let opts = self.tree_options(depth);
        let mut stop: Option<Stop> = None;
        let summary = scan_reader(
            db,
            opts,
            display,
            reader,
            &mut |ev: PartEvent<'_>| match self.on_part(display, &ev) {
                Ok(()) => ControlFlow::Continue(()),
                Err(s) => {
                    stop = Some(s);
                    ControlFlow::Break(())
                }
            },
        );
        if let Some(s) = stop {
            return Err(s);
        }
        match summary {
            Ok(s) => Ok(s.root),
            Err(_) => Err(Stop::Error(ErrorReply::AccessDenied(display.to_vec()))),
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
            std::thread::sleep(self.env.delay);
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

fn sha1_file(path: &Path) -> std::io::Result<String> {
    use sha1::{Digest, Sha1};
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha1::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
