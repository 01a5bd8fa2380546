//! Server rules, one or more rule IDs per test name (the tidy test checks coverage).

mod common;
use common::*;
use fake_vfindd::{FakeVfindd, Quirks};
use faults::{Fault, FaultPlan, Trigger};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn eicar_zip() -> Vec<u8> {
    zip_bytes(&[("some/file", b"clean"), ("other/file", &eicar())])
}

async fn start(root: &std::path::Path) -> FakeVfindd {
    one_thread(root).start().await.unwrap()
}

/// SVSP-TRANS-2.
/// SVSP-TRANS-3: two servers on one host, each on its own port, over the same root, both serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_trans_2_svsp_trans_3_independent_servers_and_connections() {
    let d = root_with(&[("e", &eicar())]);
    let (s1, s2) = (start(d.path()).await, start(d.path()).await);
    assert_ne!(s1.port(), s2.port());
    let mut a = Client::connect(s1.addr()).await;
    let mut b = Client::connect(s1.addr()).await;
    a.expect("ENABLE IGNORE CVDL DOS/EICAR.Test", "OK").await;
    assert_eq!(
        b.scan("SCAN/FILE /e").await.last().unwrap(),
        "DONE 1 : \"/e\""
    );
    assert_eq!(
        a.scan("SCAN/FILE /e").await.last().unwrap(),
        "DONE 0 : \"/e\""
    );
    let mut c = Client::connect(s2.addr()).await;
    c.quit().await;
}

/// SVSP-CONN-1.
/// SVSP-RESP-READY-1 (the READY greeting), SVSP-CONN-2 and SVSP-RESP-DENIED-1 (DENIED, then close).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_conn_1_svsp_resp_ready_1_svsp_conn_2_svsp_resp_denied_1() {
    let (_d, s, mut a) = served(FakeVfindd::builder().max_connections(1), &[]).await; // READY
    let mut b = Client::raw(s.addr()).await;
    assert_eq!(b.line().await.as_deref(), Some("DENIED"));
    assert_eq!(b.line().await, None);
    a.quit().await;
    let s = FakeVfindd::builder()
        .allow(fake_vfindd::config::parse_allow("10.0.0.0/8").unwrap())
        .start()
        .await
        .unwrap();
    let mut c = Client::raw(s.addr()).await;
    assert_eq!(c.until_eof().await, ["DENIED"]);
}

/// SVSP-CONN-3.
/// SVSP-CMD-QUIT-1, SVSP-RESP-OK-1: QUIT drains, then `<id> OK`; the SCAN gets no OK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_conn_3_svsp_cmd_quit_1_svsp_resp_ok_1_drain_then_ok() {
    let (_d, _s, mut c) = serve_slowly(Duration::from_millis(100), &[("f", b"x")]).await;
    c.send("1 SCAN/FILE /f").await;
    c.send("007 QUIT trailing text").await;
    c.send("2 SCAN/FILE /f").await; // ignored after QUIT
    let got = c.until_eof().await;
    assert_eq!(
        got,
        [
            "1 QUEUED",
            "1 SCANNING \"/f\"",
            "1 DONE 0 : \"/f\"",
            "007 OK"
        ]
    );
}

/// SVSP-CONN-4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_conn_4_half_close_drains_outstanding() {
    let (_d, _s, mut c) = serve(&[("f", b"x")]).await;
    c.send_raw(b"SCAN/FILE /f\r\npartial").await;
    c.wr.shutdown().await.unwrap();
    assert_eq!(
        c.until_eof().await,
        ["QUEUED", "SCANNING \"/f\"", "DONE 0 : \"/f\""]
    );
}

/// SVSP-CONN-5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_conn_5_idle_timeout_closes_silently() {
    let (_s, mut c) =
        connected(FakeVfindd::builder().idle_timeout(Duration::from_millis(200))).await;
    assert_eq!(c.until_eof().await, Vec::<String>::new());
}

