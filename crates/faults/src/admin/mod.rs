//! A tiny HTTP/1.1 JSON admin API over a [`FaultSet`] (feature `admin`):
//!
//! | request          | effect                                   | reply                      |
//! |------------------|------------------------------------------|----------------------------|
//! | `GET /faults`    | -                                        | 200, the plan (JSON)       |
//! | `PUT /faults`    | replace with the JSON plan in the body   | 200, the plan as installed |
//! | `DELETE /faults` | remove every rule                        | 200, the (empty) plan      |
//! | `GET /stats`     | -                                        | 200, [`crate::Stats`]      |
//! | `POST /reset`    | no rules, counters, numbering, transcripts and commands cleared | 200, the stats |
//! | `GET /`          | -                                        | 200, the live state (HTML) |
//! | `GET /transcripts` | -                                      | 200, [`live::transcripts_reply`] |
//! | `GET /commands`  | -                                        | 200, [`live::commands_reply`] |
//!
//! The daemon's recorded state reaches the server through [`live::LiveState`]
//! ([`AdminOptions::live`]); without it `/transcripts` and `/commands` are empty lists.
//!
//! Hardening item 7 (it must not be drivable from a web page or the network):
//! - writes (`PUT`/`POST`/`DELETE`, empty bodies too) need `Content-Type:
//!   application/json` (415), which a browser cannot send cross-site without a CORS
//!   preflight; no CORS header is ever sent;
//! - without a token, `Host` must name loopback (`127.0.0.1`, `localhost`, `[::1]`, any
//!   port; 403) against DNS rebinding;
//! - with a token ([`AdminOptions::token`]), every request needs `Authorization: Bearer
//!   TOKEN` (401); a non-loopback address without a token is refused at start;
//! - at most [`AdminOptions::max_connections`] connections at once (more get 503 at
//!   once), headers up to 8 KiB (431), bodies up to 64 KiB (413), each read 2 s (408),
//!   the whole exchange 5 s.
//!
//! Other errors: 400 (bad JSON plan or request, with `{"error": ...}`), 404, 405. One
//! request per connection (`Connection: close`).

pub mod expect;
mod guard;
pub mod handle;
pub mod live;
pub mod page;
mod request;
mod token;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

pub use expect::{Expectation, Expectations, Observed, Times, VerifyError};
pub use handle::{FakeDaemon, HandleCore};
pub use live::{Live, LiveState};
pub use token::{AdminToken, TOKEN_ENV};

use crate::{FaultPlan, FaultSet, FaultsError};
use request::Limits;

/// Limits and access control of the admin server, and the daemon's live state.
#[derive(Clone)]
pub struct AdminOptions {
    /// Bearer token required on every request (required for a non-loopback address).
    pub token: Option<AdminToken>,
    /// Connections served at once; more are answered 503 and closed (16).
    pub max_connections: usize,
    /// Largest request line plus headers (8 KiB; 431 past it).
    pub max_head: usize,
    /// Largest body (64 KiB; 413 past it).
    pub max_body: usize,
    /// Longest wait for each read from the peer (2 s; 408).
    pub read_timeout: Duration,
    /// Longest life of one connection, reply included (5 s): stalled peers are cut.
    pub request_timeout: Duration,
    /// The daemon's transcripts and commands (`GET /`, `/transcripts`, `/commands`).
    pub live: Option<Live>,
    /// Names the daemon on the page (`fake-clamd`).
    pub title: String,
}

impl std::fmt::Debug for AdminOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminOptions")
            .field("token", &self.token)
            .field("max_connections", &self.max_connections)
            .field("max_head", &self.max_head)
            .field("max_body", &self.max_body)
            .field("read_timeout", &self.read_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("live", &self.live.is_some())
            .field("title", &self.title)
            .finish()
    }
}

impl Default for AdminOptions {
    fn default() -> Self {
        AdminOptions {
            token: None,
            max_connections: 16,
            max_head: 8 * 1024,
            max_body: 64 * 1024,
            read_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            live: None,
            title: "fake daemon".to_string(),
        }
    }
}

