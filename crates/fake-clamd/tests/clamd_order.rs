//! `--session-order clamd` (the default) and clamd's directory walk order, as found by the
//! differential fuzzer against clamd 1.4.6 (issue 18): replies per read, what a closing error
//! drops, bytes after END, files before subdirectories by inode number.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{cat, chunk, Corpus, UNOFFICIAL_EICAR};
use fake_clamd::{FakeClamd, SessionOrder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TERM: &[u8] = &[0, 0, 0, 0];

/// Writes `bytes` in one write and reads for at most `wait`: (bytes, closed by the server).
async fn talk(addr: SocketAddr, bytes: &[u8], wait: Duration) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn fake(corpus: &Corpus, order: Option<SessionOrder>) -> FakeClamd {
    let mut b = corpus.builder();
    if let Some(o) = order {
        b = b.session_order(o);
    }
    b.start().await.expect("fake starts")
}

fn instream(framing: u8, data: &[u8]) -> Vec<u8> {
    let t = if framing == b'z' { b"\0" } else { b"\n" };
    cat(&[&[framing], b"INSTREAM", t, &chunk(data), TERM])
}

/// A row of [`session_replies_per_read`]: (case, session order, the one write, how long to
/// read, the reply, whether the fake closed the connection).
type OneRead = (
    &'static str,
    Option<SessionOrder>,
    Vec<u8>,
    Duration,
    Vec<u8>,
    bool,
);

/// One read of a session and what comes back, one row per behaviour found by the
/// differential fuzzer against clamd 1.4.6:
/// - CLAMD-SESSION-4/5 (issue 18 item 1): PING and VERSION are answered when read;
///   INSTREAMs of the same read are still queued when a rejected command closes the
///   session, so their replies are never sent;
/// - CLAMD-SESSION-4: the scan replies of one read come after the immediate replies of that
///   read; those of an earlier read come first;
/// - `--session-order arrival` keeps the old order: every reply as soon as it is ready;
/// - CLAMD-SESSION-7 (issue 18 item 3): bytes after END in the same read, with a scan of
///   that read pending, get `<k>: Error processing command. ERROR` with END's number and
///   terminator; the scan reply is lost and the connection stays open; without a pending
///   scan, bytes after END are ignored;
/// - CLAMD-SESSION-10 / CLAMD-INSTREAM-5 (issue 18 item 4): a size-limit error closes the
///   session; the reply of the stream queued before it in the same read is lost.
#[tokio::test]
async fn session_replies_per_read() {
    let corpus = Corpus::new();
    let eicar = corpus.p("eicar.com");
    let hello = instream(b'z', b"hello");
    let secs = Duration::from_secs(5);
    let rows: Vec<OneRead> = vec![
        (
            "rejected command drops queued scan replies",
            None,
            cat(&[
                b"zIDSESSION\0zVERSION\0zPING\0",
                &hello,
                &instream(b'z', &scan_engine::eicar()),
                b"zCONTSCAN /tmp\0",
            ]),
            secs,
            b"1: ClamAV 1.4.6\x002: PONG\x005: Command invalid inside IDSESSION. ERROR\0".to_vec(),
            true,
        ),
        (
            "scan replies after the immediate ones of their read",
            None,
            cat(&[
                b"zIDSESSION\0zSCAN ",
                &eicar,
                b"\0zPING\0",
                &hello,
                b"zVERSION\0zEND\0",
            ]),
            secs,
            cat(&[
                b"2: PONG\x004: ClamAV 1.4.6\x001: ",
                &eicar,
                format!(": {UNOFFICIAL_EICAR} FOUND\0").as_bytes(),
                b"3: stream: OK\0",
            ]),
            true,
        ),
        (
            "arrival order",
            Some(SessionOrder::Arrival),
            cat(&[b"zIDSESSION\0", &hello, b"zPING\0zEND\0"]),
            secs,
            b"1: stream: OK\x002: PONG\0".to_vec(),
            true,
        ),
        (
            "bytes after END with a pending scan",
            None,
            cat(&[
                b"nIDSESSION\n",
                &instream(b'n', b"hello"),
                b"nEND\nnPING\nnEND\n",
            ]),
            Duration::from_millis(800),
            b"2: Error processing command. ERROR\n".to_vec(),
            false,
        ),
        (
            "bytes after END without a pending scan",
            None,
            b"zIDSESSION\0zPING\0zEND\0zPING\0".to_vec(),
            secs,
            b"1: PONG\0".to_vec(),
            true,
        ),
        (
            "size limit drops the earlier stream reply of the read",
            None,
            cat(&[
                b"zIDSESSION\0",
                &hello,
                b"zPING\0zINSTREAM\0\xff\xff\xff\xff",
            ]),
            secs,
            b"2: PONG\x003: INSTREAM size limit exceeded. ERROR\0".to_vec(),
            true,
        ),
    ];
    for (case, order, bytes, wait, want, closed) in rows {
        let s = fake(&corpus, order).await;
        let (got, was_closed) = talk(s.addr().unwrap(), &bytes, wait).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{case}"
        );
        assert_eq!(was_closed, closed, "{case}: closed by the fake");
    }
}

