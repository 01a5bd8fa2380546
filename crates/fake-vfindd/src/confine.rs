//! Confinement of FILE / FILE-SHA1 targets beneath `--scan-root` (SVSP-NAME-4, CL-7,
//! hardening item 1 of issue 12).
//!
//! Invariant: every file or directory the scanner reads was opened relative to a descriptor
//! of the root (or of a directory itself opened that way), with the kernel refusing any
//! step out of the root: `openat2(RESOLVE_BENEATH)` (plus `RESOLVE_NO_SYMLINKS` unless
//! `--follow-symlinks`), or a component-by-component `openat(O_NOFOLLOW)` walk where
//! `openat2` is missing. Names are never resolved twice, so a peer that swaps directories
//! and symlinks inside the root can change *which* file inside the root is read, never
//! make the daemon read one outside it.

use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Flags for every descriptor we read from: never block on a FIFO open, never become a
/// controlling terminal, never leak into children.
pub const READ_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;

/// Symlinks followed in one resolution before ELOOP (as the kernel's limit).
const MAX_LINKS: u32 = 40;
/// Names read from one directory at most (bounds memory against a peer filling the root).
pub const MAX_DIR_ENTRIES: usize = 100_000;

/// Set when `openat2` answered ENOSYS once: use the fallback from then on.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

fn cstr(name: &[u8]) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `openat(dir, name, flags)`.
pub fn openat(dir: BorrowedFd<'_>, name: &[u8], flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    // SAFETY: valid descriptor and NUL-terminated name; the result is a fresh descriptor.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by openat and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fstat(fd)`.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    // SAFETY: a zeroed `stat` is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and buffer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: what the entry is, links not followed.
pub fn lstatat(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<libc::stat> {
    let c = cstr(name)?;
    // SAFETY: as fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, name and buffer.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// `readlinkat(dir, name)`.
pub fn readlinkat(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Vec<u8>> {
    let c = cstr(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: valid descriptor, name and buffer of the given length.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            c.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// File type bits of a `stat`.
pub fn kind(st: &libc::stat) -> libc::mode_t {
    st.st_mode & libc::S_IFMT
}

/// The entry names of a directory, read through its descriptor (`fdopendir`), without
/// `.` and `..`, at most [`MAX_DIR_ENTRIES`].
pub fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    // a private descriptor: closedir closes it, and the read position is ours
    let own = openat(dir, b".", READ_FLAGS | libc::O_DIRECTORY)?;
    let raw = std::os::fd::IntoRawFd::into_raw_fd(own);
    // SAFETY: raw is an open directory descriptor; fdopendir takes it over.
    let d = unsafe { libc::fdopendir(raw) };
    if d.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so raw is still ours to close.
        unsafe { libc::close(raw) };
        return Err(e);
    }
    let mut names = Vec::new();
    let result = loop {
        // SAFETY: errno is thread-local; reset it to tell end-of-directory from an error.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: d is a valid DIR stream until closedir below.
        let ent = unsafe { libc::readdir(d) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            break if e.raw_os_error().unwrap_or(0) == 0 {
                Ok(())
            } else {
                Err(e)
            };
        }
        // SAFETY: d_name is NUL-terminated inside the entry, valid until the next readdir.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            if names.len() >= MAX_DIR_ENTRIES {
                tracing::warn!(
                    "directory has more than {MAX_DIR_ENTRIES} entries; the rest is skipped"
                );
                break Ok(());
            }
            names.push(name.to_vec());
        }
    };
    // SAFETY: d is valid and closed exactly once.
    unsafe { libc::closedir(d) };
    result.map(|()| names)
}

/// The confinement root: a descriptor opened once at start-up plus the two spellings
/// (as configured, canonical) by which clients may name paths under it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    canonical: PathBuf,
    given: PathBuf,
}

impl Root {
    /// Opens the root directory; refuses anything that is not a directory.
    pub fn open(given: &Path) -> io::Result<Root> {
        let canonical = given.canonicalize()?;
        let fd = std::fs::File::open(&canonical)?;
        let fd = OwnedFd::from(fd);
        if kind(&fstat(fd.as_fd_ref())?) != libc::S_IFDIR {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", given.display()),
            ));
        }
        let given = std::path::absolute(given).unwrap_or_else(|_| canonical.clone());
        Ok(Root {
            fd,
            canonical,
            given,
        })
    }

    /// The canonical path of the root.
    pub fn path(&self) -> &Path {
        &self.canonical
    }

    /// `abs` relative to the root, when it names something under it lexically (either
    /// spelling); `None` = outside (CL-7). `..` left in the result is the kernel's to refuse.
    pub fn relative(&self, abs: &Path) -> Option<PathBuf> {
        abs.strip_prefix(&self.canonical)
            .or_else(|_| abs.strip_prefix(&self.given))
            .ok()
            .map(Path::to_path_buf)
    }

    /// Opens `rel` beneath the root for reading. Symlinks are refused at every component
    /// unless `follow`, and then followed only while they stay beneath the root.
    pub fn open_beneath(&self, rel: &Path, follow: bool) -> io::Result<OwnedFd> {
        open_beneath(self.fd.as_fd_ref(), rel, follow)
    }
}

