//! A small HTTP/1.1 client over raw loopback sockets, so the tool counts what a browser
//! receives: every byte read from the socket, status line, headers and chunk framing
//! included. A `Browser` is one visitor: its cookie jar, up to six keep-alive connections
//! (as Chromium keeps per host), the headers Chromium sends, and a log of what it received.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Chromium's request headers (Linux, version 131), shortened to what matters here.
pub const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
/// What Chromium asks for on every request.
pub const CHROMIUM_ENCODINGS: &str = "gzip, deflate, br, zstd";

/// A request or read that takes longer than this fails.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One response as read from the socket.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body without its transfer framing (still compressed if the server compressed it).
    pub body: Vec<u8>,
    /// Every byte read for this response: status line, headers, framing, body.
    pub wire: u64,
    /// The server closes the connection after this response.
    pub close: bool,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body, decompressed when the server compressed it with gzip or deflate.
    pub fn text(&self) -> anyhow::Result<String> {
        let mut out = Vec::new();
        match self.header("content-encoding") {
            Some("gzip") => {
                flate2::read::GzDecoder::new(&self.body[..]).read_to_end(&mut out)?;
            }
            Some("deflate") => {
                // RFC 9110's deflate is zlib; some servers send raw deflate.
                if flate2::read::ZlibDecoder::new(&self.body[..])
                    .read_to_end(&mut out)
                    .is_err()
                {
                    out.clear();
                    flate2::read::DeflateDecoder::new(&self.body[..]).read_to_end(&mut out)?;
                }
            }
            None | Some("identity") => out.extend_from_slice(&self.body),
            Some(other) => bail!("cannot decode content-encoding {other}"),
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        let t = self.text()?;
        serde_json::from_str(&t).with_context(|| {
            format!(
                "HTTP {} body is not JSON: {:?}",
                self.status,
                t.chars().take(200).collect::<String>()
            )
        })
    }
}

/// One TCP connection to the server.
pub struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        anyhow::ensure!(addr.ip().is_loopback(), "only loopback, not {addr}");
        let s = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
            .await
            .context("connect timed out")??;
        s.set_nodelay(true)?;
        Ok(Conn {
            s,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends one request and reads its whole response.
    pub async fn round_trip(&mut self, req: &[u8]) -> anyhow::Result<Resp> {
        tokio::time::timeout(IO_TIMEOUT, async {
            self.s.write_all(req).await?;
            self.read_response().await
        })
        .await
        .context("no whole response within 30 s")?
    }

    async fn fill(&mut self) -> anyhow::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.s.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads the status line and headers; gives them and the bytes they took.
    async fn read_head(&mut self) -> anyhow::Result<(u16, Vec<(String, String)>, u64)> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                let mut lines = head.split("\r\n");
                let status_line = lines.next().unwrap_or("");
                let status = status_line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .with_context(|| format!("bad status line {status_line:?}"))?;
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                return Ok((status, headers, end as u64 + 4));
            }
            if self.fill().await? == 0 {
                bail!("connection closed before a response head");
            }
        }
    }

    async fn read_response(&mut self) -> anyhow::Result<Resp> {
        let (status, headers, mut wire) = self.read_head().await?;
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let close = get("connection").is_some_and(|v| v.contains("close"));
        let mut body = Vec::new();
        if status == 304 || status == 204 || (100..200).contains(&status) {
        } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let line_end = loop {
                    if let Some(e) = find(&self.buf, b"\r\n") {
                        break e;
                    }
                    if self.fill().await? == 0 {
                        bail!("connection closed inside a chunked body");
                    }
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .with_context(|| format!("bad chunk size {size_text:?}"))?;
                self.buf.drain(..line_end + 2);
                wire += line_end as u64 + 2;
                if size == 0 {
                    // Trailers (none expected) end with an empty line.
                    loop {
                        if let Some(e) = find(&self.buf, b"\r\n") {
                            self.buf.drain(..e + 2);
                            wire += e as u64 + 2;
                            if e == 0 {
                                break;
                            }
                            continue;
                        }
                        if self.fill().await? == 0 {
                            bail!("connection closed inside the chunk trailer");
                        }
                    }
                    break;
                }
                while self.buf.len() < size + 2 {
                    if self.fill().await? == 0 {
                        bail!("connection closed inside a chunk");
                    }
                }
                body.extend_from_slice(&self.buf[..size]);
                self.buf.drain(..size + 2);
                wire += size as u64 + 2;
            }
        } else if let Some(len) = get("content-length") {
            let len: usize = len.trim().parse().context("bad content-length")?;
            while self.buf.len() < len {
                if self.fill().await? == 0 {
                    bail!("connection closed inside a body");
                }
            }
            body.extend(self.buf.drain(..len));
            wire += len as u64;
        } else {
            while self.fill().await? > 0 {}
            wire += self.buf.len() as u64;
            body.append(&mut self.buf);
            return Ok(Resp {
                status,
                headers,
                body,
                wire,
                close: true,
            });
        }
        Ok(Resp {
            status,
            headers,
            body,
            wire,
            close,
        })
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// A request's text, Chromium's headers first.
pub fn request(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n");
    for (k, v) in headers {
        r.push_str(k);
        r.push_str(": ");
        r.push_str(v);
        r.push_str("\r\n");
    }
    if let Some(b) = body {
        r.push_str(&format!("Content-Length: {}\r\n\r\n{b}", b.len()));
    } else {
        r.push_str("\r\n");
    }
    r.into_bytes()
}