/// SVSP-FRAME-1.
/// SVSP-FRAME-2, SVSP-FRAME-3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_frame_1_svsp_frame_2_svsp_frame_3_lf_blank_one_byte_writes() {
    let (_d, _s, mut c) = serve(&[]).await;
    for b in b"\n  \t\r\n1 ENABLE ORIGINAL\n2 SCAN/FILE /a SCAN/FILE /b\r\n" {
        c.send_raw(&[*b]).await;
    }
    assert_eq!(
        c.lines(3).await,
        ["1 OK", "2 QUEUED", "2 ENOENT \"/a SCAN/FILE /b\""]
    );
    c.quit().await;
}

/// SVSP-FRAME-4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_frame_4_overlong_line_no_id_then_usable() {
    let (_s, mut c) = connected(FakeVfindd::builder()).await;
    let mut long = b"12 SCAN/FILE /".to_vec();
    long.extend(std::iter::repeat_n(b'a', 9000));
    long.extend_from_slice(b"\r\n");
    c.send_raw(&long).await;
    assert_eq!(c.line().await.unwrap(), "EINVAL Line too long");
    let mut exact = b"ENABLE IGNORE ".to_vec();
    exact.extend(std::iter::repeat_n(b'v', 8192 - exact.len()));
    exact.extend_from_slice(b"\r\n");
    c.send_raw(&exact).await;
    assert_eq!(c.line().await.unwrap(), "OK");
    c.quit().await;
}

/// SVSP-FRAME-5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_frame_5_one_per_read_dispatch() {
    let (_s, mut c) =
        connected(FakeVfindd::builder().dispatch(fake_vfindd::Dispatch::OnePerRead)).await;
    c.send_raw(b"1 ENABLE ORIGINAL\r\n2 ENABLE ORIGINAL\r\n")
        .await;
    assert_eq!(c.line().await.unwrap(), "1 OK");
    let mut b = [0u8; 16];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), c.rd.read(&mut b))
            .await
            .is_err(),
        "2nd line must wait"
    );
    c.send_raw(b"\r\n").await; // a read event: dispatches the oldest line
    assert_eq!(c.line().await.unwrap(), "2 OK");
}

/// SVSP-FRAME-6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_frame_6_eol_lf_and_whole_lines() {
    let lf = FakeVfindd::builder().eol(svsp_proto::Eol::Lf);
    let s = lf.start().await.expect("start");
    let mut c = Client::raw(s.addr()).await;
    assert_eq!(c.raw_line().await.unwrap(), b"READY\n");
    c.send("QUIT").await;
    assert_eq!(c.raw_line().await.unwrap(), b"OK\n");
}

/// SVSP-FRAME-7.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_frame_7_random_bytes_wellformed_then_quit_ok() {
    let s = FakeVfindd::builder().start().await.unwrap();
    let mut seed = 0x1234_5678_u64;
    for _ in 0..5 {
        let mut c = Client::connect(s.addr()).await;
        let mut junk = Vec::new();
        for _ in 0..3000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let b = (seed >> 33) as u8;
            // Keep SCAN/QUIT words out so the session stays alive.
            junk.push(if b.is_ascii_alphabetic() { b'#' } else { b });
        }
        junk.extend_from_slice(b"\r\nQUIT\r\n");
        c.send_raw(&junk).await;
        let mut n = 0;
        while let Some(raw) = c.raw_line().await {
            let r = svsp_proto::parse_response(&raw).unwrap().unwrap();
            n += 1;
            if matches!(r.body, svsp_proto::Body::Ok) {
                break;
            }
            assert!(matches!(r.body, svsp_proto::Body::Error { .. }), "{raw:?}");
        }
        assert!(n >= 1);
    }
}

