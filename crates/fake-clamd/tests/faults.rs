//! Injected faults (crate `faults`) observed on the wire from a raw tokio client: one test
//! per fault kind and per trigger, plus the runtime handle and the admin API.

mod common;

use fake_clamd::FakeDaemon;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fake_clamd::FakeClamd;
use faults::{DelayAt, Fault, FaultPlan, LimitMode, Rule, SplitAt, Trigger};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use fixtures::admin_http::{curl, curl_json};
use fixtures::clamd_wire::instream_chunked as instream;
use fixtures::daemon::start_announcing;
use fixtures::files::write_in;
use fixtures::seeded::{assert_seeded_replay, sample};
use fixtures::wire::{read_end, read_once, End};

const T: Duration = Duration::from_secs(10);

async fn send(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    s
}

async fn exchange(addr: SocketAddr, bytes: &[u8]) -> End {
    let mut s = send(addr, bytes).await;
    read_end(&mut s, T).await
}

async fn server(plan: FaultPlan) -> FakeClamd {
    FakeClamd::builder().faults(plan).start().await.unwrap()
}

fn always(f: Fault) -> FaultPlan {
    FaultPlan::new().seed(1).with(Trigger::always(), f)
}

/// Each read's bytes until the fake closes (each read at most `T`).
async fn read_pieces(c: &mut TcpStream) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let n = tokio::time::timeout(T, c.read(&mut buf))
            .await
            .expect("a read within T")
            .expect("read");
        if n == 0 {
            return pieces;
        }
        pieces.push(buf[..n].to_vec());
    }
}

fn eof(b: &[u8]) -> End {
    End::Eof(b.to_vec())
}

/// Every reply (or read, or byte) delayed by `ms`.
fn delay_always(ms: u64, at: DelayAt) -> FaultPlan {
    always(Fault::Delay { ms, at })
}

/// One row of [`faults_seen_on_the_wire`]: a plan, what a client sends on one fresh
/// connection after another, what each gets back, and bounds on the time the row takes.
struct Row {
    what: &'static str,
    plan: FaultPlan,
    talk: Vec<(Vec<u8>, End)>,
    at_least: Duration,
    at_most: Duration,
}

fn row(what: &'static str, plan: FaultPlan, talk: &[(&[u8], End)]) -> Row {
    Row {
        what,
        plan,
        talk: talk.iter().map(|(b, e)| (b.to_vec(), e.clone())).collect(),
        at_least: Duration::ZERO,
        at_most: T,
    }
}

/// A PING under a `ms` delay at `at`: answered, and not before the delay passed.
fn delayed_ping(what: &'static str, ms: u64, at: DelayAt) -> Row {
    Row {
        at_least: Duration::from_millis(ms),
        ..row(what, delay_always(ms, at), &[(b"zPING\0", eof(b"PONG\0"))])
    }
}

