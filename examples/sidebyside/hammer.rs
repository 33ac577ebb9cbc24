//! One URL asked without think time from N connections sharing one session's cookie, as
//! the table measures `/api/nodes` and `/api/status`: each connection sends the next
//! request when the previous answer is read whole; a server that closes the connection after
//! every answer (Werkzeug does) costs the client a new TCP connection per request, which
//! the latency includes, as it would in a browser.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::http::{request, Browser, Conn, Kind};
use crate::support::proc;

pub struct Hammered {
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    /// Mean bytes received per response (status line and headers included).
    pub wire: f64,
    /// Mean body bytes per response, as sent (compressed or not).
    pub body: f64,
    pub encoding: String,
    pub etag: Option<String>,
    /// Share of answers that were 304.
    pub not_modified: f64,
    /// Server CPU ms per request.
    pub cpu_ms: Option<f64>,
    pub count: usize,
}

pub fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Asks `path` from `conns` connections for `secs` with `Accept-Encoding: gzip`, and
/// `If-None-Match: etag` when given.
pub async fn run(
    b: &Arc<Browser>,
    addr: SocketAddr,
    pid: u32,
    path: &str,
    conns: usize,
    secs: u64,
    etag: Option<String>,
) -> anyhow::Result<Hammered> {
    let mut headers = b.headers(Kind::Fetch, "/", &[]);
    for h in headers.iter_mut() {
        if h.0 == "Accept-Encoding" {
            h.1 = "gzip".into();
        }
    }
    // A revalidating client sends the ETag of the last full answer it got, as a browser's
    // cache does: each connection starts from `etag` and keeps the newest one it is sent.
    let headers = Arc::new(headers);
    let host = addr.to_string();
    let path = Arc::new(path.to_string());
    let until = Instant::now() + Duration::from_secs(secs);
    let c0 = proc::cpu_secs(pid);
    let t0 = Instant::now();
    let mut hs = Vec::new();
    for _ in 0..conns {
        let (headers, host, path) = (headers.clone(), host.clone(), path.clone());
        let want_304 = etag.is_some();
        let mut tag = etag.clone();
        hs.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut wire, mut body, mut n304, mut bad) = (0u64, 0u64, 0usize, 0usize);
            let mut last: Option<(String, Option<String>)> = None;
            let mut conn: Option<Conn> = None;
            while Instant::now() < until {
                let t = Instant::now();
                let c = match conn.take() {
                    Some(c) => c,
                    None => match Conn::open(addr).await {
                        Ok(c) => c,
                        Err(_) => {
                            bad += 1;
                            continue;
                        }
                    },
                };
                let mut c = c;
                let mut h = (*headers).clone();
                if let Some(e) = &tag {
                    h.push(("If-None-Match", e.clone()));
                }
                let req = request("GET", &host, &path, &h, None);
                match c.round_trip(&req).await {
                    Ok(r) if r.status == 200 || (want_304 && r.status == 304) => {
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        wire += r.wire;
                        body += r.body.len() as u64;
                        n304 += usize::from(r.status == 304);
                        if r.status == 200 && want_304 {
                            if let Some(e) = r.header("etag") {
                                tag = Some(e.to_string());
                            }
                        }
                        if r.status == 200 {
                            last = Some((
                                r.header("content-encoding")
                                    .unwrap_or("identity")
                                    .to_string(),
                                r.header("etag").map(str::to_string),
                            ));
                        }
                        if !r.close {
                            conn = Some(c);
                        }
                    }
                    Ok(_) | Err(_) => bad += 1,
                }
            }
            (lat, wire, body, n304, bad, last)
        }));
    }
    let mut lat = Vec::new();
    let (mut wire, mut body, mut n304, mut bad) = (0u64, 0u64, 0usize, 0usize);
    let mut last = None;
    for h in hs {
        let (l, w, bo, n, e, la) = h.await?;
        lat.extend(l);
        wire += w;
        body += bo;
        n304 += n;
        bad += e;
        if la.is_some() {
            last = la;
        }
    }
    let el = t0.elapsed().as_secs_f64();
    let cpu = c0.zip(proc::cpu_secs(pid)).map(|(a, b)| b - a);
    let count = lat.len();
    if count == 0 || bad * 100 > count {
        bail!("{path}: {count} answers and {bad} failures from {conns} connections in {secs} s");
    }
    let (encoding, tag) = last.unwrap_or(("(only 304)".into(), etag.clone()));
    Ok(Hammered {
        rps: count as f64 / el,
        p50: pct(&mut lat, 0.5),
        p99: pct(&mut lat, 0.99),
        wire: wire as f64 / count as f64,
        body: body as f64 / count as f64,
        encoding,
        etag: tag,
        not_modified: n304 as f64 / count as f64,
        cpu_ms: cpu.map(|c| c * 1000.0 / count as f64),
        count,
    })
}