impl AdminOptions {
    /// With (or without) a bearer token.
    pub fn token(mut self, token: Option<AdminToken>) -> Self {
        self.token = token;
        self
    }

    /// Serve this live state at `GET /`, `/transcripts`, `/commands` (cleared by
    /// `POST /reset`).
    pub fn live(mut self, live: Live) -> Self {
        self.live = Some(live);
        self
    }

    /// The daemon's name on the page.
    pub fn title(mut self, title: &str) -> Self {
        self.title = title.to_string();
        self
    }
}

/// A running admin server; dropping it stops it.
pub struct AdminServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Binds `addr` (loopback: no token needed) and serves `set` with the default options.
    pub async fn start(addr: SocketAddr, set: FaultSet) -> Result<AdminServer, FaultsError> {
        Self::start_with(addr, set, AdminOptions::default()).await
    }

    /// Binds `addr` and serves `set`. A non-loopback `addr` without a token is an error
    /// ([`FaultsError::AdminConfig`]); with a token it is logged as a warning.
    pub async fn start_with(
        addr: SocketAddr,
        set: FaultSet,
        opts: AdminOptions,
    ) -> Result<AdminServer, FaultsError> {
        guard::check_exposure(addr, opts.token.as_ref())?;
        let bind_err = |source| FaultsError::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let permits = Arc::new(Semaphore::new(opts.max_connections.max(1)));
        let renders = Arc::new(Semaphore::new(1));
        let opts = Arc::new(opts);
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((s, _)) => match Arc::clone(&permits).try_acquire_owned() {
                        Ok(permit) => {
                            let (set, opts) = (set.clone(), Arc::clone(&opts));
                            let renders = Arc::clone(&renders);
                            tokio::spawn(async move {
                                let _ = tokio::time::timeout(
                                    opts.request_timeout,
                                    serve_one(s, set, &opts, &renders),
                                )
                                .await;
                                drop(permit);
                            });
                        }
                        Err(_) => refuse_busy(s),
                    },
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

/// Over the connection cap: one non-blocking write of a 503, then close. Costs no task
/// and no buffer, whatever the peer sends.
fn refuse_busy(s: TcpStream) {
    use std::io::Write;
    if let Ok(mut s) = s.into_std() {
        let _ = s.write(response(503, &json_error("too many admin connections")).as_bytes());
    }
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

/// A reply: status, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `application/json` or `text/html; charset=utf-8`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Reply {
    fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: JSON,
            body,
        }
    }
}

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";

/// Handles one request against `set`: (status, JSON body). Public for tests and embedding;
/// access control is the server's (this function trusts its caller).
pub fn handle(set: &FaultSet, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let r = handle_with(set, &AdminOptions::default(), method, path, body);
    (r.status, r.body)
}