/// SVSP-FRAME-8.
/// SVSP-ID-1, SVSP-ID-2, SVSP-ERR-EINVAL-1: identifiers echoed as sent, invalid ones refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_frame_8_svsp_id_1_svsp_id_2_svsp_id_3_svsp_err_einval_1_identifiers() {
    let (_s, mut c) = connected(FakeVfindd::builder()).await;
    c.send("  007\tenable   original").await;
    c.send("1234567890 QUIT").await;
    c.send("42").await;
    c.send("-1 QUIT").await;
    c.send("3 SCAN/FILE").await;
    assert_eq!(
        c.lines(5).await,
        [
            "007 OK",
            "EINVAL Invalid identifier",
            "42 EINVAL Missing command",
            "EINVAL Unrecognized command: -1",
            "3 EINVAL Missing filename"
        ]
    );
    c.quit().await;
}

/// SVSP-ID-4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_id_4_duplicate_ids_both_processed() {
    let (_d, _s, mut c) = serve(&[("f", b"x")]).await;
    c.send("5 SCAN/FILE /f").await;
    c.send("5 SCAN/FILE /nope").await;
    let got = c.lines(5).await;
    assert_eq!(
        got.iter()
            .filter(|l| l.starts_with("5 DONE") || l.starts_with("5 ENOENT"))
            .count(),
        2
    );
}

/// SVSP-NAME-1.
/// SVSP-NAME-4: a relative name resolves against `--scan-root`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_name_1_svsp_name_4_raw_names_and_scan_root_relative() {
    let d = root_with(&[("rel.txt", b"x")]);
    let (_s, mut c) = connected(FakeVfindd::builder().scan_root(d.path())).await;
    c.send("SCAN/FILE \"rel.txt\"").await;
    assert_eq!(c.lines(2).await, ["QUEUED", "ENOENT \"\\\"rel.txt\\\"\""]);
    c.send("SCAN/FILE ./rel.txt").await;
    assert_eq!(
        c.lines(3).await,
        ["QUEUED", "SCANNING \"./rel.txt\"", "DONE 0 : \"./rel.txt\""]
    );
}

/// SVSP-RESP-SCANNING-1.
/// SVSP-NAME-2, SVSP-NAME-3, SVSP-NAME-6, SVSP-SCAN-PORT-1; SVSP-NAME-5: a PORT stream without a
/// filename is written `""`, its parts `"" -> "/part"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_resp_scanning_1_svsp_name_2_svsp_name_3_svsp_name_5_svsp_name_6_svsp_scan_port_1_unnamed_stream(
) {
    let (_s, mut c) = connected(FakeVfindd::builder()).await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let data = zip_bytes(&[("inner.txt", &eicar())]);
    let feeder = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        s.write_all(&data).await.unwrap();
        s.shutdown().await.unwrap();
    });
    let got = c.scan(&format!("4 SCAN/PORT {port}")).await;
    feeder.await.unwrap();
    assert_eq!(
        got,
        [
            "4 QUEUED",
            "4 SCANNING \"\" -> \"/inner.txt\"",
            "4 INFECTED CVDL DOS/EICAR.Test : \"\" -> \"/inner.txt\" : end at 68",
            "4 DONE 1 : \"\""
        ]
    );
}

/// SVSP-CMD-1.
/// SVSP-CMD-ENABLE-1, SVSP-OPT-IGNORE-1; SVSP-CMD-2: the two DISABLEs are answered in order;
/// SVSP-CMD-DISABLE-1: DISABLE with a value removes it from the list (EICAR is found again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_cmd_1_svsp_cmd_2_svsp_cmd_enable_1_svsp_cmd_disable_1_svsp_opt_ignore_1() {
    let (_d, _s, mut c) = serve(&[("e", &eicar())]).await;
    c.expect("FROB", "EINVAL Unrecognized command: FROB").await;
    c.expect("1 ENABLE IGNORE CVDL DOS/EICAR.Test", "1 OK")
        .await;
    c.send("2 SCAN/FILE /e").await;
    assert_eq!(
        c.lines(3).await,
        ["2 QUEUED", "2 SCANNING \"/e\"", "2 DONE 0 : \"/e\""]
    );
    c.send("3 DISABLE IGNORE CVDL DOS/EICAR.Test").await;
    c.send("4 DISABLE IGNORE not there").await;
    assert_eq!(c.lines(2).await, ["3 OK", "4 OK"]);
    assert_eq!(
        c.scan("5 SCAN/FILE /e").await.last().unwrap(),
        "5 DONE 1 : \"/e\""
    );
}

