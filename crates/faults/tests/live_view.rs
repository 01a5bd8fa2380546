//! The live view of the admin API (issue 16 part 2): `GET /` (HTML), `GET /transcripts`,
//! `GET /commands`, `POST /reset`, over raw HTTP/1.1 on loopback, with a stand-in daemon.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use faults::admin::live::{LiveState, Signature};
use faults::admin::{AdminOptions, AdminServer};
use faults::record::{CommandLine, Dir, Event, Transcript};
use faults::{Fault, FaultPlan, FaultSet, Rule, Trigger};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BODY: &[u8] = b"PRETEND-SIGNATURE-BODY";

/// A daemon with one connection that sent markup and a signature body.
#[derive(Default)]
struct Stand {
    cleared: AtomicBool,
}

impl LiveState for Stand {
    fn transcripts(&self, _last: usize) -> Vec<Transcript<CommandLine>> {
        if self.cleared.load(Ordering::SeqCst) {
            return vec![];
        }
        let mut recv = b"zINSTREAM\0\0\0\0\x16".to_vec();
        recv.extend_from_slice(BODY);
        vec![Transcript {
            conn: 1,
            transport: "tcp".into(),
            note: None,
            events: vec![
                Event {
                    dir: Dir::Recv,
                    bytes: recv,
                },
                Event {
                    dir: Dir::Sent,
                    bytes: b"<script>alert(1)</script>\0".to_vec(),
                },
                Event {
                    dir: Dir::Closed,
                    bytes: vec![],
                },
            ],
            commands: vec![],
            truncated: false,
        }]
    }
    fn commands(&self, _last: usize) -> Vec<CommandLine> {
        if self.cleared.load(Ordering::SeqCst) {
            return vec![];
        }
        vec![CommandLine {
            conn: 1,
            name: "INSTREAM".into(),
            line: b"INSTREAM".to_vec(),
            session: None,
            framing: Some("z".into()),
        }]
    }
    fn reset(&self) {
        self.cleared.store(true, Ordering::SeqCst);
    }
    fn signatures(&self) -> Vec<Signature> {
        vec![Signature::new("PRETEND", BODY.to_vec())]
    }
}

async fn exchange(addr: std::net::SocketAddr, req: String) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (status, head.to_string(), body.to_string())
}

async fn get(addr: std::net::SocketAddr, path: &str, host: &str) -> (u16, String, String) {
    exchange(addr, format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")).await
}

async fn server(live: Option<Arc<Stand>>) -> (AdminServer, FaultSet) {
    let set = FaultSet::new(
        FaultPlan::new()
            .seed(5)
            .rule(Rule::new(Trigger::command("PING"), Fault::Reset).named("<b>rule</b>")),
    );
    let mut opts = AdminOptions::default().title("fake-test");
    if let Some(l) = live {
        opts = opts.live(l);
    }
    let s = AdminServer::start_with("127.0.0.1:0".parse().unwrap(), set.clone(), opts)
        .await
        .unwrap();
    (s, set)
}

/// Live view: `GET /` is one self-contained HTML page (CSP forbids scripts and loads),
/// peer text escaped, signature bodies shown as their label, rules and counters listed.
#[tokio::test]
async fn page_is_self_contained_escaped_and_redacted() {
    let (s, _set) = server(Some(Arc::default())).await;
    let (st, head, body) = get(s.addr(), "/", "127.0.0.1").await;
    assert_eq!(st, 200);
    assert!(
        head.contains("Content-Type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains("Content-Security-Policy: default-src 'none'"),
        "{head}"
    );
    assert!(head.contains("X-Content-Type-Options: nosniff"), "{head}");
    assert!(body.starts_with("<!DOCTYPE html>"));
    assert!(!body.contains("<script"), "peer markup must be escaped");
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\0"),
        "{body}"
    );
    assert!(!body.contains("PRETEND-SIGNATURE"), "body must be redacted");
    assert!(body.contains("&lt;PRETEND, 22 bytes&gt;"), "{body}");
    assert!(
        body.contains("&lt;b&gt;rule&lt;/b&gt;"),
        "rule names escaped"
    );
    assert!(body.contains("INSTREAM"));
    assert!(body.contains("fake-test: live state"));
    for external in ["src=", "href=", "http://", "https://"] {
        assert!(!body.contains(external), "{external} in page");
    }
}

/// Live view: `/transcripts` and `/commands` as JSON, texts escaped and redacted.
#[tokio::test]
async fn transcripts_and_commands_as_json() {
    let (s, _set) = server(Some(Arc::default())).await;
    let (st, head, body) = get(s.addr(), "/transcripts", "localhost").await;
    assert_eq!(st, 200);
    assert!(head.contains("Content-Type: application/json"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let t = &v["transcripts"][0];
    assert_eq!(v["omitted"], 0);
    assert_eq!(t["conn"], 1);
    assert_eq!(
        t["received"],
        "zINSTREAM\\0\\0\\0\\0\\x16<PRETEND, 22 bytes>"
    );
    assert_eq!(t["bytes_received"], 36);
    assert_eq!(t["sent"], "<script>alert(1)</script>\\0");
    assert_eq!(t["closed"], true);
    assert_eq!(t["events"][0]["dir"], "recv");
    assert_eq!(t["events"][2]["dir"], "closed");
    let (st, _, body) = get(s.addr(), "/commands", "[::1]").await;
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["commands"][0]["name"], "INSTREAM");
    assert_eq!(v["commands"][0]["framing"], "z");
}

/// Live view: `POST /reset` clears the records as well as faults and counters; it needs
/// the JSON content type like every write (hardening item 7).
#[tokio::test]
async fn reset_clears_records_and_needs_json() {
    let live = Arc::new(Stand::default());
    let (s, set) = server(Some(live.clone())).await;
    let post = |ct: &str| {
        format!("POST /reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ct}\r\nContent-Length: 0\r\n\r\n")
    };
    let (st, _, _) = exchange(s.addr(), post("text/plain")).await;
    assert_eq!(st, 415);
    assert!(!live.cleared.load(Ordering::SeqCst));
    let (st, _, _) = exchange(s.addr(), post("application/json")).await;
    assert_eq!(st, 200);
    assert!(live.cleared.load(Ordering::SeqCst));
    assert!(set.plan().rules.is_empty());
    let (_, _, body) = get(s.addr(), "/transcripts", "127.0.0.1").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["transcripts"], serde_json::json!([]));
}

/// Hardening item 7 holds for the new pages: a foreign Host is refused (DNS rebinding),
/// writes to them are 405.
#[tokio::test]
async fn live_pages_keep_the_host_check() {
    let (s, _set) = server(Some(Arc::default())).await;
    for path in ["/", "/transcripts", "/commands"] {
        let (st, _, body) = get(s.addr(), path, "evil.example").await;
        assert_eq!(st, 403, "{path}");
        assert!(!body.contains("INSTREAM"));
        let (st, _, _) = exchange(
            s.addr(),
            format!("PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n"),
        )
        .await;
        assert_eq!(st, 405, "{path}");
    }
}

/// Live view: a server without live state answers empty lists and says so on the page.
#[tokio::test]
async fn without_live_state_lists_are_empty() {
    let (s, _set) = server(None).await;
    let (_, _, body) = get(s.addr(), "/commands", "127.0.0.1").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["commands"], serde_json::json!([]));
    let (st, _, page) = get(s.addr(), "/", "127.0.0.1").await;
    assert_eq!(st, 200);
    assert!(page.contains("records no transcripts"));
}
