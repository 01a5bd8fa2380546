//! Injected faults (crate `faults`) observed on the wire from a raw tokio client: one test
//! per fault kind and trigger that applies to SVSP, plus the runtime handle and admin API.
//! The vocabulary added for issue 13 (verdict point, replies, every, reply texts) is in
//! `one_language.rs`.

mod common;
use common::*;
use fake_vfindd::FakeDaemon;
use std::time::{Duration, Instant};

use faults::{DelayAt, Fault, FaultPlan, LimitMode, Rule, SplitAt, Trigger};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use fixtures::admin_http::{curl, curl_json};
use fixtures::seeded::{assert_seeded_replay, sample};
use fixtures::wire::read_end_text as read_end;
use fixtures::wire::read_once;

fn always(f: Fault) -> FaultPlan {
    FaultPlan::new().seed(1).with(Trigger::always(), f)
}

const CLEAN: &str = "READY\r\nQUEUED\r\nSCANNING \"/clean\"\r\nDONE 0 : \"/clean\"\r\nOK\r\n";

/// Every reply (or read, or byte) delayed by `ms`.
fn delay_always(ms: u64, at: DelayAt) -> FaultPlan {
    always(Fault::Delay { ms, at })
}

#[tokio::test]
async fn fault_delay_before_reply() {
    let v = server(FaultPlan::new().with(
        Trigger::command("SCAN"),
        Fault::Delay {
            ms: 300,
            at: DelayAt::Reply,
        },
    ))
    .await;
    let t0 = Instant::now();
    assert_eq!(session(v.s.addr(), &["SCAN/FILE /clean"]).await, eof(CLEAN));
    assert!(t0.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn fault_delay_between_bytes() {
    let v = server(delay_always(30, DelayAt::Bytes)).await;
    let mut c = TcpStream::connect(v.s.addr()).await.unwrap();
    assert_eq!(read_once(&mut c, T).await, b"R", "first byte alone");
    c.write_all(b"QUIT\r\n").await.unwrap();
    assert_eq!(read_end(&mut c, T).await, eof("EADY\r\nOK\r\n"));
}

#[tokio::test]
async fn fault_delay_per_read_and_slow_read() {
    let v = server(delay_always(250, DelayAt::Read)).await;
    let t0 = Instant::now();
    assert_eq!(session(v.s.addr(), &[]).await, eof("READY\r\nOK\r\n"));
    assert!(t0.elapsed() >= Duration::from_millis(250));
    let v = server(always(Fault::SlowRead { bytes: 1, ms: 20 })).await;
    let t0 = Instant::now();
    assert_eq!(session(v.s.addr(), &[]).await, eof("READY\r\nOK\r\n"));
    // QUIT\r\n: 6 reads, 20 ms before each
    assert!(
        t0.elapsed() >= Duration::from_millis(120),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn fault_split_reply_byte_and_random() {
    for at in [SplitAt::Byte, SplitAt::Random] {
        let v = server(always(Fault::SplitReply { at, ms: 30 })).await;
        let mut c = TcpStream::connect(v.s.addr()).await.unwrap();
        let first = read_once(&mut c, T).await;
        assert!(first.len() < 7, "READY\\r\\n not in one piece ({at:?})");
        c.write_all(b"QUIT\r\n").await.unwrap();
        let End::Eof(rest) = read_end(&mut c, T).await else {
            panic!()
        };
        assert_eq!(
            format!("{}{rest}", String::from_utf8_lossy(&first)),
            "READY\r\nOK\r\n"
        );
    }
}

#[tokio::test]
async fn fault_drop_at_command_and_after_bytes() {
    let v =
        server(FaultPlan::new().with(Trigger::command("SCAN"), Fault::Drop { after_bytes: None }))
            .await;
    assert_eq!(
        session(v.s.addr(), &["ENABLE RECURSE", "SCAN/FILE /clean"]).await,
        eof("READY\r\nOK\r\n")
    );
    let v = server(FaultPlan::new().with(
        Trigger::always(),
        Fault::Drop {
            after_bytes: Some(20),
        },
    ))
    .await;
    let mut c = TcpStream::connect(v.s.addr()).await.unwrap();
    // armed at accept: the first 16 bytes are served, the next read crosses 20
    c.write_all(b"ENABLE RECURSE\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.write_all(b"ENABLE RECURSE\r\n").await.unwrap();
    assert_eq!(read_end(&mut c, T).await, eof("READY\r\nOK\r\n"));
}

#[tokio::test]
async fn fault_reset() {
    let v = server(FaultPlan::new().with(Trigger::command("SCAN"), Fault::Reset)).await;
    let mut c = TcpStream::connect(v.s.addr()).await.unwrap();
    c.write_all(b"SCAN/FILE /clean\r\n").await.unwrap();
    assert_eq!(read_end(&mut c, T).await, End::Reset("READY\r\n".into()));
}

#[tokio::test]
async fn fault_never_reply() {
    let v = server(FaultPlan::new().with(Trigger::command("SCAN"), Fault::NeverReply)).await;
    let mut c = TcpStream::connect(v.s.addr()).await.unwrap();
    c.write_all(b"SCAN/FILE /clean\r\nQUIT\r\n").await.unwrap();
    assert_eq!(
        read_end(&mut c, Duration::from_millis(700)).await,
        End::Silent("READY\r\n".into())
    );
}

/// A refused connection is also in the daemon's account of refused peers (by the client's
/// own address: what a recording proxy matches its connections by), the next one not.
#[tokio::test]
async fn fault_refuse_connections_and_denied_greeting() {
    let v = server(FaultPlan::new().with(Trigger::connection(1), Fault::Refuse)).await;
    let mut c = TcpStream::connect(v.s.addr()).await.unwrap();
    let refused: SocketAddr = c.local_addr().unwrap();
    assert_eq!(read_end(&mut c, T).await, End::Reset(String::new()));
    assert_eq!(session(v.s.addr(), &[]).await, eof("READY\r\nOK\r\n"));
    assert_eq!(v.s.refused_peers(), [refused]);
    // SVSP-RESP-DENIED-1 greeting on demand
    let v = server(FaultPlan::new().with(Trigger::connection(1), Fault::Denied)).await;
    let mut c = TcpStream::connect(v.s.addr()).await.unwrap();
    assert_eq!(read_end(&mut c, T).await, eof("DENIED\r\n"));
}

#[tokio::test]
async fn fault_garbage_and_truncated_reply() {
    let v = server(FaultPlan::new().with(
        Trigger::command("SCAN"),
        Fault::Garbage {
            text: Some("%%%\r\n".into()),
            len: 0,
        },
    ))
    .await;
    assert_eq!(
        session(v.s.addr(), &["SCAN/FILE /clean"]).await,
        eof("READY\r\n%%%\r\n")
    );
    let v = server(FaultPlan::new().with(
        Trigger::command("SCAN"),
        Fault::Truncate {
            keep: Some(3),
            through: None,
        },
    ))
    .await;
    assert_eq!(
        session(v.s.addr(), &["SCAN/FILE /clean"]).await,
        eof("READY\r\nQUE")
    );
}

#[tokio::test]
async fn fault_forced_verdicts() {
    let v = server(always(Fault::Infected {
        name: "Fake Forced.A".into(),
    }))
    .await;
    assert_eq!(
        session(v.s.addr(), &["7 SCAN/FILE /clean"]).await,
        eof("READY\r\n7 QUEUED\r\n7 SCANNING \"/clean\"\r\n7 INFECTED Fake Forced.A : \"/clean\" : \r\n7 DONE 1 : \"/clean\"\r\nOK\r\n")
    );
    let v = server(always(Fault::Clean)).await;
    assert_eq!(
        session(v.s.addr(), &["SCAN/FILE /eicar"]).await,
        eof("READY\r\nQUEUED\r\nSCANNING \"/eicar\"\r\nDONE 0 : \"/eicar\"\r\nOK\r\n")
    );
}

#[tokio::test]
async fn fault_error_errno_eagain_efault() {
    let cases = [
        (
            Fault::Error {
                text: "Disk on fire".into(),
            },
            "EFAULT Disk on fire",
        ),
        (
            Fault::Errno {
                name: "EACCES".into(),
                text: Some("\"/clean\"".into()),
            },
            "EACCES \"/clean\"",
        ),
        (Fault::Eagain, "EAGAIN Server busy"),
        (Fault::Efault, "EFAULT Internal error"),
    ];
    for (f, line) in cases {
        let v = server(FaultPlan::new().with(Trigger::command("SCAN"), f.clone())).await;
        let got = session(v.s.addr(), &["SCAN/FILE /clean"]).await;
        let End::Eof(text) = got else { panic!("{f:?}") };
        assert!(text.contains(&format!("{line}\r\n")), "{f:?}: {text:?}");
        assert!(!text.contains("DONE"), "{f:?}: {text:?}");
        assert!(text.ends_with("OK\r\n"), "connection survives: {text:?}");
    }
}

#[tokio::test]
async fn fault_timeout_is_a_silent_close() {
    let v = server(FaultPlan::new().with(Trigger::command("SCAN"), Fault::Timeout)).await;
    assert_eq!(
        session(v.s.addr(), &["SCAN/FILE /clean"]).await,
        eof("READY\r\n")
    );
}

#[tokio::test]
async fn fault_stream_limit() {
    let v = server(FaultPlan::new().with(
        Trigger::command("SCAN"),
        Fault::StreamLimit {
            mode: LimitMode::Configured,
        },
    ))
    .await;
    let End::Eof(text) = session(v.s.addr(), &["1 SCAN/FILE /clean"]).await else {
        panic!()
    };
    assert!(text.starts_with("READY\r\n1 EINVAL "), "{text:?}");
    assert!(!text.contains("DONE"));
}

#[tokio::test]
async fn trigger_nth_connection_and_kth_request() {
    let v = server(FaultPlan::new().with(Trigger::connection(2), Fault::Eagain)).await;
    assert_eq!(session(v.s.addr(), &["SCAN/FILE /clean"]).await, eof(CLEAN));
    let End::Eof(t) = session(v.s.addr(), &["SCAN/FILE /clean"]).await else {
        panic!()
    };
    assert!(t.contains("EAGAIN Server busy"), "{t:?}");
    assert_eq!(session(v.s.addr(), &["SCAN/FILE /clean"]).await, eof(CLEAN));
    let v = server(FaultPlan::new().with(Trigger::request(2), Fault::Efault)).await;
    let End::Eof(t) = session(
        v.s.addr(),
        &[
            "1 SCAN/FILE /clean",
            "2 SCAN/FILE /clean",
            "3 SCAN/FILE /clean",
        ],
    )
    .await
    else {
        panic!()
    };
    // requests interleave (SVSP-CONC-2): compare the lines of each id
    let mut got: Vec<&str> = t.split("\r\n").collect();
    got.sort_unstable();
    let mut want = vec![
        "READY",
        "1 QUEUED",
        "1 SCANNING \"/clean\"",
        "1 DONE 0 : \"/clean\"",
        "2 EFAULT Internal error",
        "3 QUEUED",
        "3 SCANNING \"/clean\"",
        "3 DONE 0 : \"/clean\"",
        "OK",
        "",
    ];
    want.sort_unstable();
    assert_eq!(got, want);
}

#[tokio::test]
async fn trigger_after_n_bytes_and_times() {
    let v =
        server(FaultPlan::new().rule(Rule::new(Trigger::bytes(30), Fault::Eagain).times(1))).await;
    async fn two_scans(addr: SocketAddr) -> String {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut got = String::new();
        let mut buf = [0u8; 1024];
        for id in 1..=2 {
            let line = format!("{id} SCAN/FILE /clean\r\n");
            c.write_all(line.as_bytes()).await.unwrap();
            // wait for this request's terminal line
            while !got.contains(&format!("{id} DONE")) && !got.contains(&format!("{id} EAGAIN")) {
                let n = tokio::time::timeout(T, c.read(&mut buf))
                    .await
                    .unwrap()
                    .unwrap();
                assert!(n > 0, "{got:?}");
                got.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        got
    }
    // 20 bytes: no fault; the second line brings the count to 40
    let t = two_scans(v.s.addr()).await;
    assert!(
        t.contains("1 DONE 0") && t.ends_with("2 EAGAIN Server busy\r\n"),
        "{t:?}"
    );
    let t = two_scans(v.s.addr()).await;
    assert!(t.ends_with("2 DONE 0 : \"/clean\"\r\n"), "times = 1: {t:?}");
}

#[tokio::test]
async fn trigger_probability_seeded_replays_exactly() {
    assert_seeded_replay(2024, |seed| async move {
        let plan = FaultPlan::new().seed(seed);
        let v = server(plan.with(Trigger::probability(0.5), Fault::Eagain)).await;
        let a = v.s.addr();
        sample(12, || async move {
            match session(a, &["SCAN/FILE /clean"]).await {
                End::Eof(t) => t.contains("EAGAIN"),
                other => panic!("{other:?}"),
            }
        })
        .await
    })
    .await;
}

#[tokio::test]
async fn runtime_handle_and_stats() {
    let v = server(FaultPlan::new()).await;
    assert_eq!(session(v.s.addr(), &["SCAN/FILE /clean"]).await, eof(CLEAN));
    v.s.faults()
        .replace(FaultPlan::new().with(Trigger::command("scan"), Fault::Timeout));
    assert_eq!(
        session(v.s.addr(), &["SCAN/FILE /clean"]).await,
        eof("READY\r\n")
    );
    v.s.faults().clear();
    assert_eq!(session(v.s.addr(), &["SCAN/FILE /clean"]).await, eof(CLEAN));
    let st = v.s.faults().stats();
    assert_eq!((st.connections, st.faults_fired), (3, 1));
    assert_eq!(st.commands, 2 + 1 + 2);
    assert_eq!(st.per_connection[0].bytes_out as usize, CLEAN.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_faults_file_shorthand_and_admin_api() {
    let dir = root_with(&[("clean", b"x")]);
    let scenario = fixtures::files::write_in(
        dir.path(),
        "s.toml",
        "seed = 3\n[[rule]]\nname = \"busy\"\nwhen = { command = \"SCAN\", request = 1 }\nfault = { kind = \"eagain\" }\n",
    );
    let (mut child, said) = fixtures::daemon::start_announcing(
        std::process::Command::new(env!("CARGO_BIN_EXE_fake-vfindd"))
            .args(["--svsp-port=0", "--admin", "127.0.0.1:0", "--faults"])
            .arg(&scenario)
            .args([
                // one value = one shorthand spec, as fake-clamd: `;` between rules, commas
                // between conditions; the legacy counter is an alias
                "--fault",
                "eagain-every:1000;efault@command=SCAN,request=2,times=1",
            ])
            .arg("--scan-root")
            .arg(dir.path())
            .stderr(std::process::Stdio::piped()),
        &["LISTENING ", "ADMIN "],
    );
    let port: u16 = said[0].parse().unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let admin: SocketAddr = said[1].parse().unwrap();
    let file = format!("SCAN/FILE {}", dir.path().join("clean").display());
    let End::Eof(t) = session(addr, &[&file, &file, &file]).await else {
        panic!()
    };
    let lines_got: Vec<&str> = t.split("\r\n").collect();
    assert_eq!(lines_got[1], "EAGAIN Server busy", "{t:?}");
    assert_eq!(lines_got[2], "EFAULT Internal error", "{t:?}");
    assert!(
        lines_got[3..].iter().any(|l| l.starts_with("DONE 0")),
        "{t:?}"
    );
    let v = curl_json(admin, "/stats").await;
    assert_eq!(v["seed"], 3);
    assert_eq!(v["faults_fired"], 2);
    assert_eq!(v["rules"][0]["name"], "busy");
    let v = curl_json(admin, "/faults").await;
    assert_eq!(v["rules"][1]["when"]["every"], 1000, "{v}");
    assert_eq!(v["rules"][1]["fault"]["kind"], "eagain", "{v}");
    assert_eq!(v["rules"][2]["when"]["request"], 2, "{v}");
    assert_eq!(v["rules"][2]["times"], 1, "{v}");
    let (code, _) = curl(
        admin,
        "PUT",
        "/faults",
        r#"{"rules":[{"when":{"command":"SCAN"},"fault":{"kind":"infected","name":"Admin.Virus"}}]}"#,
    ).await;
    assert_eq!(code, 200);
    let End::Eof(t) = session(addr, &[&file]).await else {
        panic!()
    };
    assert!(
        t.contains("INFECTED Admin.Virus : ") && t.contains("DONE 1 : "),
        "{t:?}"
    );
    assert_eq!(curl(admin, "DELETE", "/faults", "").await.0, 200);
    let End::Eof(t) = session(addr, &[&file]).await else {
        panic!()
    };
    assert!(t.contains("DONE 0 : "), "{t:?}");
    let (code, body) = curl(admin, "POST", "/reset", "").await;
    assert_eq!(code, 200);
    assert!(body.contains("\"connections\": 0"));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("fault plan seed 3"));
}

/// SVSP-CLIENT-19 (apply the client's own timeouts), fault `stop-reading` at a SCAN/REQUEST:
/// the fake sends `SEND <port>`, accepts the data channel and never reads it, so the
/// client's upload blocks; the control connection stays open and silent. After the hold the
/// data channel is reset and the upload fails.
#[tokio::test]
async fn fault_stop_reading_blocks_a_data_channel_upload() {
    let v = server(FaultPlan::from_shorthand("stop-reading:/2000@command=SCAN").unwrap()).await;
    let t0 = Instant::now();
    let mut c = Client::connect(v.s.addr()).await;
    c.send("1 SCAN/REQUEST big").await;
    let mut d = data_channel(&mut c, "1").await;
    let body = vec![b'a'; 32 << 20];
    let (how, written) = fixtures::wire::upload(&mut d, &body, Duration::from_secs(1)).await;
    assert_eq!(
        how,
        fixtures::wire::Upload::Blocked,
        "{written} bytes written"
    );
    assert_eq!(
        read_end(&mut c.rd, Duration::from_millis(300)).await,
        fixtures::wire::End::Silent(String::new())
    );
    let (how, _) = fixtures::wire::upload(&mut d, &body, T).await;
    assert!(matches!(how, fixtures::wire::Upload::Failed(_)), "{how:?}");
    assert!(
        t0.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        t0.elapsed()
    );
}

/// A fake with SCAN/DATA (`--enable-future`) and a 64 MiB stream limit, running `spec`.
async fn data_server(spec: &str) -> fake_vfindd::FakeVfindd {
    fake_vfindd::FakeVfindd::builder()
        .enable_future(true)
        .stream_max_length(64 << 20)
        .faults(FaultPlan::from_shorthand(spec).unwrap())
        .start()
        .await
        .unwrap()
}

/// SVSP-CLIENT-19, `stop-reading` at a SCAN/DATA: the body goes over the control
/// connection, which the fake stops reading (no SEND line), so the upload blocks; shutting
/// the daemon down ends the held connection at once.
#[tokio::test]
async fn fault_stop_reading_blocks_an_inline_upload_until_shutdown() {
    let v = data_server("stop-reading:/600000@command=SCAN").await;
    let mut c = Client::connect(v.addr()).await;
    let body = vec![b'a'; 32 << 20];
    let mut bytes = format!("1 SCAN/DATA {} big\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(&body);
    let (how, _) = fixtures::wire::upload(&mut c.wr, &bytes, Duration::from_secs(1)).await;
    assert_eq!(how, fixtures::wire::Upload::Blocked);
    assert_eq!(
        read_end(&mut c.rd, Duration::from_millis(300)).await,
        fixtures::wire::End::Silent(String::new())
    );
    let t0 = Instant::now();
    v.shutdown();
    let (how, _) = fixtures::wire::upload(&mut c.wr, &bytes, T).await;
    assert!(matches!(how, fixtures::wire::Upload::Failed(_)), "{how:?}");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

/// SVSP-CLIENT-19, `stop-reading` with `after_bytes` inside a SCAN/DATA body: the fake takes
/// exactly that many more bytes of it after the command, then nothing.
#[tokio::test]
async fn fault_stop_reading_after_bytes_inside_a_data_body() {
    let v = data_server("stop-reading:100000/1500@command=SCAN").await;
    let mut c = Client::connect(v.addr()).await;
    let body = vec![b'a'; 32 << 20];
    c.send(&format!("1 SCAN/DATA {} big", body.len())).await;
    assert_eq!(c.line().await.as_deref(), Some("1 SEND"));
    let (how, _) = fixtures::wire::upload(&mut c.wr, &body, Duration::from_secs(1)).await;
    assert_eq!(how, fixtures::wire::Upload::Blocked);
    let read = |v: &fake_vfindd::FakeVfindd| v.faults().stats().per_connection[0].bytes_in;
    let line = "1 SCAN/DATA 33554432 big\r\n".len() as u64;
    assert_eq!(read(&v), line + 100_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(read(&v), line + 100_000);
}