/// SVSP-CMD-ENABLE-2.
/// SVSP-OPT-0; SVSP-OPT-HTML-1: `ENABLE HTML 2` is accepted, level 4 is EINVAL, scans unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_cmd_enable_2_svsp_opt_0_svsp_opt_html_1_errors_leave_state() {
    let (_d, _s, mut c) = serve(&[("z", &eicar_zip())]).await;
    for (cmd, want) in [
        ("ENABLE", "EINVAL Missing option"),
        ("ENABLE HTML 2", "OK"),
        ("ENABLE HTML 4", "EINVAL Invalid value for HTML: 4"),
        (
            "DISABLE RECURSE 3",
            "EINVAL Unexpected value for RECURSE: 3",
        ),
        ("ENABLE EXPAND rar5", "ENOTSUP Unknown expander: rar5"),
        ("ENABLE EXCLUDE", "EINVAL Missing value for EXCLUDE"),
    ] {
        c.send(cmd).await;
        assert_eq!(c.line().await.unwrap(), want, "{cmd}");
    }
    // Default state: archive expanded one level (SVSP-OPT-0).
    assert_eq!(
        c.scan("SCAN/FILE /z").await,
        [
            "QUEUED",
            "SCANNING \"/z\" -> \"/some/file\"",
            "SCANNING \"/z\" -> \"/other/file\"",
            "INFECTED CVDL DOS/EICAR.Test : \"/z\" -> \"/other/file\" : end at 68",
            "DONE 1 : \"/z\""
        ]
    );
}

/// SVSP-OPT-EXCLUDE-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_opt_exclude_1_target_and_member() {
    let (_d, _s, mut c) = serve(&[("z", &eicar_zip())]).await;
    c.expect("ENABLE EXCLUDE /other/file", "OK").await;
    assert_eq!(
        c.scan("SCAN/FILE /z").await,
        [
            "QUEUED",
            "SCANNING \"/z\" -> \"/some/file\"",
            "DONE 0 : \"/z\""
        ]
    );
    c.expect("ENABLE EXCLUDE /z", "OK").await;
    let got = c.scan("SCAN/FILE-SHA1 /z").await;
    assert_eq!(got.len(), 2);
    assert!(
        got[1].starts_with("DONE 0 : \"/z\" : ") && got[1].len() == "DONE 0 : \"/z\" : ".len() + 40
    );
}

/// SVSP-OPT-EXPAND-1.
/// SVSP-OPT-EXPAND-2, SVSP-OPT-ORIGINAL-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_opt_expand_1_svsp_opt_expand_2_svsp_opt_original_1() {
    let mut padded = vec![b'A'; 4000];
    padded.extend_from_slice(&eicar());
    let gz = gz_bytes(&padded);
    assert!(
        !gz.windows(68).any(|w| w == eicar().as_slice()),
        "EICAR must not appear raw in the gzip"
    );
    let (_d, _s, mut c) = serve(&[("z", &eicar_zip()), ("g", &gz)]).await;
    c.send("DISABLE EXPAND").await;
    c.line().await;
    c.send("SCAN/FILE /g").await; // gzip not opened: compressed raw bytes are clean
    assert_eq!(
        c.until_terminal("").await,
        ["QUEUED", "SCANNING \"/g\"", "DONE 0 : \"/g\""]
    );
    c.send("ENABLE EXPAND gz").await;
    c.line().await;
    let got = c.scan("SCAN/FILE /g").await;
    assert_eq!(got[1], "SCANNING \"/g\" -> \"/g\"");
    assert_eq!(got.last().unwrap(), "DONE 1 : \"/g\"");
    c.send("ENABLE EXPAND *").await;
    c.send("ENABLE ORIGINAL").await;
    c.lines(2).await;
    let got = c.scan("SCAN/FILE /z").await;
    assert_eq!(got[1], "SCANNING \"/z\"");
    assert!(
        got[2].starts_with("INFECTED CVDL DOS/EICAR.Test : \"/z\" : end at "),
        "raw container scanned too"
    );
    assert_eq!(got[3], "SCANNING \"/z\" -> \"/some/file\"");
    assert_eq!(got.last().unwrap(), "DONE 2 : \"/z\"");
}

