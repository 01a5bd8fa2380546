//! The admin API over raw HTTP/1.1 on loopback.

use faults::admin::{AdminOptions, AdminServer, AdminToken};
use faults::{Fault, FaultPlan, FaultSet, Trigger};
use fixtures::admin_http::http;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn admin_get_put_delete_stats_reset() {
    let set = FaultSet::new(
        FaultPlan::new()
            .seed(3)
            .with(Trigger::always(), Fault::Reset),
    );
    let admin = AdminServer::start("127.0.0.1:0".parse().unwrap(), set.clone())
        .await
        .unwrap();
    let a = admin.addr();
    let (st, body) = http(a, "GET", "/faults", "").await;
    assert_eq!(st, 200);
    assert!(
        body.contains("\"reset\"") && body.contains("\"seed\": 3"),
        "{body}"
    );
    let (st, _) = http(
        a,
        "PUT",
        "/faults",
        r#"{"rules":[{"when":{"command":"PING"},"fault":{"kind":"timeout"}}]}"#,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(set.plan().rules[0].fault, Fault::Timeout);
    let (st, body) = http(
        a,
        "PUT",
        "/faults",
        r#"{"rules":[{"fault":{"kind":"bogus"}}]}"#,
    )
    .await;
    assert_eq!(st, 400);
    assert!(body.contains("error"));
    set.connect().event(faults::Event::Command {
        name: "PING",
        request: None,
        scan: false,
    });
    let (st, body) = http(a, "GET", "/stats", "").await;
    assert_eq!(st, 200);
    assert!(body.contains("\"faults_fired\": 1"), "{body}");
    let (st, _) = http(a, "DELETE", "/faults", "").await;
    assert_eq!(st, 200);
    assert!(set.plan().rules.is_empty());
    let (st, body) = http(a, "POST", "/reset", "").await;
    assert_eq!(st, 200);
    assert!(body.contains("\"connections\": 0"), "{body}");
    assert_eq!(http(a, "GET", "/nope", "").await.0, 404);
    assert_eq!(http(a, "PATCH", "/faults", "").await.0, 405);
}

/// Sends `head` (request line and headers, no blank line) plus `body`; returns the status
/// and the body of the reply.
async fn raw(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{head}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    req.extend_from_slice(body);
    s.write_all(&req).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("reply within 10 s");
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

async fn server_with(plan: FaultPlan, opts: AdminOptions) -> (AdminServer, FaultSet) {
    let set = FaultSet::new(plan);
    let admin = AdminServer::start_with("127.0.0.1:0".parse().unwrap(), set.clone(), opts)
        .await
        .unwrap();
    (admin, set)
}

fn one_rule() -> FaultPlan {
    FaultPlan::new()
        .seed(1)
        .with(Trigger::always(), Fault::Reset)
}

/// Hardening item 7: writes a browser can send cross-site without a preflight (a
/// `text/plain` form POST, a POST or DELETE with no content type, a form-encoded PUT) are
/// refused with 415, naming `application/json`, and change nothing.
#[tokio::test]
async fn cross_site_writes_are_refused_415() {
    let (admin, set) = server_with(one_rule(), AdminOptions::default()).await;
    for (case, head, body) in [
        (
            "text/plain form POST /reset",
            "POST /reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain",
            &b"x=y"[..],
        ),
        (
            "POST /reset without content type",
            "POST /reset HTTP/1.1\r\nHost: 127.0.0.1",
            b"",
        ),
        (
            "DELETE /faults without content type",
            "DELETE /faults HTTP/1.1\r\nHost: 127.0.0.1",
            b"",
        ),
        (
            "form-encoded PUT /faults",
            "PUT /faults HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded",
            br#"{"rules":[]}"#,
        ),
    ] {
        let (st, reply) = raw(admin.addr(), head, body).await;
        assert_eq!(st, 415, "{case}: {reply}");
        assert!(reply.contains("application/json"), "{case}: {reply}");
        assert_eq!(set.plan().rules.len(), 1, "{case}: the plan survived");
        assert_eq!(set.plan().rules[0].fault, Fault::Reset, "{case}");
    }
}

/// Hardening item 7 (DNS rebinding): a foreign or missing Host is refused, reads too,
/// and no CORS header is ever sent (a preflight gets 405).
#[tokio::test]
async fn foreign_host_header_is_refused_403() {
    let (admin, set) = server_with(one_rule(), AdminOptions::default()).await;
    let a = admin.addr();
    let (st, _) = raw(a, "GET /faults HTTP/1.1\r\nHost: evil.example:8099", b"").await;
    assert_eq!(st, 403);
    let (st, _) = raw(
        a,
        "PUT /faults HTTP/1.1\r\nHost: 127.0.0.1.evil.example\r\nContent-Type: application/json",
        br#"{"rules":[]}"#,
    )
    .await;
    assert_eq!(st, 403);
    let (st, _) = raw(a, "GET /stats HTTP/1.1", b"").await;
    assert_eq!(st, 403, "no Host at all");
    assert_eq!(set.plan().rules.len(), 1);
    let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
    s.write_all(
        b"OPTIONS /faults HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    assert!(
        !out.to_ascii_lowercase().contains("access-control"),
        "{out}"
    );
}

/// Hardening item 7: well-formed JSON requests with any loopback Host still work.
#[tokio::test]
async fn json_requests_with_loopback_host_work() {
    let (admin, set) = server_with(one_rule(), AdminOptions::default()).await;
    let a = admin.addr();
    let host = format!("Host: localhost:{}", a.port());
    let (st, body) = raw(
        a,
        &format!("PUT /faults HTTP/1.1\r\n{host}\r\nContent-Type: application/json; charset=utf-8"),
        br#"{"rules":[{"fault":{"kind":"timeout"}}]}"#,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(set.plan().rules[0].fault, Fault::Timeout);
    let (st, _) = raw(a, "GET /faults HTTP/1.1\r\nHost: [::1]:80", b"").await;
    assert_eq!(st, 200);
    let (st, _) = raw(
        a,
        "POST /reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json",
        b"",
    )
    .await;
    assert_eq!(st, 200);
    assert!(set.plan().rules.is_empty());
}

/// Hardening item 7: with a token every request needs `Authorization: Bearer TOKEN`
/// (missing or wrong: 401); the right one works from any Host; writes still need JSON.
#[tokio::test]
async fn admin_token_is_required_and_checked() {
    let token = AdminToken::new("s3cret-Token_1").unwrap();
    let (admin, set) = server_with(one_rule(), AdminOptions::default().token(Some(token))).await;
    let a = admin.addr();
    const RIGHT: &str = "Authorization: Bearer s3cret-Token_1";
    const JSON: &str = "Content-Type: application/json";
    for (case, head, want) in [
        ("no token", "GET /faults HTTP/1.1\r\nHost: 127.0.0.1".to_string(), 401),
        (
            "wrong token",
            format!("POST /reset HTTP/1.1\r\nHost: 127.0.0.1\r\n{JSON}\r\nAuthorization: Bearer s3cret-Token_2"),
            401,
        ),
        (
            "right token, any Host",
            format!("GET /faults HTTP/1.1\r\nHost: admin.example\r\n{RIGHT}"),
            200,
        ),
        (
            "right token, not JSON",
            format!("POST /reset HTTP/1.1\r\nHost: admin.example\r\n{RIGHT}\r\nContent-Type: text/plain"),
            415,
        ),
    ] {
        let (st, body) = raw(a, &head, b"").await;
        assert_eq!(st, want, "{case}: {body}");
    }
    assert_eq!(set.plan().rules.len(), 1, "no refused reset applied");
    let reset = format!("POST /reset HTTP/1.1\r\nHost: admin.example\r\n{RIGHT}\r\n{JSON}");
    let (st, body) = raw(a, &reset, b"").await;
    assert_eq!(st, 200, "{body}");
    assert!(set.plan().rules.is_empty());
}

/// Hardening item 7: a non-loopback admin address without a token is a configuration
/// error at start, naming the fix.
#[tokio::test]
async fn non_loopback_admin_without_token_is_refused_at_start() {
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
        let r = AdminServer::start(addr.parse().unwrap(), FaultSet::new(FaultPlan::new())).await;
        let Err(e) = r else {
            panic!("{addr} started without a token")
        };
        assert!(matches!(e, faults::FaultsError::AdminConfig(_)), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("not loopback") && msg.contains("--admin-token"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }
}

/// Hardening item 7: past the connection cap, connections get 503 at once; the cap
/// frees up when they go.
#[tokio::test]
async fn connections_beyond_the_cap_get_503() {
    let opts = AdminOptions {
        max_connections: 4,
        ..AdminOptions::default()
    };
    let (admin, _set) = server_with(one_rule(), opts).await;
    let a = admin.addr();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tokio::net::TcpStream::connect(a).await.unwrap());
    }
    let (st, body) = raw(a, "GET /faults HTTP/1.1\r\nHost: 127.0.0.1", b"").await;
    assert_eq!(st, 503, "{body}");
    drop(idle);
    let mut st = 0;
    for _ in 0..50 {
        st = raw(a, "GET /faults HTTP/1.1\r\nHost: 127.0.0.1", b"")
            .await
            .0;
        if st == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(st, 200, "served again once the idle connections closed");
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Hardening item 7: 200 concurrent 1 MiB requests (the old server buffered each one:
/// 300 reached 353 MB) leave the process RSS nearly unchanged: bodies over 64 KiB are
/// refused (413) before they are read, connections over the cap get 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_large_concurrent_requests_keep_memory_bounded() {
    let (admin, set) = server_with(one_rule(), AdminOptions::default()).await;
    let a = admin.addr();
    let body: std::sync::Arc<Vec<u8>> = std::sync::Arc::new(vec![b' '; 1 << 20]);
    let before = vm_rss_kib();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(a).await.ok()?;
            let head = format!(
                "PUT /faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&body).await;
            let mut out = vec![0u8; 12];
            s.read_exact(&mut out).await.ok()?;
            String::from_utf8_lossy(&out[9..12]).parse::<u16>().ok()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        if let Ok(Ok(Some(st))) = tokio::time::timeout(std::time::Duration::from_secs(30), t).await
        {
            statuses.push(st);
        }
    }
    let grown_kib = vm_rss_kib().saturating_sub(before);
    assert!(
        statuses.iter().all(|s| *s == 413 || *s == 503),
        "{statuses:?}"
    );
    assert!(statuses.contains(&413), "{statuses:?}");
    eprintln!("RSS grew by {grown_kib} KiB");
    assert!(grown_kib < 48 * 1024, "RSS grew by {grown_kib} KiB");
    assert_eq!(set.plan().rules.len(), 1);
}

/// Hardening item 7: headers past 8 KiB get 431; a peer that stops mid-request is cut
/// with 408 after the read timeout.
#[tokio::test]
async fn oversized_headers_431_and_stalled_request_408() {
    let opts = AdminOptions {
        read_timeout: std::time::Duration::from_millis(200),
        ..AdminOptions::default()
    };
    let (admin, _set) = server_with(one_rule(), opts).await;
    let a = admin.addr();
    let big = format!(
        "GET /faults HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {}",
        "a".repeat(9000)
    );
    assert_eq!(raw(a, &big, b"").await.0, 431);
    let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
    s.write_all(b"PUT /faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{")
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(3));
}