/// As [`handle`], with the live state and title of `opts` (`GET /`, `/transcripts`,
/// `/commands`, and `POST /reset` clearing the records too).
pub fn handle_with(
    set: &FaultSet,
    opts: &AdminOptions,
    method: &str,
    path: &str,
    body: &[u8],
) -> Reply {
    let path = path.split('?').next().unwrap_or(path);
    let live = opts.live.as_deref();
    let ok = |body| Reply::json(200, body);
    match (method, path) {
        ("GET", "/faults") => ok(plan_json(set)),
        ("PUT", "/faults") | ("POST", "/faults") => match FaultPlan::from_json(body) {
            Ok(plan) => {
                set.replace(plan);
                ok(plan_json(set))
            }
            Err(e) => Reply::json(400, json_error(&e.to_string())),
        },
        ("DELETE", "/faults") => {
            set.clear();
            ok(plan_json(set))
        }
        ("GET", "/stats") => ok(stats_json(set)),
        ("POST", "/reset") => {
            set.reset();
            if let Some(l) = live {
                l.reset();
            }
            ok(stats_json(set))
        }
        ("GET", "/") => Reply {
            status: 200,
            content_type: HTML,
            body: page::render(&opts.title, set, live),
        },
        ("GET", "/transcripts") => ok(pretty(&match live {
            Some(l) => live::transcripts_reply(l),
            None => serde_json::json!({ "transcripts": [], "omitted": 0 }),
        })),
        ("GET", "/commands") => ok(pretty(&match live {
            Some(l) => live::commands_reply(l),
            None => serde_json::json!({ "commands": [], "omitted": 0 }),
        })),
        (_, "/faults" | "/stats" | "/reset" | "/" | "/transcripts" | "/commands") => {
            Reply::json(405, json_error("method not allowed"))
        }
        _ => Reply::json(404, json_error("not found")),
    }
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Reads, checks and answers one request.
async fn answer(
    s: &mut TcpStream,
    set: &FaultSet,
    opts: &Arc<AdminOptions>,
    renders: &Arc<Semaphore>,
) -> Reply {
    let limits = Limits {
        max_head: opts.max_head,
        max_body: opts.max_body,
        read_timeout: opts.read_timeout,
    };
    let refused = |(status, msg): request::Refusal| Reply::json(status, json_error(msg));
    let (head, rest) = match request::read_head(s, limits).await {
        Ok(h) => h,
        Err(r) => return refused(r),
    };
    if let Err(r) = guard::check(&head, opts.token.as_ref()) {
        tracing::warn!(method = %head.method, path = %head.path, status = r.0, "admin request refused: {}", r.1);
        return refused(r);
    }
    let body = match head.content_length() {
        Ok(len) => request::read_body(s, rest, len, limits).await,
        Err(r) => Err(r),
    };
    match body {
        Ok(body) => {
            let r = respond(set, opts, renders, &head.method, &head.path, body).await;
            tracing::debug!(method = %head.method, path = %head.path, status = r.status, "admin");
            r
        }
        Err(r) => refused(r),
    }
}

/// Answers a checked request. The live views (`GET /`, `/transcripts`, `/commands`) read
/// the whole record (up to its total budget): they render on a blocking thread, one at a
/// time (hostile review: on the daemon's event loop one render stalled every connection,
/// fake-clamd has a single loop thread, and 16 at once multiplied the memory).
async fn respond(
    set: &FaultSet,
    opts: &Arc<AdminOptions>,
    renders: &Arc<Semaphore>,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> Reply {
    let live_view = method == "GET"
        && matches!(
            path.split('?').next(),
            Some("/" | "/transcripts" | "/commands")
        );
    if !live_view {
        return handle_with(set, opts, method, path, &body);
    }
    let Ok(permit) = Arc::clone(renders).acquire_owned().await else {
        return Reply::json(503, json_error("the admin server is stopping"));
    };
    let (set, opts) = (set.clone(), Arc::clone(opts));
    let (method, path) = (method.to_string(), path.to_string());
    // the permit goes with the render: a request that timed out still holds it
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        handle_with(&set, &opts, &method, &path, &body)
    })
    .await
    .unwrap_or_else(|_| Reply::json(500, json_error("rendering failed")))
}

async fn serve_one(
    mut s: TcpStream,
    set: FaultSet,
    opts: &Arc<AdminOptions>,
    renders: &Arc<Semaphore>,
) {
    let r = answer(&mut s, &set, opts, renders).await;
    let _ = s
        .write_all(response_typed(r.status, r.content_type, &r.body).as_bytes())
        .await;
    let _ = s.shutdown().await;
    // Read (and drop) what the peer still sends, a little while, so that closing with
    // unread bytes does not reset the connection before the peer sees an error reply.
    let mut tmp = [0u8; 4096];
    let mut left = 256 * 1024usize;
    while left > 0 {
        match tokio::time::timeout(Duration::from_millis(500), s.read(&mut tmp)).await {
            Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
            _ => break,
        }
    }
}

fn response(status: u16, body: &str) -> String {
    response_typed(status, JSON, body)
}

fn response_typed(status: u16, content_type: &str, body: &str) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let auth = if status == 401 {
        "WWW-Authenticate: Bearer\r\n"
    } else {
        ""
    };
    // the page may not run scripts, load anything, or be framed; nothing is sniffed
    let page = if content_type == HTML {
        format!(
            "Content-Security-Policy: {}\r\nX-Frame-Options: DENY\r\n",
            page::CSP
        )
    } else {
        String::new()
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\n{auth}{page}Content-Type: {content_type}\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