/// SVSP-OPT-RECURSE-1.
/// SVSP-SCAN-TREE-1 (depth limit: a directory target scans its own files, deeper containers are
/// not opened), SVSP-SCAN-TREE-2 (depth first, sorted by name, symlinks inside skipped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_opt_recurse_1_svsp_scan_tree_1_svsp_scan_tree_2_depth_and_order() {
    let z = eicar_zip();
    let e = eicar();
    let raw_end = z
        .windows(e.len())
        .position(|w| w == e.as_slice())
        .expect("small member stored raw")
        + e.len();
    let (d, _s, mut c) = serve(&[
        ("dir/b.txt", b"x"),
        ("dir/a.zip", &z),
        ("dir/sub/c.txt", &e),
    ])
    .await;
    std::os::unix::fs::symlink(d.path().join("dir/b.txt"), d.path().join("dir/link")).unwrap();
    assert_eq!(
        c.scan("SCAN/FILE /dir/").await,
        [
            "QUEUED".to_string(),
            "SCANNING \"/dir/a.zip\"".to_string(),
            format!("INFECTED CVDL DOS/EICAR.Test : \"/dir/a.zip\" : end at {raw_end}"),
            "SCANNING \"/dir/b.txt\"".to_string(),
            "DONE 1 : \"/dir/\"".to_string()
        ],
        "depth 1: zip not opened (scanned raw, small member stored), sub/ skipped, symlink skipped"
    );
    c.send("ENABLE RECURSE").await;
    c.line().await;
    assert_eq!(
        c.scan("SCAN/FILE /dir").await,
        [
            "QUEUED",
            "SCANNING \"/dir/a.zip\" -> \"/some/file\"",
            "SCANNING \"/dir/a.zip\" -> \"/other/file\"",
            "INFECTED CVDL DOS/EICAR.Test : \"/dir/a.zip\" -> \"/other/file\" : end at 68",
            "SCANNING \"/dir/b.txt\"",
            "SCANNING \"/dir/sub/c.txt\"",
            "INFECTED CVDL DOS/EICAR.Test : \"/dir/sub/c.txt\" : end at 68",
            "DONE 2 : \"/dir\""
        ]
    );
}

/// SVSP-SCAN-FILE-1.
/// SVSP-SCAN-FILESHA1-1, SVSP-ERR-ENOENT-1, SVSP-ERR-EACCES-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_file_1_svsp_scan_filesha1_1_svsp_err_enoent_1_svsp_err_eacces_1_scan_root() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    write(&root.join("empty"), b"");
    std::fs::create_dir_all(root.join("emptydir")).unwrap();
    write(&d.path().join("outside"), b"x");
    std::os::unix::fs::symlink(d.path().join("outside"), root.join("escape")).unwrap();
    let (_s, mut c) = connected(FakeVfindd::builder().threads(1).scan_root(&root)).await;
    let r = root.canonicalize().unwrap();
    let out = d.path().canonicalize().unwrap().join("outside");
    let cases = [
        (
            format!("SCAN/FILE {}/empty", r.display()),
            vec![
                format!("SCANNING \"{}/empty\"", r.display()),
                format!("DONE 0 : \"{}/empty\"", r.display()),
            ],
        ),
        (
            format!("SCAN/FILE {}/emptydir", r.display()),
            vec![format!("DONE 0 : \"{}/emptydir\"", r.display())],
        ),
        (
            format!("SCAN/FILE-SHA1 {}/emptydir", r.display()),
            vec![format!(
                "EINVAL Not a regular file: \"{}/emptydir\"",
                r.display()
            )],
        ),
        (
            format!("SCAN/FILE {}/missing", r.display()),
            vec![format!("ENOENT \"{}/missing\"", r.display())],
        ),
        (
            format!("SCAN/FILE {}", out.display()),
            vec![format!("EACCES \"{}\"", out.display())],
        ),
        (
            "SCAN/FILE /definitely/missing/outside".to_string(),
            vec!["EACCES \"/definitely/missing/outside\"".to_string()],
        ),
        (
            "SCAN/FILE escape".to_string(),
            vec!["EACCES \"escape\"".to_string()],
        ),
        (
            format!("SCAN/FILE-SHA1 {}/empty", r.display()),
            vec![
                format!("SCANNING \"{}/empty\"", r.display()),
                format!(
                    "DONE 0 : \"{}/empty\" : da39a3ee5e6b4b0d3255bfef95601890afd80709",
                    r.display()
                ),
            ],
        ),
    ];
    for (cmd, want) in cases {
        c.send(&cmd).await;
        let got = c.until_terminal("").await;
        assert_eq!(got[0], "QUEUED");
        assert_eq!(got[1..].to_vec(), want, "{cmd}");
    }
}