fn in_session(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Each fault kind and trigger on the clamd wire, one row each (the row names its rule where
/// it proves one: CLAMD-INSTREAM-3, CLAMD-INSTREAM-5, CLAMD-REPLY-2, CLAMD-REPLY-4,
/// CLAMD-SESSION-4, CLAMD-TIME-1).
#[tokio::test]
async fn faults_seen_on_the_wire() {
    let ping: &[u8] = b"zPING\0";
    let pong = || eof(b"PONG\0");
    let eicar = scan_engine::eicar();
    let found = b"stream: Win.Test.EICAR_HDB-1 FOUND\0";
    let limit = |mode| FaultPlan::new().with(Trigger::chunk(1), Fault::StreamLimit { mode });
    let over = eof(b"INSTREAM size limit exceeded. ERROR\0");
    let six = instream(b"abcdef", 2);
    let memory = || Fault::Error {
        text: "Can't allocate memory".into(),
    };
    let session_error = in_session(&[b"zIDSESSION\0", &instream(b"clean", 5), b"zPING\0zEND\0"]);
    let rows =
        vec![
        delayed_ping("delay before the reply", 300, DelayAt::Reply),
        delayed_ping("delay per read", 250, DelayAt::Read),
        row(
            "drop at a command, other commands unaffected",
            FaultPlan::new().with(Trigger::command("PING"), Fault::Drop { after_bytes: None }),
            &[(ping, eof(b"")), (b"zVERSION\0", eof(b"ClamAV 1.4.6\0"))],
        ),
        row(
            "reset after the 2nd chunk",
            FaultPlan::new().with(
                Trigger { command: Some("INSTREAM".into()), chunk: Some(2), ..Trigger::default() },
                Fault::Reset,
            ),
            &[(&six, End::Reset(vec![]))],
        ),
        row(
            "truncate to 2 bytes",
            always(Fault::Truncate { keep: Some(2), through: None }),
            &[(ping, eof(b"PO"))],
        ),
        row(
            "truncate to half",
            always(Fault::Truncate { keep: None, through: None }),
            &[(&instream(&eicar, 10), eof(&found[..found.len() / 2]))],
        ),
        row(
            "forced infected: streams and path scans, PING is no scan",
            always(Fault::Infected { name: "Fake.Forced-1".into() }),
            &[
                (&instream(b"clean data", 4), eof(b"stream: Fake.Forced-1 FOUND\0")),
                (ping, pong()),
                (b"zSCAN /nonexistent/x\0", eof(b"/nonexistent/x: Fake.Forced-1 FOUND\0")),
            ],
        ),
        row(
            "forced clean",
            always(Fault::Clean),
            &[(&instream(&eicar, 7), eof(b"stream: OK\0"))],
        ),
        row(
            "CLAMD-INSTREAM-3 / CLAMD-REPLY-2: forced error: with its subject in the place of a \
             verdict, a bare line then close for a command without verdict",
            always(memory()),
            &[
                (&instream(b"x", 1), eof(b"stream: Can't allocate memory ERROR\0")),
                (b"nPING\n", eof(b"Can't allocate memory ERROR\n")),
            ],
        ),
        row(
            "errno reply",
            always(Fault::Errno { name: "EACCES".into(), text: Some("Permission denied".into()) }),
            &[(ping, eof(b"EACCES Permission denied ERROR\0"))],
        ),
        row(
            "eagain concerns scan requests only",
            always(Fault::Eagain),
            &[(ping, pong()), (b"zINSTREAM\0", eof(b"EAGAIN Server busy ERROR\0"))],
        ),
        row(
            "efault",
            always(Fault::Efault),
            &[(b"zSCAN /x\0", eof(b"EFAULT Internal error ERROR\0"))],
        ),
        Row {
            at_most: Duration::from_secs(5),
            ..row(
                "CLAMD-TIME-1: the timeout wire string without waiting for CommandReadTimeout",
                FaultPlan::new().with(Trigger::command("INSTREAM"), Fault::Timeout),
                &[(b"zINSTREAM\0", eof(b"COMMAND READ TIMED OUT\n"))],
            )
        },
        row(
            "CLAMD-INSTREAM-5: stream limit after chunk 1, reply-drain",
            limit(LimitMode::ReplyDrain),
            &[(&six, over.clone())],
        ),
        row(
            "CLAMD-INSTREAM-5: stream limit after chunk 1, close",
            limit(LimitMode::Close),
            &[(&six, over.clone())],
        ),
        row(
            "CLAMD-INSTREAM-5: stream limit after chunk 1, reset",
            limit(LimitMode::Reset),
            &[(&six, End::Reset(vec![]))],
        ),
        row(
            "trigger: the 2nd connection only",
            FaultPlan::new().with(Trigger::connection(2), Fault::Reset),
            &[(ping, pong()), (ping, End::Reset(vec![])), (ping, pong())],
        ),
        row(
            "trigger: a command (any case)",
            FaultPlan::new().with(Trigger::command("version"), Fault::Timeout),
            &[(ping, pong()), (b"zVERSION\0", eof(b"COMMAND READ TIMED OUT\n"))],
        ),
        row(
            "trigger: the 2nd request of an IDSESSION",
            FaultPlan::new().with(Trigger::request(2), Fault::Error { text: "Injected".into() }),
            &[(
                b"zIDSESSION\0zPING\0zPING\0zPING\0zEND\0",
                eof(b"1: PONG\x002: Injected ERROR\0"),
            )],
        ),
        row(
            "rule fired at most `times` times",
            FaultPlan::new().rule(Rule::new(Trigger::always(), Fault::Reset).times(1)),
            &[(ping, End::Reset(vec![])), (ping, pong())],
        ),
        row(
            "CLAMD-REPLY-4 / CLAMD-SESSION-4: a per-file scan error keeps the session (PING of \
             the same read first, clamd order)",
            FaultPlan::new().with(Trigger::request(1), memory()),
            &[(&session_error, eof(b"2: PONG\x001: stream: Can't allocate memory ERROR\0"))],
        ),
    ];
    for r in rows {
        let s = server(r.plan).await;
        let t0 = Instant::now();
        for (bytes, want) in &r.talk {
            let got = exchange(s.addr().unwrap(), bytes).await;
            assert_eq!(
                &got,
                want,
                "{}: {:?}",
                r.what,
                String::from_utf8_lossy(bytes)
            );
        }
        let took = t0.elapsed();
        assert!(
            took >= r.at_least && took <= r.at_most,
            "{}: took {took:?}",
            r.what
        );
    }
}

#[tokio::test]
async fn fault_delay_between_bytes() {
    let s = server(delay_always(40, DelayAt::Bytes)).await;
    let mut c = send(s.addr().unwrap(), b"zPING\0").await;
    assert_eq!(read_once(&mut c, T).await, b"P", "first byte alone");
    let t0 = Instant::now();
    assert_eq!(read_end(&mut c, T).await, eof(b"ONG\0"));
    assert!(t0.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn fault_slow_read_throttles_draining() {
    let s = server(always(Fault::SlowRead { bytes: 1, ms: 30 })).await;
    let t0 = Instant::now();
    // 6 bytes, one per read, 30 ms before each read
    assert_eq!(
        exchange(s.addr().unwrap(), b"zPING\0").await,
        eof(b"PONG\0")
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(180),
        "{:?}",
        t0.elapsed()
    );
    let st = s.faults().stats();
    assert_eq!(st.per_connection[0].bytes_in, 6);
}

#[tokio::test]
async fn fault_split_reply_byte_at_a_time() {
    let s = server(always(Fault::SplitReply {
        at: SplitAt::Byte,
        ms: 30,
    }))
    .await;
    let mut c = send(s.addr().unwrap(), b"zVERSION\0").await;
    let reads = read_pieces(&mut c).await;
    assert!(reads.iter().all(|r| r.len() == 1), "{reads:?}");
    assert_eq!(reads.concat(), b"ClamAV 1.4.6\0");
}

#[tokio::test]
async fn fault_split_reply_random_boundaries_replay_with_seed() {
    async fn cuts() -> Vec<usize> {
        let s = server(always(Fault::SplitReply {
            at: SplitAt::Random,
            ms: 40,
        }))
        .await;
        let mut c = send(s.addr().unwrap(), b"zVERSION\0").await;
        read_pieces(&mut c).await.iter().map(Vec::len).collect()
    }
    let a = cuts().await;
    assert!(a.len() > 1 && a.iter().sum::<usize>() == 13, "{a:?}");
    assert!(a.iter().all(|n| (1..=8).contains(n)), "{a:?}");
    assert_eq!(a, cuts().await, "same seed, same boundaries");
}

#[tokio::test]
async fn fault_drop_after_n_bytes_mid_stream() {
    let s = server(FaultPlan::new().with(
        Trigger::command("INSTREAM"),
        Fault::Drop {
            after_bytes: Some(100),
        },
    ))
    .await;
    let mut c = send(s.addr().unwrap(), &instream(&[b'a'; 300], 50)[..10]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // nothing said yet: the stream goes on
    c.write_all(&instream(&[b'a'; 300], 50)[10..60])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.write_all(&instream(&[b'a'; 300], 50)[60..120])
        .await
        .unwrap();
    assert_eq!(read_end(&mut c, T).await, eof(b""));
    assert!(s.faults().stats().per_connection[0].bytes_in <= 120);
}

#[tokio::test]
async fn fault_never_reply() {
    let s = server(always(Fault::NeverReply)).await;
    let mut c = send(s.addr().unwrap(), b"zPING\0").await;
    assert_eq!(
        read_end(&mut c, Duration::from_millis(700)).await,
        End::Silent(vec![])
    );
}

#[tokio::test]
async fn fault_refuse_connections() {
    let s = server(FaultPlan::new().with(Trigger::connection(1), Fault::Refuse)).await;
    // the RST arrives before any byte (a write after it would consume the error)
    let mut c = TcpStream::connect(s.addr().unwrap()).await.unwrap();
    assert_eq!(read_end(&mut c, T).await, End::Reset(vec![]));
    assert_eq!(
        exchange(s.addr().unwrap(), b"zPING\0").await,
        eof(b"PONG\0")
    );
}

#[tokio::test]
async fn fault_denied_is_a_refusal_for_clamd() {
    let s = server(always(Fault::Denied)).await;
    let mut c = TcpStream::connect(s.addr().unwrap()).await.unwrap();
    assert_eq!(read_end(&mut c, T).await, End::Reset(vec![]));
}

#[tokio::test]
async fn fault_garbage_reply() {
    let s = server(always(Fault::Garbage {
        text: Some("\u{1}HELLO?".into()),
        len: 0,
    }))
    .await;
    assert_eq!(
        exchange(s.addr().unwrap(), b"zPING\0").await,
        eof(b"\x01HELLO?")
    );
    let s = server(always(Fault::Garbage {
        text: None,
        len: 20,
    }))
    .await;
    let End::Eof(g) = exchange(s.addr().unwrap(), b"zPING\0").await else {
        panic!("garbage then FIN")
    };
    assert_eq!(g.len(), 20);
    assert_ne!(g, b"PONG\0");
}

#[tokio::test]
async fn trigger_after_n_bytes() {
    let s = server(FaultPlan::new().with(Trigger::bytes(40), Fault::Reset)).await;
    let a = s.addr().unwrap();
    // 10 + 4+8 + 4+8 = 34 bytes at chunk 2: no fault; chunk 3 reaches 46
    let mut c = send(a, &instream(&[b'x'; 24], 8)).await;
    assert_eq!(read_end(&mut c, T).await, End::Reset(vec![]));
    let mut c = send(a, &instream(&[b'x'; 8], 8)).await;
    assert_eq!(read_end(&mut c, T).await, eof(b"stream: OK\0"));
}

#[tokio::test]
async fn trigger_probability_seeded_replays_exactly() {
    assert_seeded_replay(99, |seed| async move {
        let drop = Fault::Drop { after_bytes: None };
        let s = server(
            FaultPlan::new()
                .seed(seed)
                .with(Trigger::probability(0.5), drop),
        )
        .await;
        let a = s.addr().unwrap();
        let dropped = sample(
            16,
            || async move { exchange(a, b"zPING\0").await == eof(b"") },
        )
        .await;
        assert_eq!(s.faults().seed(), seed);
        dropped
    })
    .await;
}

#[tokio::test]
async fn runtime_handle_replace_clear_and_stats() {
    let s = FakeClamd::start().await.unwrap();
    let a = s.addr().unwrap();
    assert_eq!(exchange(a, b"zPING\0").await, eof(b"PONG\0"));
    s.faults()
        .replace(FaultPlan::new().with(Trigger::command("PING"), Fault::Timeout));
    assert_eq!(
        exchange(a, b"zPING\0").await,
        eof(b"COMMAND READ TIMED OUT\n")
    );
    s.faults().clear();
    assert_eq!(exchange(a, b"zPING\0").await, eof(b"PONG\0"));
    let st = s.faults().stats();
    assert_eq!((st.connections, st.commands, st.faults_fired), (3, 3, 1));
    assert_eq!(st.bytes_in, 18);
    assert_eq!(st.bytes_out, 5 + 23 + 5);
    assert_eq!(st.per_connection[1].faults_fired, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_end_to_end_with_plain_http_client() {
    let s = common::with_admin(FakeClamd::builder()).await;
    let admin = s.admin_addr().unwrap();
    let a = s.addr().unwrap();
    let (code, body) = curl(admin, "GET", "/faults", "").await;
    assert_eq!(code, 200);
    assert!(body.contains("\"rules\": []"), "{body}");
    let (code, _) = curl(
        admin,
        "PUT",
        "/faults",
        r#"{"seed": 5, "rules": [{"name": "force", "when": {"command": "INSTREAM"}, "fault": {"kind": "infected", "name": "Admin.Forced"}}]}"#,
    ).await;
    assert_eq!(code, 200);
    assert_eq!(
        exchange(a, &instream(b"fine", 4)).await,
        eof(b"stream: Admin.Forced FOUND\0")
    );
    let v = curl_json(admin, "/stats").await;
    assert_eq!(v["connections"], 1);
    assert_eq!(v["faults_fired"], 1);
    assert_eq!(v["rules"][0]["name"], "force");
    assert_eq!(v["per_connection"][0]["commands"], 1);
    let (code, _) = curl(admin, "PUT", "/faults", "{not json").await;
    assert_eq!(code, 400);
    let (code, _) = curl(admin, "DELETE", "/faults", "").await;
    assert_eq!(code, 200);
    assert_eq!(
        exchange(a, &instream(b"fine", 4)).await,
        eof(b"stream: OK\0")
    );
    let (code, body) = curl(admin, "POST", "/reset", "").await;
    assert_eq!(code, 200);
    assert!(body.contains("\"connections\": 0"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_faults_file_fault_shorthand_and_admin_flag() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_in(
        dir.path(),
        "scenario.toml",
        "seed = 11\n[[rule]]\nwhen = { command = \"VERSION\" }\nfault = { kind = \"garbage\", text = \"???\" }\n",
    );
    let (mut child, said) = start_announcing(
        std::process::Command::new(env!("CARGO_BIN_EXE_fake-clamd"))
            .args(["--tcp-port", "0", "--admin", "127.0.0.1:0", "--faults"])
            .arg(&scenario)
            .args(["--fault", "timeout@command=STATS"])
            .stderr(std::process::Stdio::piped()),
        &["LISTENING tcp ", "ADMIN "],
    );
    let tcp: SocketAddr = said[0].parse().unwrap();
    let admin: SocketAddr = said[1].parse().unwrap();
    assert_eq!(exchange(tcp, b"zVERSION\0").await, eof(b"???"));
    assert_eq!(
        exchange(tcp, b"zSTATS\0").await,
        eof(b"COMMAND READ TIMED OUT\n")
    );
    let (code, body) = curl(admin, "GET", "/faults", "").await;
    assert_eq!(code, 200);
    assert!(
        body.contains("\"seed\": 11") && body.contains("\"garbage\""),
        "{body}"
    );
    let _ = curl(admin, "DELETE", "/faults", "").await;
    assert_eq!(exchange(tcp, b"zVERSION\0").await, eof(b"ClamAV 1.4.6\0"));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fault plan seed 11"), "{err}");
    // a bad scenario: one message, exit 2
    std::fs::write(&scenario, "[[rule]]\nfault = { kind = \"explode\" }\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fake-clamd"))
        .args(["--tcp-port", "0", "--faults"])
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("explode"));
}

/// 32 MiB of INSTREAM: more than loopback socket buffers hold, so a daemon that stops
/// reading blocks the writer.
fn big_instream() -> Vec<u8> {
    instream(&vec![b'a'; 32 << 20], 64 * 1024)
}

/// CLAMD-CLIENT-10 (a daemon may accept and never answer: full MaxQueue), fault
/// `stop-reading`: from the INSTREAM command the fake reads and writes nothing and keeps the
/// socket open, so the client's upload blocks; once the hold ends the connection is reset
/// and the blocked upload fails.
#[tokio::test]
async fn fault_stop_reading_blocks_the_upload_until_the_hold_ends() {
    let plan = FaultPlan::from_shorthand("stop-reading:/2000@command=INSTREAM").unwrap();
    let clamd = server(plan).await;
    let t0 = Instant::now();
    let mut c = TcpStream::connect(clamd.addr().unwrap()).await.unwrap();
    let body = big_instream();
    let (how, written) = fixtures::wire::upload(&mut c, &body, Duration::from_secs(1)).await;
    assert_eq!(
        how,
        fixtures::wire::Upload::Blocked,
        "{written} bytes written"
    );
    assert!(written < body.len() as u64 / 2, "{written} bytes written");
    // open and silent: no reply, no close
    let (mut rd, mut wr) = c.into_split();
    assert_eq!(
        read_end(&mut rd, Duration::from_millis(300)).await,
        End::Silent(Vec::new())
    );
    let (how, _) = fixtures::wire::upload(&mut wr, &body, T).await;
    assert!(matches!(how, fixtures::wire::Upload::Failed(_)), "{how:?}");
    let held = t0.elapsed();
    assert!(held >= Duration::from_millis(1900), "held only {held:?}");
    assert!(held < Duration::from_secs(8), "held {held:?}");
    assert_eq!(clamd.faults().stats().rules[0].fired, 1);
}

/// CLAMD-CLIENT-10, `stop-reading` with `after_bytes`: the fake takes exactly that many
/// more bytes after the trigger, then nothing.
#[tokio::test]
async fn fault_stop_reading_after_bytes_stops_at_that_byte() {
    let plan = FaultPlan::from_shorthand("stop-reading:100000/1500@command=INSTREAM").unwrap();
    let clamd = server(plan).await;
    let mut c = TcpStream::connect(clamd.addr().unwrap()).await.unwrap();
    let (how, _) = fixtures::wire::upload(&mut c, &big_instream(), Duration::from_secs(1)).await;
    assert_eq!(how, fixtures::wire::Upload::Blocked);
    let got = clamd.faults().stats().per_connection[0].bytes_in;
    // the command's read (at most the 4104-byte command buffer), then exactly 100000
    assert!(
        (100_000 + 11..=100_000 + 4104).contains(&got),
        "{got} bytes read"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(clamd.faults().stats().per_connection[0].bytes_in, got);
}

/// CLAMD-CLIENT-10: `stop-reading` before the first byte (`after_bytes = 0` at accept: a
/// stopped daemon) holds a long time, but stopping the daemon ends the connection at once.
#[tokio::test]
async fn fault_stop_reading_at_accept_ends_at_shutdown() {
    let clamd = server(always(Fault::StopReading {
        after_bytes: Some(0),
        hold_ms: Some(600_000),
    }))
    .await;
    let mut c = TcpStream::connect(clamd.addr().unwrap()).await.unwrap();
    let body = big_instream();
    let (how, _) = fixtures::wire::upload(&mut c, &body, Duration::from_secs(1)).await;
    assert_eq!(how, fixtures::wire::Upload::Blocked);
    assert_eq!(clamd.faults().stats().per_connection[0].bytes_in, 0);
    let t0 = Instant::now();
    clamd.shutdown();
    let (how, _) = fixtures::wire::upload(&mut c, &body, T).await;
    assert!(matches!(how, fixtures::wire::Upload::Failed(_)), "{how:?}");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}