/// Borrowing helper (keeps call sites short).
trait AsFdRef {
    fn as_fd_ref(&self) -> BorrowedFd<'_>;
}
impl AsFdRef for OwnedFd {
    fn as_fd_ref(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

/// `open_how` of linux/openat2.h (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Opens `rel` beneath `root` (see [`Root::open_beneath`]): `openat2`, or the fallback
/// walk when the kernel lacks it.
pub fn open_beneath(root: BorrowedFd<'_>, rel: &Path, follow: bool) -> io::Result<OwnedFd> {
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        match openat2_beneath(root, rel, follow) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                NO_OPENAT2.store(true, Ordering::Relaxed);
            }
            r => return r,
        }
    }
    open_beneath_fallback(root, rel, follow)
}

fn openat2_beneath(root: BorrowedFd<'_>, rel: &Path, follow: bool) -> io::Result<OwnedFd> {
    let name: &[u8] = if rel.as_os_str().is_empty() {
        b"."
    } else {
        rel.as_os_str().as_bytes()
    };
    let c = cstr(name)?;
    let mut resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    if !follow {
        resolve |= libc::RESOLVE_NO_SYMLINKS;
    }
    let how = OpenHow {
        flags: READ_FLAGS as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: valid descriptor, NUL-terminated path, open_how of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: r is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(r as libc::c_int) })
}

fn exdev() -> io::Error {
    io::Error::from_raw_os_error(libc::EXDEV)
}

fn eloop() -> io::Error {
    io::Error::from_raw_os_error(libc::ELOOP)
}

/// Component pieces of a relative path; an absolute one is an escape.
fn pieces(p: &Path) -> io::Result<Vec<Vec<u8>>> {
    let mut v = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => v.push(n.as_bytes().to_vec()),
            Component::ParentDir => v.push(b"..".to_vec()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(exdev()),
        }
    }
    Ok(v)
}