/// SVSP-SCAN-REQUEST-1.
/// SVSP-SCAN-REQUEST-2, SVSP-RESP-SEND-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_request_1_svsp_scan_request_2_svsp_resp_send_1_failures() {
    let (_s, mut c) = connected(
        FakeVfindd::builder()
            .data_timeout(Duration::from_millis(300))
            .stream_max_length(10),
    )
    .await;
    c.send("1 SCAN/REQUEST never").await;
    let send = c.line().await.unwrap();
    let port = send.strip_prefix("1 SEND ").unwrap();
    assert_eq!(
        c.line().await.unwrap(),
        format!("1 ENOENT No connection to port {port}")
    );
    c.send("2 SCAN/REQUEST big").await;
    let mut d = data_channel(&mut c, "2").await;
    // The daemon may close the channel once the limit is passed: write errors are expected.
    let _ = d.write_all(&[b'x'; 11]).await;
    let _ = d.shutdown().await;
    assert_eq!(
        c.line().await.unwrap(),
        "2 EINVAL Size limit exceeded: \"big\""
    );
    c.send("3 SCAN/REQUEST exact").await;
    let mut d = data_channel(&mut c, "3").await;
    d.write_all(&[b'x'; 10]).await.unwrap();
    d.shutdown().await.unwrap();
    assert_eq!(
        c.lines(3).await,
        ["3 QUEUED", "3 SCANNING \"exact\"", "3 DONE 0 : \"exact\""]
    );
    c.quit().await;
}

/// SVSP-SCAN-PORT-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_port_1_echo_quirk_and_refused() {
    let (_s, mut c) = connected(
        FakeVfindd::builder()
            .port_send_echo(true)
            .data_timeout(Duration::from_secs(2)),
    )
    .await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l); // nobody listens
    c.send(&format!("8 SCAN/PORT {port} x")).await;
    assert_eq!(
        c.lines(2).await,
        [
            format!("8 SEND {port}"),
            format!("8 ENOENT No connection to port {port}")
        ]
    );
    c.expect("9 SCAN/PORT 0", "9 EINVAL Invalid port: 0").await;
}

/// SVSP-SCAN-DATA-1.
/// SVSP-SCAN-INLINE-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_data_1_svsp_scan_inline_1_future_sources() {
    let (_s, mut c) = connected(FakeVfindd::builder().enable_future(true)).await;
    c.expect("1 SCAN/DATA 68 e.com", "1 SEND").await;
    c.send_raw(&eicar()).await;
    assert_eq!(
        c.until_terminal("1 ").await.last().unwrap(),
        "1 DONE 1 : \"e.com\""
    );
    c.expect("2 SCAN", "2 SEND").await;
    c.send_raw(b"inline\r\nQUIT\r\n").await;
    c.wr.shutdown().await.unwrap();
    assert_eq!(
        c.until_eof().await,
        ["2 QUEUED", "2 SCANNING \"\"", "2 DONE 0 : \"\""]
    );
}

