//! RELOAD, VERSION text, official names, ExcludePath, MaxDirectoryRecursion, symlinks.

mod common;

use std::time::Duration;

use common::*;
use fake_clamd::FakeClamd;

/// CLAMD-CMD-4.
#[tokio::test]
async fn clamd_cmd_4_reload_rereads_the_database() {
    let corpus = Corpus::new();
    let markers = corpus.db().join("markers.ndb");
    let saved = std::fs::read(&markers).unwrap();
    std::fs::remove_file(&markers).unwrap();
    let s = started(corpus.builder()).await;
    let p = String::from_utf8(corpus.p("markers.txt")).unwrap();
    let scan = format!("zSCAN {p}\0");
    assert_eq!(
        ask(&s, scan.as_bytes()).await,
        format!("{p}: OK\0").into_bytes()
    );
    std::fs::write(&markers, saved).unwrap();
    assert_eq!(ask(&s, b"zRELOAD\0").await, b"RELOADING\0");
    let want = format!("{p}: Oracle.Test.MarkerB-1.UNOFFICIAL FOUND\0").into_bytes();
    let mut got = Vec::new();
    for _ in 0..100 {
        got = ask(&s, scan.as_bytes()).await;
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(got, want);
}

/// CLAMD-CMD-2.
#[tokio::test]
async fn clamd_cmd_2_version_text_configurable_and_det_2_official_names() {
    let corpus = Corpus::new();
    let version = "ClamAV 1.4.6/27830/Sun Nov 22 09:26:02 2026";
    let s = started(corpus.builder().version_text(version).official_names(true)).await;
    assert_eq!(
        ask(&s, b"nVERSION\n").await,
        format!("{version}\n").into_bytes()
    );
    let e = scan_engine::eicar();
    let req = cat(&[b"zINSTREAM\0", &chunk(&e), b"\0\0\0\0"]);
    assert_eq!(ask(&s, &req).await, b"stream: Win.Test.EICAR_HDB-1 FOUND\0");
}

/// CLAMD-SCAN-11.
#[tokio::test]
async fn clamd_scan_11_exclude_path_and_recursion_limit() {
    let corpus = Corpus::new();
    let conf = conf_with(
        &corpus.db(),
        "ExcludePath b_eicar\\.com$\nMaxDirectoryRecursion 1\n",
    );
    let s = start_conf(&conf).await;
    let p = String::from_utf8(corpus.p("mixed")).unwrap();
    // sub/ is at depth 1 (allowed); b_eicar.com excluded
    assert_eq!(
        ask(&s, format!("zCONTSCAN {p}\0").as_bytes()).await,
        format!("{p}/b_eicar.com: Excluded\0{p}/sub/d_eicar.com: {UNOFFICIAL_EICAR} FOUND\0")
            .into_bytes()
    );
    let conf0 = conf
        .replace("MaxDirectoryRecursion 1", "MaxDirectoryRecursion 0")
        .replace("ExcludePath b_eicar\\.com$\n", "");
    let deep = corpus.c().join("mixed/sub/deeper");
    std::fs::create_dir(&deep).unwrap();
    std::fs::write(deep.join("x.com"), scan_engine::eicar()).unwrap();
    let limited = conf.replace("ExcludePath b_eicar\\.com$\n", "");
    let s1 = start_conf(&limited).await;
    let got = String::from_utf8(ask(&s1, format!("zCONTSCAN {p}\0").as_bytes()).await).unwrap();
    assert!(!got.contains("deeper"), "depth 2 skipped: {got:?}");
    let s0 = start_conf(&conf0).await;
    let got = String::from_utf8(ask(&s0, format!("zCONTSCAN {p}\0").as_bytes()).await).unwrap();
    assert!(got.contains("deeper/x.com"), "0 = unlimited: {got:?}");
}

/// One clamd.conf option and the path scan it changes, one row each: CLAMD-SCAN-5
/// (`FollowFileSymlinks yes`: a top-level symlink is followed) and CLAMD-SCAN-9
/// (`AllowAllMatchScan no`: ALLMATCHSCAN is refused).
#[tokio::test]
async fn clamd_scan_5_clamd_scan_9_conf_options_change_path_scans() {
    let corpus = Corpus::new();
    // (rule, clamd.conf line, command, file, reply after "<path>: ")
    let rows = [
        (
            "CLAMD-SCAN-5",
            "FollowFileSymlinks yes\n",
            "SCAN",
            "link.com",
            format!("{UNOFFICIAL_EICAR} FOUND"),
        ),
        (
            "CLAMD-SCAN-9",
            "AllowAllMatchScan no\n",
            "ALLMATCHSCAN",
            "markers.txt",
            "ALLMATCHSCAN command disabled by clamd configuration. ERROR".to_string(),
        ),
    ];
    for (rule, line, cmd, file, reply) in rows {
        let s = start_conf(&conf_with(&corpus.db(), line)).await;
        let p = String::from_utf8(corpus.p(file)).unwrap();
        let got = ask(&s, format!("z{cmd} {p}\0").as_bytes()).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            format!("{p}: {reply}\0"),
            "{rule}"
        );
    }
}

