//! The clamd engine against the in-process fake clamd: every verdict over TCP and unix, every
//! size-limit outcome mode, timeouts, and the recorded commands (IDSESSION, numbering, END).

mod common;

use fake_clamd::FakeDaemon;
use std::time::Duration;

use common::*;
use fake_clamd::{FakeClamd, StreamLimitMode};
use fave::{Address, Client, ClientConfig, FaveError, Framing, LimitOrigin, Report, Verdict};

fn scan_all(cfg: ClientConfig, inputs: Vec<Vec<u8>>) -> Vec<Report> {
    let mut c = Client::new(cfg).unwrap();
    let r = inputs.iter().map(|d| c.scan_bytes("x", d)).collect();
    c.close();
    r
}

/// A fake whose CommandReadTimeout and ReadTimeout are 1 s, and a client config for it.
async fn one_second_timeouts() -> (FakeClamd, ClientConfig) {
    let fake = FakeClamd::builder()
        .timeouts(Duration::from_secs(1), Duration::from_secs(1))
        .timeout_slack(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let cfg = clamd_cfg(tcp(fake.addr().expect("tcp")));
    (fake, cfg)
}

/// CLAMD-INSTREAM-3 / CLAMD-SESSION-3 / CLAMD-CLIENT-9 over TCP and unix, z and n framing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_instream_3_all_verdicts_tcp_and_unix() {
    let fake = FakeClamd::builder()
        .unix_socket_in_temp()
        .start()
        .await
        .unwrap();
    let unix = Address::Unix(fake.socket_path().unwrap().to_path_buf());
    for (addr, framing) in [
        (tcp(fake.addr().expect("tcp")), Framing::Z),
        (unix, Framing::N),
    ] {
        let mut cfg = clamd_cfg(addr.clone());
        cfg.framing = framing;
        cfg.chunk_size = 1000;
        let inputs = vec![
            clean_bytes(250_000, 1),
            eicar(),
            zip_with("a/b/eicar.com", &eicar()),
            scan_engine::MARKER_BYTES.to_vec(),
            Vec::new(),
        ];
        let r = blocking(move || scan_all(cfg, inputs)).await;
        assert_eq!(r[0].verdict, Verdict::Clean, "{addr}");
        assert_eq!(r[0].stats.chunks, 250);
        assert!(is_eicar(&r[1].verdict), "{addr}: {:?}", r[1].verdict);
        assert!(is_eicar(&r[2].verdict), "{addr}: {:?}", r[2].verdict);
        assert!(
            matches!(&r[3].verdict, Verdict::Infected(n) if n[0].starts_with(scan_engine::MARKER_NAME)),
            "{:?}",
            r[3].verdict
        );
        assert_eq!(r[4].verdict, Verdict::Clean);
        assert_eq!(
            r.iter().map(|x| x.stats.connections).sum::<u64>(),
            1,
            "one session for all"
        );
    }
    // the fake saw: IDSESSION, INSTREAM #1..#5, END, per connection
    let cmds = fake.commands();
    let ids: Vec<_> = cmds
        .iter()
        .filter(|c| c.conn == 1)
        .map(|c| (c.session_id, format!("{:?}", c.command)))
        .collect();
    assert_eq!(
        ids.first().map(|x| x.1.as_str()),
        Some("IdSession"),
        "{ids:?}"
    );
    assert_eq!(
        ids.iter()
            .filter(|x| x.1 == "Instream")
            .map(|x| x.0)
            .collect::<Vec<_>>(),
        (1..=5).map(Some).collect::<Vec<_>>()
    );
    assert_eq!(ids.last().map(|x| x.1.as_str()), Some("End"), "{ids:?}");
}

/// CLAMD-INSTREAM-8.
///
/// CLAMD-INSTREAM-4/5/8, CLAMD-CLIENT-4: every limit outcome mode is an error, never clean;
/// with a reply we can read it is the distinct too-large error. Exact limit is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_instream_8_every_limit_mode_is_error() {
    for mode in [
        StreamLimitMode::Faithful,
        StreamLimitMode::Close,
        StreamLimitMode::ReplyDrain,
        StreamLimitMode::Reset,
    ] {
        let fake = FakeClamd::builder()
            .stream_max_length(1 << 20)
            .stream_limit(mode)
            .start()
            .await
            .unwrap();
        let cfg = clamd_cfg(tcp(fake.addr().expect("tcp")));
        let r = blocking(move || {
            scan_all(
                cfg,
                vec![
                    clean_bytes(1 << 20, 2),
                    clean_bytes((1 << 20) + 1, 3),
                    clean_bytes(8 << 20, 4),
                    eicar(),
                ],
            )
        })
        .await;
        assert_eq!(
            r[0].verdict,
            Verdict::Clean,
            "{mode:?}: exact StreamMaxLength accepted"
        );
        for x in &r[1..3] {
            match mode {
                StreamLimitMode::Close | StreamLimitMode::ReplyDrain => assert!(
                    is_too_large(&x.verdict, LimitOrigin::Server),
                    "{mode:?}: {:?}",
                    x.verdict
                ),
                _ => assert!(
                    matches!(
                        x.verdict,
                        Verdict::Error(FaveError::TooLarge { .. } | FaveError::ConnectionLost(_))
                    ),
                    "{mode:?}: {:?}",
                    x.verdict
                ),
            }
        }
        assert!(
            is_eicar(&r[3].verdict),
            "{mode:?}: a fresh session after the limit"
        );
    }
}

