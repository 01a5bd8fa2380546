//! FILDES through the recording proxy: a clamd client on a unix socket passes an open file as
//! `SCM_RIGHTS` with its request (CLAMD-FILDES-1, CLAMD-CLIENT-13); the proxy hands the
//! descriptor on to the fake clamd's unix socket with the same bytes, records it, and stays up
//! whatever a client passes (many descriptors, descriptors with no FILDES, none at all).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clamd_proto::reply::{self, ReplyCtx};
use clamd_proto::Framing;
use harness::daemon::{self, DaemonSpec, RunningDaemon};
use harness::profile::Transport;
use harness::proxy::{Listen, Proxy, Upstream};
use harness::transcript::{EventKind, Transcript};
use harness::{Protocol, Verdict};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

const T: Duration = Duration::from_secs(10);

/// A fake clamd for a unix client (it listens on a unix socket too) and a proxy on a unix
/// socket in front of it.
async fn setup(dir: &Path) -> (RunningDaemon, Proxy, PathBuf) {
    let d = daemon::start_on(
        &DaemonSpec::default(),
        Protocol::Clamd,
        Transport::Unix,
        None,
    )
    .await
    .expect("start the fake");
    let up = d.upstream().expect("upstream");
    assert!(matches!(up, Upstream::Unix(_)), "{up:?}");
    let sock = dir.join("p.sock");
    let p = Proxy::start(Listen::Unix(sock.clone()), up)
        .await
        .expect("proxy");
    (d, p, sock)
}

/// One `sendmsg` of `bytes` with `fds` as SCM_RIGHTS (none: plain bytes).
fn send(s: &UnixStream, bytes: &[u8], fds: &[RawFd]) {
    let iov = [std::io::IoSlice::new(bytes)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(s.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None).expect("sendmsg");
}

/// Connects to the proxy, runs `talk`, and reads the reply to the daemon's close.
async fn exchange(sock: &Path, talk: impl FnOnce(&UnixStream) + Send + 'static) -> Vec<u8> {
    let sock = sock.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut s = UnixStream::connect(&sock).expect("connect to the proxy");
        s.set_read_timeout(Some(T)).unwrap();
        talk(&s);
        let mut out = Vec::new();
        s.read_to_end(&mut out).expect("reply to the close");
        out
    })
    .await
    .expect("client thread")
}

fn file_with(dir: &Path, name: &str, content: &[u8]) -> std::fs::File {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    std::fs::File::open(p).unwrap()
}

fn z() -> ReplyCtx {
    ReplyCtx::new(Framing::Z)
}

/// `fd[<n>]: <text><t>` of the fake: the descriptor number is the fake's own
/// (CLAMD-FILDES-2), so only its shape is checked.
fn fd_reply_text(r: &[u8]) -> String {
    let t = String::from_utf8_lossy(r).into_owned();
    let rest = t
        .strip_prefix("fd[")
        .unwrap_or_else(|| panic!("not an fd reply: {t:?}"));
    let (n, text) = rest.split_once("]: ").expect("fd[<n>]: ");
    assert!(n.parse::<u32>().is_ok(), "{t:?}");
    text.strip_suffix('\0').expect("z terminator").to_string()
}

/// The descriptor events of connection `conn`.
fn passed(t: &Transcript, conn: u32) -> Vec<(usize, usize, bool)> {
    t.descriptors(conn)
}

/// CLAMD-FILDES-1, CLAMD-FILDES-2, CLAMD-CLIENT-13: the descriptor of an EICAR file passed
/// through the proxy is scanned by the fake (`fd[N]: ... FOUND`), a clean one is `OK`; the
/// transcript records each descriptor after the FILDES byte, and the snapshot shows it on a
/// line of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_fildes_1_a_descriptor_passes_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (_d, p, sock) = setup(dir.path()).await;
    let eicar = file_with(dir.path(), "e.com", &fixtures::eicar());
    let clean = file_with(dir.path(), "c.txt", b"nothing to see here\n");
    let found = exchange(&sock, move |s| {
        s.try_clone().unwrap().write_all(b"zFILDES\0").unwrap();
        send(s, b"X", &[eicar.as_raw_fd()]);
    })
    .await;
    let text = fd_reply_text(&found);
    assert!(text.ends_with(&format!(" {}", reply::FOUND)), "{text:?}");
    // check_clamd's way: the command and the byte in one sendmsg with the descriptor
    let ok = exchange(&sock, move |s| send(s, b"zFILDES\0X", &[clean.as_raw_fd()])).await;
    assert_eq!(fd_reply_text(&ok), reply::OK);

    let t = p.finish(T).await;
    assert_eq!(passed(&t, 1), vec![(9, 1, false)]);
    assert_eq!(passed(&t, 2), vec![(9, 1, false)]);
    assert!(
        t.raw_log(80).contains("#1 C: <descriptor passed>"),
        "{}",
        t.raw_log(80)
    );
    let snap = harness::snapshot::render_as_expected(Protocol::Clamd, "x", Verdict::Infected, &t);
    assert!(
        snap.contains("  C: zFILDES\\0\n  C: <descriptor passed>\n  S: fd["),
        "{snap}"
    );
}

