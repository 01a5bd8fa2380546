//! A tiny HTTP/1.1 JSON admin API over a [`FaultSet`] (feature `admin`):
//!
//! | request          | effect                                   | reply                      |
//! |------------------|------------------------------------------|----------------------------|
//! | `GET /faults`    | -                                        | 200, the plan (JSON)       |
//! | `PUT /faults`    | replace with the JSON plan in the body   | 200, the plan as installed |
//! | `DELETE /faults` | remove every rule                        | 200, the (empty) plan      |
//! | `GET /stats`     | -                                        | 200, [`crate::Stats`]      |
//! | `POST /reset`    | no rules, counters and numbering zeroed  | 200, the stats             |
//!
//! Errors: 400 (bad JSON plan, with `{"error": ...}`), 404, 405, 413 (body over 1 MiB).
//! One request per connection (`Connection: close`); every read is bounded in bytes and
//! time. Bind it to loopback.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::{FaultPlan, FaultSet, FaultsError};

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1 << 20;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A running admin server; dropping it stops it.
pub struct AdminServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Binds `addr` and serves `set`.
    pub async fn start(addr: SocketAddr, set: FaultSet) -> Result<AdminServer, FaultsError> {
        let bind_err = |source| FaultsError::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((s, _)) => {
                        let set = set.clone();
                        tokio::spawn(async move {
                            let _ = tokio::time::timeout(IO_TIMEOUT, serve_one(s, set)).await;
                        });
                    }
                    Err(e) => {
                        tracing::warn!("admin accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        });
        tracing::info!("fault admin API on http://{addr}");
        Ok(AdminServer { addr, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

enum ReadErr {
    TooLarge,
    Bad,
}

async fn read_request(s: &mut TcpStream) -> Result<Request, ReadErr> {
    let mut buf = Vec::with_capacity(1024);
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadErr::TooLarge);
        }
        match s.read(&mut tmp).await {
            Ok(0) | Err(_) => return Err(ReadErr::Bad),
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let mut len = 0usize;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().map_err(|_| ReadErr::Bad)?;
            }
        }
    }
    if len > MAX_BODY {
        return Err(ReadErr::TooLarge);
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        match s.read(&mut tmp).await {
            Ok(0) | Err(_) => return Err(ReadErr::Bad),
            Ok(n) => body.extend_from_slice(&tmp[..n]),
        }
    }
    body.truncate(len);
    Ok(Request { method, path, body })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn json_error(msg: &str) -> String {
    serde_json::json!({ "error": msg }).to_string()
}

fn plan_json(set: &FaultSet) -> String {
    serde_json::to_string_pretty(&set.plan()).unwrap_or_default()
}

fn stats_json(set: &FaultSet) -> String {
    serde_json::to_string_pretty(&set.stats()).unwrap_or_default()
}

/// Handles one request against `set`: (status, JSON body). Public for tests and embedding.
pub fn handle(set: &FaultSet, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let path = path.split('?').next().unwrap_or(path);
    match (method, path) {
        ("GET", "/faults") => (200, plan_json(set)),
        ("PUT", "/faults") | ("POST", "/faults") => match FaultPlan::from_json(body) {
            Ok(plan) => {
                set.replace(plan);
                (200, plan_json(set))
            }
            Err(e) => (400, json_error(&e.to_string())),
        },
        ("DELETE", "/faults") => {
            set.clear();
            (200, plan_json(set))
        }
        ("GET", "/stats") => (200, stats_json(set)),
        ("POST", "/reset") => {
            set.reset();
            (200, stats_json(set))
        }
        (_, "/faults" | "/stats" | "/reset") => (405, json_error("method not allowed")),
        _ => (404, json_error("not found")),
    }
}

async fn serve_one(mut s: TcpStream, set: FaultSet) {
    let (status, body) = match read_request(&mut s).await {
        Ok(req) => {
            let r = handle(&set, &req.method, &req.path, &req.body);
            tracing::debug!(method = %req.method, path = %req.path, status = r.0, "admin");
            r
        }
        Err(ReadErr::TooLarge) => (413, json_error("request too large")),
        Err(ReadErr::Bad) => (400, json_error("bad request")),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Payload Too Large",
    };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}