/// CLAMD-SESSION-8: an idle session timed out by the daemon is replaced transparently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_session_8_idle_session_replaced() {
    let (_fake, cfg) = one_second_timeouts().await;
    let r = blocking(move || {
        let mut c = Client::new(cfg).unwrap();
        let a = c.scan_bytes("a", b"one");
        std::thread::sleep(Duration::from_millis(2500));
        let b = c.scan_bytes("b", &eicar());
        (a, b)
    })
    .await;
    assert_eq!(r.0.verdict, Verdict::Clean);
    assert!(is_eicar(&r.1.verdict), "{:?}", r.1.verdict);
    assert_eq!(r.1.stats.connections, 1, "reconnected");
}

/// CLAMD-INSTREAM-7 / CLAMD-TIME-2: a writer that stalls longer than ReadTimeout gets an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_instream_7_stalled_writer_is_error() {
    let (_fake, cfg) = one_second_timeouts().await;
    let v = blocking(move || {
        let mut c = Client::new(cfg).unwrap();
        let mut s = c.open("slow");
        s.write(b"first").unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        let _ = s.write(b"second");
        s.close().verdict
    })
    .await;
    assert!(
        matches!(
            v,
            Verdict::Error(FaveError::DaemonTimeout(_) | FaveError::ConnectionLost(_))
        ),
        "{v:?}"
    );
}

/// CLAMD-SESSION-4 / CLAMD-CLIENT-9: pipelined files in one session, replies held until END
/// and sent in reverse or random order, matched by number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_session_4_pipelined_reverse_and_random_order() {
    use fake_clamd::SessionOrder;
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        tmp_file(&dir, "a.txt", b"clean a"),
        tmp_file(&dir, "e.com", &eicar()),
        dir.path().join("missing"),
        tmp_file(&dir, "z.zip", &zip_with("x/e.com", &eicar())),
        tmp_file(&dir, "b.bin", &clean_bytes(200_000, 4)),
    ];
    for order in [
        SessionOrder::Reverse,
        SessionOrder::Random,
        SessionOrder::Arrival,
    ] {
        let fake = FakeClamd::builder()
            .session_order(order)
            .start()
            .await
            .unwrap();
        let cfg = clamd_cfg(tcp(fake.addr().expect("tcp")));
        let f2 = files.clone();
        let r = blocking(move || {
            let mut c = Client::new(cfg).unwrap();
            c.scan_files_pipelined(&f2)
        })
        .await;
        assert_eq!(r[0].verdict, Verdict::Clean, "{order:?}");
        assert!(is_eicar(&r[1].verdict), "{order:?}: {:?}", r[1].verdict);
        assert!(matches!(
            r[2].verdict,
            Verdict::Error(FaveError::LocalIo(_))
        ));
        assert!(is_eicar(&r[3].verdict), "{order:?}: {:?}", r[3].verdict);
        assert_eq!(r[4].verdict, Verdict::Clean, "{order:?}");
        let conns: std::collections::BTreeSet<u64> =
            fake.commands().iter().map(|c| c.conn).collect();
        assert_eq!(conns.len(), 1, "{order:?}: one session for the batch");
    }
}

/// CLAMD-INSTREAM-5.
///
/// Pipelined with a too-large file in the middle: its own error is too-large, the session
/// ends, and the other files still get their right verdicts (retried on new sessions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_instream_5_pipelined_limit_mid_batch() {
    use fake_clamd::SessionOrder;
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        tmp_file(&dir, "e.com", &eicar()),
        tmp_file(&dir, "big", &clean_bytes(300_000, 1)),
        tmp_file(&dir, "c.txt", b"clean"),
    ];
    let fake = FakeClamd::builder()
        .stream_max_length(100_000)
        .stream_limit(StreamLimitMode::Close)
        .session_order(SessionOrder::Reverse)
        .start()
        .await
        .unwrap();
    let cfg = clamd_cfg(tcp(fake.addr().expect("tcp")));
    let r = blocking(move || Client::new(cfg).unwrap().scan_files_pipelined(&files)).await;
    assert!(is_eicar(&r[0].verdict), "{:?}", r[0].verdict);
    assert!(
        matches!(
            r[1].verdict,
            Verdict::Error(FaveError::TooLarge { .. } | FaveError::ConnectionLost(_))
        ),
        "{:?}",
        r[1].verdict
    );
    assert_eq!(r[2].verdict, Verdict::Clean);
}