/// CLAMD-FILDES-3: FILDES with no descriptor, or with a descriptor sent with no byte (a
/// stream socket carries no such message), gets clamd's `No file descriptor received.
/// ERROR`; the proxy records no descriptor and serves the next connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_fildes_3_no_descriptor_is_the_daemons_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_d, p, sock) = setup(dir.path()).await;
    let want = reply::no_fd_received(z());
    let none = exchange(&sock, |s| send(s, b"zFILDES\0X", &[])).await;
    assert_eq!(none, want);
    let f = file_with(dir.path(), "c.txt", b"clean\n");
    let empty = exchange(&sock, move |s| {
        send(s, b"zFILDES\0", &[]);
        send(s, b"", &[f.as_raw_fd()]);
        send(s, b"X", &[]);
    })
    .await;
    assert_eq!(empty, want);
    let t = p.finish(T).await;
    assert!(passed(&t, 1).is_empty() && passed(&t, 2).is_empty());
}

/// CLAMD-FILDES-4: a descriptor passed with another command: outside a session the command
/// runs (`PONG`), inside IDSESSION it is clamd's protocol error. Through the proxy the fake
/// answers exactly as it does to the same bytes and descriptor sent to it directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_fildes_4_a_descriptor_without_fildes_reaches_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let (d, p, sock) = setup(dir.path()).await;
    let Ok(Upstream::Unix(direct)) = d.upstream() else {
        panic!("the fake has a unix socket");
    };
    let f = std::sync::Arc::new(file_with(dir.path(), "c.txt", b"clean\n"));
    let ping = |f: std::sync::Arc<std::fs::File>| {
        move |s: &UnixStream| send(s, b"zPING\0", &[f.as_raw_fd()])
    };
    let pong = exchange(&sock, ping(f.clone())).await;
    assert_eq!(pong, reply::pong(z()));
    let session = |f: std::sync::Arc<std::fs::File>| {
        move |s: &UnixStream| send(s, b"zIDSESSION\0zPING\0", &[f.as_raw_fd()])
    };
    let proxied = exchange(&sock, session(f.clone())).await;
    let unproxied = exchange(&direct, session(f.clone())).await;
    assert_eq!(
        String::from_utf8_lossy(&proxied),
        String::from_utf8_lossy(&unproxied)
    );
    let error = reply::ancillary_without_fildes(ReplyCtx {
        session_id: Some(2),
        term: 0,
    });
    assert!(
        proxied.ends_with(&error),
        "{:?}",
        String::from_utf8_lossy(&proxied)
    );
    let t = p.finish(T).await;
    assert_eq!(passed(&t, 1), vec![(6, 1, false)]);
    assert_eq!(passed(&t, 2), vec![(17, 1, false)]);
}

/// Open descriptors of this process (the proxy and the fake run in it).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// A client that passes 200 descriptors with its FILDES request: the proxy takes at most
/// `MAX_FDS_PER_READ` (the kernel closes the rest, `MSG_CTRUNC`), records the cut, passes on
/// what it took, keeps none of them, and serves the next connection. The daemon, like clamd
/// (its control buffer holds one descriptor: "control message truncated"), ends such a
/// connection without a reply. Ten such requests leave
/// no descriptor behind (a leak of the few taken per request would be 40; other tests of
/// this binary open and close a few meanwhile, hence the margin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_descriptors_cost_the_proxy_a_few() {
    let dir = tempfile::tempdir().unwrap();
    let (_d, p, sock) = setup(dir.path()).await;
    let f = std::sync::Arc::new(file_with(dir.path(), "c.txt", b"clean\n"));
    let before = open_fds();
    for _ in 0..10 {
        let f = f.clone();
        let many = exchange(&sock, move |s| {
            // SCM_MAX_FD is 253: 200 fit in one message
            let fds: Vec<RawFd> = vec![f.as_raw_fd(); 200];
            send(s, b"zFILDES\0X", &fds);
        })
        .await;
        assert!(many.is_empty(), "{:?}", String::from_utf8_lossy(&many));
    }
    let next = exchange(&sock, |s| send(s, b"zPING\0", &[])).await;
    assert_eq!(next, reply::pong(z()));
    let t = p.finish(T).await;
    let after_fds = open_fds();
    assert!(after_fds < before + 20, "{before} -> {after_fds}");
    for conn in 1..=10 {
        let got = passed(&t, conn);
        assert_eq!(got.len(), 1, "{got:?}");
        let (after, count, cut) = got[0];
        assert_eq!(after, 9);
        assert!(cut, "the cut is recorded");
        assert!(
            (1..=harness::fd_pass::MAX_FDS_PER_READ).contains(&count),
            "{count}"
        );
    }
    let log = t.raw_log(80);
    assert!(log.contains("descriptors passed, more cut off>"), "{log}");
    assert!(t
        .events
        .iter()
        .all(|e| !matches!(e.kind, EventKind::Error { .. })));
}

/// CLAMD-INSTREAM-2: over a unix upstream too, the daemon's own account of the streams it
/// read whole reaches the transcript (the proxy's unix connections are bound to names the
/// fake keys its account by), so a unix client's snapshot does not fall back to the
/// proxy's timing-dependent view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_instream_2_the_daemons_account_covers_unix_upstreams() {
    let dir = tempfile::tempdir().unwrap();
    let (d, p, sock) = setup(dir.path()).await;
    let upload = fixtures::clamd_wire::instream(b"clean bytes");
    let ok = exchange(&sock, move |s| send(s, &upload, &[])).await;
    assert_eq!(ok, reply::ok(z(), reply::Subject::Stream));
    let mut t = p.finish(T).await;
    t.daemon_streams = d.streams_read_whole();
    assert_eq!(t.streams_read_whole(1), Some(1));
}