#[tokio::test]
async fn log_file_and_pid_file() {
    let corpus = Corpus::new();
    let log = corpus.dir.path().join("clamd.log");
    let pid = corpus.dir.path().join("clamd.pid");
    let conf = conf_with(
        &corpus.db(),
        &format!("LogFile {}\nPidFile {}\n", log.display(), pid.display()),
    );
    let s = start_conf(&conf).await;
    assert_eq!(
        std::fs::read_to_string(&pid).unwrap(),
        format!("{}\n", std::process::id())
    );
    let p = String::from_utf8(corpus.p("eicar.com")).unwrap();
    ask(&s, format!("zSCAN {p}\0").as_bytes()).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!("{p}: {UNOFFICIAL_EICAR} FOUND")),
        "{text}"
    );
    drop(s);
    assert!(!pid.exists(), "PidFile removed on shutdown");
}

/// `zIDSESSION`, `n` three-byte INSTREAMs (bytes 0, 1, ...), then `tail`, as one write.
fn session_of_streams(n: u8, tail: &[u8]) -> Vec<u8> {
    let mut req = b"zIDSESSION\0".to_vec();
    for i in 0..n {
        req.extend_from_slice(b"zINSTREAM\0");
        req.extend_from_slice(&chunk(&[i; 3]));
        req.extend_from_slice(&[0; 4]);
    }
    req.extend_from_slice(tail);
    req
}

/// CLAMD-SESSION-4.
#[tokio::test]
async fn clamd_session_4_random_order_keeps_every_reply() {
    let s = started(FakeClamd::builder().session_order(fake_clamd::SessionOrder::Random)).await;
    let req = session_of_streams(8, b"zPING\0zEND\0");
    let got = ask(&s, &req).await;
    let mut recs: Vec<&[u8]> = got.split(|b| *b == 0).filter(|r| !r.is_empty()).collect();
    // PING is answered at once, before the held-back scan replies
    assert_eq!(recs[0], b"9: PONG");
    recs.sort();
    let mut want: Vec<Vec<u8>> = (1..=8)
        .map(|i| format!("{i}: stream: OK").into_bytes())
        .collect();
    want.push(b"9: PONG".to_vec());
    want.sort();
    assert_eq!(recs, want.iter().map(Vec::as_slice).collect::<Vec<_>>());
}

/// CLAMD-SESSION-4 [F]: `random` moves every scan reply away from its arrival position (a
/// client pairing replies by position always fails), and a seed replays the same order.
#[tokio::test]
async fn clamd_session_4_random_order_moves_every_reply_and_replays_with_a_seed() {
    let req = session_of_streams(6, b"zEND\0");
    let mut orders = Vec::new();
    for seed in [7, 7, 8] {
        let s = started(
            FakeClamd::builder()
                .session_order(fake_clamd::SessionOrder::Random)
                .session_seed(seed),
        )
        .await;
        let got = ask(&s, &req).await;
        let ids: Vec<usize> = got
            .split(|b| *b == 0)
            .filter(|r| !r.is_empty())
            .map(|r| {
                let text = String::from_utf8_lossy(r);
                let (id, rest) = text.split_once(": ").expect("numbered reply");
                assert_eq!(rest, "stream: OK");
                id.parse().expect("number")
            })
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=6).collect::<Vec<_>>(), "every reply once");
        for (pos, id) in ids.iter().enumerate() {
            assert_ne!(
                *id,
                pos + 1,
                "reply {id} kept its arrival position: {ids:?}"
            );
        }
        orders.push(ids);
    }
    assert_eq!(orders[0], orders[1], "same seed, same order");
    assert_ne!(orders[0], orders[2], "another seed, another order");
}

/// CLAMD-DET-8: `ExtendedDetectionInfo yes` leaves socket replies as they are: no
/// `(md5:size)` after the name, for a path scan or a stream.
#[tokio::test]
async fn clamd_det_8_extended_detection_info_does_not_change_replies() {
    let corpus = Corpus::new();
    let conf = conf_with(&corpus.db(), "ExtendedDetectionInfo yes\n");
    let s = start_conf(&conf).await;
    assert!(s.config().extended_detection_info, "the option was read");
    let a = s.addr().unwrap();
    let p = String::from_utf8(corpus.p("eicar.com")).unwrap();
    assert_eq!(
        ask_at(a, format!("zSCAN {p}\0").as_bytes()).await,
        format!("{p}: {UNOFFICIAL_EICAR} FOUND\0").into_bytes()
    );
    let req = cat(&[b"zINSTREAM\0", &chunk(&scan_engine::eicar()), b"\0\0\0\0"]);
    assert_eq!(
        ask_at(a, &req).await,
        format!("stream: {UNOFFICIAL_EICAR} FOUND\0").into_bytes()
    );
}

/// CLAMD-VER-4: the 1.x defaults the fake starts from without a setting: `StreamMaxLength`
/// 100M (= `MaxFileSize`), `MaxScanSize` 400M.
#[test]
fn clamd_ver_4_size_limit_defaults_are_clamd_1x() {
    let c = fake_clamd::Config::from_conf_text("TCPSocket 0\n", "defaults.conf").unwrap();
    assert_eq!(c.stream_max_length, 100 << 20);
    assert_eq!(c.max_file_size, 100 << 20);
    assert_eq!(c.max_scan_size, 400 << 20);
    assert_eq!(fake_clamd::Config::default().stream_max_length, 100 << 20);
}