/// What kind of request a browser makes: it decides the headers.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    /// A page the user opens (`<a href>`, the address bar).
    Navigate,
    /// A `fetch()` from the page's script (the original's polls).
    Fetch,
    /// An htmx request (fetch-like, plus htmx's headers).
    Htmx,
    /// A `<script>`, stylesheet or icon the page loads.
    Asset,
    /// An `EventSource`.
    EventSource,
}

/// One visitor: a cookie jar and up to six connections.
pub struct Browser {
    pub addr: SocketAddr,
    host: String,
    cookies: Mutex<BTreeMap<String, String>>,
    idle: Mutex<Vec<Conn>>,
    slots: Semaphore,
    /// Bytes received by requests (not streams), in total.
    pub rx: AtomicU64,
    /// (when, path, bytes received) of every request.
    pub log: Mutex<Vec<(Instant, String, u64)>>,
    pub errors: AtomicU64,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Arc<Browser> {
        Arc::new(Browser {
            addr,
            host: addr.to_string(),
            cookies: Mutex::new(BTreeMap::new()),
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(6),
            rx: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            errors: AtomicU64::new(0),
        })
    }

    /// The `Cookie` header value (empty when there is no cookie yet).
    pub fn cookie(&self) -> String {
        let c = self.cookies.lock().unwrap();
        c.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take_cookies(&self, r: &Resp) {
        let mut c = self.cookies.lock().unwrap();
        for (k, v) in &r.headers {
            if k != "set-cookie" {
                continue;
            }
            let pair = v.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                let expired = v.to_ascii_lowercase().contains("max-age=0");
                if value.is_empty() || expired {
                    c.remove(name.trim());
                } else {
                    c.insert(name.trim().to_string(), value.trim().to_string());
                }
            }
        }
    }