/// The same semantics as `openat2(RESOLVE_BENEATH [| RESOLVE_NO_SYMLINKS])`, one component
/// at a time: intermediate directories with `O_PATH | O_DIRECTORY | O_NOFOLLOW`, the leaf
/// with `O_NOFOLLOW`; a symlink is refused, or (with `follow`) spliced in when relative,
/// refused when absolute; `..` goes back up the stack of opened directories and never
/// above the root.
pub fn open_beneath_fallback(
    root: BorrowedFd<'_>,
    rel: &Path,
    follow: bool,
) -> io::Result<OwnedFd> {
    let mut stack: Vec<OwnedFd> = vec![openat(
        root,
        b".",
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
    )?];
    let mut todo: VecDeque<Vec<u8>> = pieces(rel)?.into();
    let mut links = 0u32;
    while let Some(c) = todo.pop_front() {
        if c == b".." {
            if stack.len() == 1 {
                return Err(exdev());
            }
            stack.pop();
            continue;
        }
        let last = todo.is_empty();
        let cur = stack.last().ok_or_else(exdev)?.as_fd_ref();
        let flags = if last {
            READ_FLAGS | libc::O_NOFOLLOW
        } else {
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC
        };
        match openat(cur, &c, flags) {
            Ok(fd) if last => return Ok(fd),
            Ok(fd) => stack.push(fd),
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR))
                    && lstatat(cur, &c).is_ok_and(|st| kind(&st) == libc::S_IFLNK) =>
            {
                if !follow {
                    return Err(eloop());
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(eloop());
                }
                let target = readlinkat(cur, &c)?;
                let target = Path::new(std::ffi::OsStr::from_bytes(&target));
                for p in pieces(target)?.into_iter().rev() {
                    todo.push_front(p);
                }
            }
            Err(e) => return Err(e),
        }
    }
    // the path ended on a directory (empty, `.` or `..`): open it for reading
    openat(
        stack.last().ok_or_else(exdev)?.as_fd_ref(),
        b".",
        READ_FLAGS | libc::O_DIRECTORY,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read(fd: OwnedFd) -> Vec<u8> {
        let mut v = Vec::new();
        std::fs::File::from(fd).read_to_end(&mut v).unwrap();
        v
    }

    /// Hardening item 1: both resolvers confine to the root, refuse symlinks unless told,
    /// and then follow only those that stay beneath the root.
    #[test]
    fn hardening_1_beneath_resolvers_confine_and_follow_only_inside() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), b"inside").unwrap();
        std::fs::write(d.path().join("outside"), b"outside").unwrap();
        std::os::unix::fs::symlink("../a/b/f", root.join("a/in")).unwrap();
        std::os::unix::fs::symlink("../../outside", root.join("a/out")).unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), root.join("abs")).unwrap();
        std::os::unix::fs::symlink("a", root.join("dirlink")).unwrap();
        let r = Root::open(&root).unwrap();
        type Opener = fn(BorrowedFd<'_>, &Path, bool) -> io::Result<OwnedFd>;
        let openers: [(&str, Opener); 2] = [
            ("openat2", open_beneath),
            ("fallback", open_beneath_fallback),
        ];
        for (what, open) in openers {
            let fd = r.fd.as_fd_ref();
            let ok = |p: &str, follow: bool| read(open(fd, Path::new(p), follow).unwrap());
            let err = |p: &str, follow: bool| {
                open(fd, Path::new(p), follow)
                    .map(|_| ())
                    .unwrap_err()
                    .raw_os_error()
            };
            assert_eq!(ok("a/b/f", false), b"inside", "{what}");
            assert_eq!(ok("a/b/../b/./f", false), b"inside", "{what}");
            assert_eq!(err("../outside", false), Some(libc::EXDEV), "{what}");
            assert_eq!(err("a/../../outside", true), Some(libc::EXDEV), "{what}");
            assert_eq!(err("a/in", false), Some(libc::ELOOP), "{what}");
            assert_eq!(err("dirlink/b/f", false), Some(libc::ELOOP), "{what}");
            assert_eq!(ok("a/in", true), b"inside", "{what}");
            assert_eq!(ok("dirlink/b/f", true), b"inside", "{what}");
            assert_eq!(err("a/out", true), Some(libc::EXDEV), "{what}");
            assert_eq!(err("abs", true), Some(libc::EXDEV), "{what}");
            assert_eq!(err("a/missing", false), Some(libc::ENOENT), "{what}");
            assert!(open(fd, Path::new(""), false).is_ok(), "{what}");
        }
        assert_eq!(
            r.relative(&r.path().join("x/y")),
            Some(PathBuf::from("x/y"))
        );
        assert_eq!(r.relative(Path::new("/definitely/elsewhere")), None);
    }
}