/// CLAMD-SCAN-6 (issue 18 item 2), observed on clamd 1.4.6: a walk visits the files of a
/// directory by inode number, then its subdirectories by inode number; names play no part.
#[tokio::test]
async fn walks_visit_files_then_subdirectories_by_inode_number() {
    use std::os::unix::fs::MetadataExt;
    let corpus = Corpus::new();
    let dir = corpus.c().join("order");
    std::fs::create_dir(&dir).unwrap();
    let e = scan_engine::eicar();
    // created in this order: inode numbers rise (mostly) with creation; the expectation is
    // computed from the real inode numbers below either way
    for name in ["w.com", "sub_b", "b.com", "sub_a", "a.com"] {
        let p = dir.join(name);
        if name.starts_with("sub_") {
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join("x.com"), &e).unwrap();
        } else {
            std::fs::write(&p, &e).unwrap();
        }
    }
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let m = entry.metadata().unwrap();
        let name = entry.file_name().into_string().unwrap();
        if m.is_dir() {
            dirs.push((m.ino(), format!("{name}/x.com")));
        } else {
            files.push((m.ino(), name));
        }
    }
    files.sort();
    dirs.sort();
    let expected: Vec<String> = files.into_iter().chain(dirs).map(|(_, n)| n).collect();
    let sorted_by_name = {
        let mut v = expected.clone();
        v.sort();
        v
    };
    let s = fake(&corpus, None).await;
    let root = corpus.p("order");
    let (got, _) = talk(
        s.addr().unwrap(),
        &cat(&[b"zCONTSCAN ", &root, b"\0"]),
        Duration::from_secs(5),
    )
    .await;
    let want: Vec<u8> = expected
        .iter()
        .flat_map(|n| {
            cat(&[
                &root,
                format!("/{n}: {UNOFFICIAL_EICAR} FOUND\0").as_bytes(),
            ])
        })
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
    // SCAN stops at the first infection in that order
    let (got, _) = talk(
        s.addr().unwrap(),
        &cat(&[b"zSCAN ", &root, b"\0"]),
        Duration::from_secs(5),
    )
    .await;
    let first = cat(&[
        &root,
        format!("/{}: {UNOFFICIAL_EICAR} FOUND\0", expected[0]).as_bytes(),
    ]);
    assert_eq!(got, first);
    assert_ne!(
        expected, sorted_by_name,
        "the corpus must tell inode order from name order"
    );
}

/// Data segments this socket has received (`tcpi_data_segs_in`, Linux 4.6+).
fn data_segments_in(s: &TcpStream) -> u32 {
    use std::os::fd::AsRawFd;
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is a writable tcp_info of `len` bytes; the descriptor is open.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO");
    info.tcpi_data_segs_in
}

/// CLAMD-SESSION-3, CLAMD-SESSION-4: requests pipelined in one read get their replies, in
/// order and byte for byte as before, in one write (a few TCP segments, not one per reply);
/// the same for VERSION and for small INSTREAMs, whose replies follow the read.
#[tokio::test]
async fn pipelined_replies_of_one_read_go_out_together() {
    let corpus = Corpus::new();
    let s = fake(&corpus, None).await;
    let n = 200;
    for (what, req, reply) in [
        ("PING", b"zPING\0".to_vec(), b"PONG".to_vec()),
        ("VERSION", b"zVERSION\0".to_vec(), b"ClamAV 1.4.6".to_vec()),
        ("INSTREAM", instream(b'z', b"hello"), b"stream: OK".to_vec()),
    ] {
        let mut c = TcpStream::connect(s.addr().unwrap())
            .await
            .expect("connect");
        c.set_nodelay(true).expect("nodelay");
        // fewer bytes than the 4104-byte command buffer: one read on the fake's side
        let count = if what == "INSTREAM" { 40 } else { n };
        let mut bytes = b"zIDSESSION\0".to_vec();
        for _ in 0..count {
            bytes.extend_from_slice(&req);
        }
        assert!(bytes.len() < 4104, "{what}: {} bytes", bytes.len());
        c.write_all(&bytes).await.expect("write");
        let mut want = Vec::new();
        for i in 1..=count {
            want.extend_from_slice(format!("{i}: ").as_bytes());
            want.extend_from_slice(&reply);
            want.push(0);
        }
        let mut got = vec![0u8; want.len()];
        tokio::time::timeout(Duration::from_secs(10), c.read_exact(&mut got))
            .await
            .expect("replies in time")
            .expect("read");
        assert_eq!(got, want, "{what}: {}", String::from_utf8_lossy(&got));
        let segments = data_segments_in(&c);
        assert!(
            segments <= 3,
            "{what}: {count} replies came in {segments} data segments"
        );
        c.write_all(b"zEND\0").await.expect("END");
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut rest)).await;
        assert!(rest.is_empty(), "{what}: after END {rest:?}");
    }
}
