//! The admin API over raw HTTP/1.1 on loopback.

use faults::admin::AdminServer;
use faults::{Fault, FaultPlan, FaultSet, Trigger};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

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