/// SVSP-SCAN-1.
/// SVSP-SCAN-2, SVSP-SCAN-4, SVSP-ERR-ENOTSUP-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_1_svsp_scan_2_svsp_scan_4_svsp_err_enotsup_1_profiles() {
    let (_s, mut c) =
        connected(FakeVfindd::builder().profile(svsp_proto::Profile::FirstVersion)).await;
    for (cmd, want) in [
        ("SCAN/REQUEST", "ENOTSUP Unsupported source: REQUEST"),
        ("SCAN/FILE-SHA1 /x", "ENOTSUP Unsupported source: FILE-SHA1"),
        ("SCAN/raw/FILE /x", "ENOTSUP Unknown format: raw"),
        ("SCAN/a/b/c", "EINVAL Invalid SCAN form: SCAN/a/b/c"),
        ("SCAN x", "ENOTSUP Unsupported source: (none)"),
    ] {
        c.expect(cmd, want).await;
    }
}

/// SVSP-SCAN-3.
/// SVSP-RESP-QUEUED-1: `--queued=never` and `--queued=when-delayed` (a free worker) send no QUEUED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_3_svsp_resp_queued_1_modes() {
    let (d, _s, mut c) = served(
        FakeVfindd::builder().queued(fake_vfindd::QueuedMode::Never),
        &[("f", b"x")],
    )
    .await;
    assert_eq!(
        c.scan("SCAN/FILE /f").await,
        ["SCANNING \"/f\"", "DONE 0 : \"/f\""]
    );
    let (_s, mut c) = connected(
        FakeVfindd::builder()
            .queued(fake_vfindd::QueuedMode::WhenDelayed)
            .virtual_root(d.path()),
    )
    .await;
    assert_eq!(
        c.scan("SCAN/FILE /f").await,
        ["SCANNING \"/f\"", "DONE 0 : \"/f\""]
    );
}

/// SVSP-ERR-EAGAIN-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_err_eagain_1_queue_limit_and_fault() {
    let (d, _s, mut c) = served(
        FakeVfindd::builder()
            .max_queue(1)
            .delay(Duration::from_millis(200)),
        &[("f", b"x")],
    )
    .await;
    c.send("1 SCAN/FILE /f").await;
    c.send("2 SCAN/FILE /f").await;
    let got = c.lines(2).await;
    assert_eq!(got, ["1 QUEUED", "2 EAGAIN Server busy"]);
    // The second SCAN over all connections is refused (`eagain-every:2`).
    let faults = FaultPlan::new().with(Trigger::command("SCAN").every(2), Fault::Eagain);
    let (_s, mut c) = connected(FakeVfindd::builder().faults(faults).virtual_root(d.path())).await;
    c.scan("1 SCAN/FILE /f").await;
    c.expect("2 SCAN/FILE /f", "2 EAGAIN Server busy").await;
}

/// SVSP-ERR-EFAULT-1.
/// SVSP-ERR-2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_err_efault_1_svsp_err_2_fault_injection() {
    // Every verdict is EFAULT (`efault-every:1`).
    let faults = FaultPlan::new().with(Trigger::verdict().every(1), Fault::Efault);
    let (_d, _s, mut c) = served(FakeVfindd::builder().faults(faults), &[("f", b"x")]).await;
    assert_eq!(
        c.scan("SCAN/FILE /f").await,
        ["QUEUED", "SCANNING \"/f\"", "EFAULT Internal error"]
    );
    c.quit().await;
}