    pub fn headers(
        &self,
        kind: Kind,
        referer: &str,
        extra: &[(&'static str, String)],
    ) -> Vec<(&'static str, String)> {
        let origin = format!("http://{}", self.host);
        let mut h: Vec<(&'static str, String)> = vec![("User-Agent", UA.into())];
        let (accept, mode, dest) = match kind {
            Kind::Navigate => (
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8",
                "navigate",
                "document",
            ),
            Kind::Fetch | Kind::Htmx => ("*/*", "cors", "empty"),
            Kind::Asset => ("*/*", "no-cors", "script"),
            Kind::EventSource => ("text/event-stream", "cors", "empty"),
        };
        h.push(("Accept", accept.into()));
        if kind == Kind::EventSource {
            h.push(("Cache-Control", "no-cache".into()));
        }
        h.push((
            "Sec-Fetch-Site",
            if kind == Kind::Navigate {
                "none"
            } else {
                "same-origin"
            }
            .into(),
        ));
        h.push(("Sec-Fetch-Mode", mode.into()));
        h.push(("Sec-Fetch-Dest", dest.into()));
        if kind != Kind::Navigate {
            h.push(("Referer", format!("{origin}{referer}")));
        }
        if kind == Kind::Htmx {
            h.push(("HX-Request", "true".into()));
            h.push(("HX-Current-URL", format!("{origin}{referer}")));
        }
        h.extend(extra.iter().cloned());
        h.push(("Accept-Encoding", CHROMIUM_ENCODINGS.into()));
        h.push(("Accept-Language", "en-US,en;q=0.9".into()));
        let cookie = self.cookie();
        if !cookie.is_empty() {
            h.push(("Cookie", cookie));
        }
        h
    }

    /// One request through the browser's connections; the response's cookies are kept.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        kind: Kind,
        referer: &str,
        extra: &[(&'static str, String)],
        body: Option<&str>,
    ) -> anyhow::Result<Resp> {
        let _slot = self.slots.acquire().await?;
        let headers = self.headers(kind, referer, extra);
        let req = request(method, &self.host, path, &headers, body);
        let reused = self.idle.lock().unwrap().pop();
        let was_reused = reused.is_some();
        let mut conn = match reused {
            Some(c) => c,
            None => Conn::open(self.addr).await?,
        };
        let r = match conn.round_trip(&req).await {
            Ok(r) => r,
            // A keep-alive connection the server closed meanwhile: once more on a new one.
            Err(_) if was_reused => {
                conn = Conn::open(self.addr).await?;
                conn.round_trip(&req).await?
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                return Err(e.context(format!("{method} {path}")));
            }
        };
        if !r.close {
            self.idle.lock().unwrap().push(conn);
        }
        self.take_cookies(&r);
        self.rx.fetch_add(r.wire, Ordering::Relaxed);
        self.log
            .lock()
            .unwrap()
            .push((Instant::now(), path.to_string(), r.wire));
        Ok(r)
    }

    pub async fn get(&self, path: &str, kind: Kind, referer: &str) -> anyhow::Result<Resp> {
        self.send("GET", path, kind, referer, &[], None).await
    }

    /// A JSON POST as the original's page sends it (`fetch` with a JSON body).
    pub async fn post_json(&self, path: &str, body: &str) -> anyhow::Result<Resp> {
        let extra = [
            ("Content-Type", "application/json".to_string()),
            ("Origin", format!("http://{}", self.host)),
        ];
        self.send("POST", path, Kind::Fetch, "/", &extra, Some(body))
            .await
    }

    /// Bytes received by requests whose response arrived in [from, to).
    pub fn rx_between(&self, from: Instant, to: Instant) -> u64 {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| *t >= from && *t < to)
            .map(|(_, _, b)| *b)
            .sum()
    }

    /// Opens a live stream (`EventSource`) on its own connection; its bytes are counted in
    /// the returned stream's counter.
    pub async fn open_stream(
        self: &Arc<Self>,
        path: &str,
        referer: &str,
    ) -> anyhow::Result<Stream> {
        let headers = self.headers(Kind::EventSource, referer, &[]);
        let req = request("GET", &self.host, path, &headers, None);
        let mut conn = Conn::open(self.addr).await?;
        conn.s.write_all(&req).await?;
        let (status, heads, head_bytes) = tokio::time::timeout(IO_TIMEOUT, conn.read_head())
            .await
            .context("stream: no response head within 30 s")??;
        if status != 200 {
            bail!("stream {path}: HTTP {status}");
        }
        let bytes = Arc::new(AtomicU64::new(head_bytes + conn.buf.len() as u64));
        let ended = Arc::new(AtomicU64::new(0));
        let (b, e) = (bytes.clone(), ended.clone());
        let task = tokio::spawn(async move {
            let mut s = conn.s;
            let mut chunk = vec![0u8; 16 * 1024];
            loop {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => {
                        e.store(1, Ordering::Relaxed);
                        return;
                    }
                    Ok(n) => {
                        b.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }
        });
        let encoding = heads
            .iter()
            .find(|(k, _)| k == "content-encoding")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "identity".into());
        Ok(Stream {
            bytes,
            ended,
            task,
            encoding,
        })
    }
}

/// A live stream being read in the background.
pub struct Stream {
    pub bytes: Arc<AtomicU64>,
    ended: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
    pub encoding: String,
}

impl Stream {
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed) == 1
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.task.abort();
    }
}
