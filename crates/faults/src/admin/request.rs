//! Reading one HTTP/1.1 request, bounded in bytes (head, body) and time (each read).

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A refusal: status and message for the JSON error body (bounds exceeded here, or a
/// request the guard refuses).
pub(crate) type Refusal = (u16, &'static str);

/// The request line and headers.
pub(crate) struct Head {
    pub method: String,
    pub path: String,
    headers: Vec<(String, String)>,
}

impl Head {
    /// The value of a header that may appear at most once (400 when repeated).
    pub fn header(&self, name: &str) -> Result<Option<&str>, Refusal> {
        let mut it = self
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name));
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err((400, "repeated header"));
        }
        Ok(first)
    }

    /// The declared body length (400 on a malformed value or a chunked body).
    pub fn content_length(&self) -> Result<usize, Refusal> {
        if self.header("transfer-encoding")?.is_some() {
            return Err((400, "chunked bodies are not supported; send Content-Length"));
        }
        match self.header("content-length")? {
            None => Ok(0),
            Some(v) => v.trim().parse().map_err(|_| (400, "bad Content-Length")),
        }
    }
}

/// Limits on what a peer may send.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub max_head: usize,
    pub max_body: usize,
    pub read_timeout: Duration,
}

/// Reads the head. Returns it and the body bytes already received after it.
pub(crate) async fn read_head(
    s: &mut TcpStream,
    limits: Limits,
) -> Result<(Head, Vec<u8>), Refusal> {
    let mut buf = Vec::with_capacity(1024);
    let mut tmp = [0u8; 2048];
    let mut searched = 0;
    let head_end = loop {
        if let Some(p) = find(&buf[searched..], b"\r\n\r\n") {
            break searched + p;
        }
        searched = buf.len().saturating_sub(3);
        if buf.len() > limits.max_head {
            return Err((431, "request headers too large"));
        }
        let n = read_some(s, &mut tmp, limits.read_timeout).await?;
        buf.extend_from_slice(&tmp[..n]);
    };
    if head_end > limits.max_head {
        return Err((431, "request headers too large"));
    }
    let text = std::str::from_utf8(&buf[..head_end]).map_err(|_| (400, "headers are not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    if method.is_empty() || !path.starts_with('/') {
        return Err((400, "bad request line"));
    }
    let mut headers = Vec::new();
    for l in lines {
        let (k, v) = l.split_once(':').ok_or((400, "bad header line"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let rest = buf[head_end + 4..].to_vec();
    Ok((
        Head {
            method,
            path,
            headers,
        },
        rest,
    ))
}

/// Reads the rest of a body of `len` bytes (already checked against the limit).
pub(crate) async fn read_body(
    s: &mut TcpStream,
    mut body: Vec<u8>,
    len: usize,
    limits: Limits,
) -> Result<Vec<u8>, Refusal> {
    if len > limits.max_body {
        return Err((413, "request body too large"));
    }
    body.truncate(len);
    body.reserve_exact(len - body.len());
    let mut tmp = [0u8; 4096];
    while body.len() < len {
        let want = (len - body.len()).min(tmp.len());
        let n = read_some(s, &mut tmp[..want], limits.read_timeout).await?;
        body.extend_from_slice(&tmp[..n]);
    }
    Ok(body)
}

async fn read_some(s: &mut TcpStream, buf: &mut [u8], t: Duration) -> Result<usize, Refusal> {
    match tokio::time::timeout(t, s.read(buf)).await {
        Err(_) => Err((408, "request timed out")),
        Ok(Ok(0)) | Ok(Err(_)) => Err((400, "connection closed mid-request")),
        Ok(Ok(n)) => Ok(n),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