/// SVSP-DET-1.
/// SVSP-DET-2 (markers A and B and their names), SVSP-DET-3 (every occurrence byte-exact).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_det_1_svsp_det_2_svsp_det_3_table_order_and_name() {
    let mut data = b"SVSP-FAKE-MARKER-B..SVSP-FAKE-MARKER-A..".to_vec();
    data.extend_from_slice(&eicar());
    data.extend_from_slice(b"SVSP-FAKE-MARKER-A");
    let (_d, _s, mut c) = served(
        FakeVfindd::builder().eicar_name("CVDL X/Eicar.Y".into()),
        &[("m", &data)],
    )
    .await;
    assert_eq!(
        c.scan("SCAN/FILE /m").await,
        [
            "QUEUED",
            "SCANNING \"/m\"",
            "INFECTED CVDL X/Eicar.Y : \"/m\" : end at 108",
            "INFECTED CVDL Test/Marker.A : \"/m\" : end at 38",
            "INFECTED CVDL Test/Multi Word Name.B : \"/m\" : end at 18",
            "DONE 3 : \"/m\""
        ]
    );
}

/// SVSP-FAKE-2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_fake_2_quirks() {
    let d = root_with(&[("z", &eicar_zip())]);
    let q = Quirks {
        done_without_count: true,
        infected_empty_archive_name: true,
        unknown_line: true,
        lowercase_keywords: true,
    };
    let s = FakeVfindd::builder()
        .quirks(q)
        .virtual_root(d.path())
        .start()
        .await
        .unwrap();
    let mut c = Client::raw(s.addr()).await;
    assert_eq!(c.line().await.unwrap(), "ready");
    c.send("1 SCAN/FILE /z").await;
    assert_eq!(
        c.lines(6).await,
        [
            "1 queued",
            "1 NOTICE test",
            "1 scanning \"/z\" -> \"/some/file\"",
            "1 scanning \"/z\" -> \"/other/file\"",
            "1 infected CVDL DOS/EICAR.Test : \"\" -> \"/other/file\" : end at 68",
            "1 done : \"/z\""
        ]
    );
}

/// SVSP-CONC-1.
/// SVSP-CONC-2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_conc_1_svsp_conc_2_svsp_conc_4_pipelined_requests_on_two_workers() {
    let names: Vec<String> = (0..6).map(|i| format!("f{i}")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let (_d, _s, mut c) = served(
        FakeVfindd::builder()
            .threads(2)
            .delay(Duration::from_millis(20)),
        &files,
    )
    .await;
    let mut burst = String::new();
    for i in 0..6 {
        burst.push_str(&format!("{i} SCAN/FILE /f{i}\r\n"));
    }
    c.send_raw(burst.as_bytes()).await;
    let got = c.lines(18).await;
    for i in 0..6 {
        let mine: Vec<_> = got
            .iter()
            .filter(|l| l.starts_with(&format!("{i} ")))
            .collect();
        assert_eq!(mine.len(), 3);
        assert!(mine[2].starts_with(&format!("{i} DONE 0")));
    }
}

/// SVSP-DET-3: detection is byte-exact and case-sensitive (a lower-case or cut marker is not
/// found), and IGNORE is applied before the count is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_det_3_byte_exact_case_sensitive_and_ignore_before_count() {
    let (_d, _s, mut c) = serve(&[
        (
            "near",
            b"svsp-fake-marker-a SVSP-FAKE-MARKER- SVSP-FAKE-MARKER-a",
        ),
        ("ab", b"SVSP-FAKE-MARKER-A SVSP-FAKE-MARKER-B"),
    ])
    .await;
    assert_eq!(
        c.scan("1 SCAN/FILE /near").await,
        ["1 QUEUED", "1 SCANNING \"/near\"", "1 DONE 0 : \"/near\""]
    );
    c.expect("2 ENABLE IGNORE CVDL Test/Marker.A", "2 OK").await;
    assert_eq!(
        c.scan("3 SCAN/FILE /ab").await,
        [
            "3 QUEUED",
            "3 SCANNING \"/ab\"",
            "3 INFECTED CVDL Test/Multi Word Name.B : \"/ab\" : end at 37",
            "3 DONE 1 : \"/ab\""
        ]
    );
}
