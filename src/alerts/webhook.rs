//! The webhook sender: one task that POSTs fired alerts as JSON, from a bounded queue. Each
//! delivery resolves the host once, checks the address against the allowlist and connects
//! to that address only; one try, and one more a second later. A plain HTTP/1.1 request
//! over a `TcpStream` (no TLS client here), 5 s for all of it, and the status line read.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::rules::Webhook;
use super::Alerts;
use crate::allow::AllowList;

/// Deliveries that may wait; more are dropped (and said so on their rule).
pub const QUEUE: usize = 64;
/// All of one attempt: resolve, connect, send, read the status line.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Before the one retry.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// One delivery to make.
pub(super) struct Job {
    pub rule: i64,
    pub hook: Webhook,
    pub body: Vec<u8>,
}

/// Where the webhook's address is, if the allowlist allows it (resolved once).
pub async fn check(allow: &AllowList, hook: &Webhook) -> Result<SocketAddr, String> {
    allow
        .resolve(&hook.host, hook.port)
        .await
        .map_err(|e| format!("webhook refused: {e}"))
}

/// One attempt: the HTTP status, or what went wrong.
async fn attempt(allow: &AllowList, job: &Job) -> Result<u16, String> {
    let go = async {
        let addr = check(allow, &job.hook).await?;
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: meshdeck\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            job.hook.path,
            job.hook.host_header(),
            job.body.len()
        );
        let mut req = head.into_bytes();
        req.extend_from_slice(&job.body);
        s.write_all(&req)
            .await
            .map_err(|e| format!("sending failed: {e}"))?;
        // The status line is all we want; 1 KiB is plenty for it.
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 256];
        while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 1024 {
            let n = s
                .read(&mut chunk)
                .await
                .map_err(|e| format!("reading the answer failed: {e}"))?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        status(&buf)
    };
    match tokio::time::timeout(TIMEOUT, go).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
    }
}

/// The status code of an HTTP/1.x status line.
fn status(buf: &[u8]) -> Result<u16, String> {
    let line = buf.split(|b| *b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    match (
        parts.next(),
        parts.next().and_then(|c| c.parse::<u16>().ok()),
    ) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => Ok(code),
        _ => Err("the answer was not HTTP".into()),
    }
}

/// Delivers one job: a 2xx is done; anything else is tried once more.
async fn deliver(allow: &AllowList, job: &Job) -> Result<(), String> {
    let mut last = String::new();
    for n in 0..2 {
        if n > 0 {
            tokio::time::sleep(RETRY_AFTER).await;
        }
        match attempt(allow, job).await {
            Ok(code) if (200..300).contains(&code) => return Ok(()),
            Ok(code) => last = format!("HTTP {code}"),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The sender: takes jobs until the server stops.
pub(super) async fn run(
    alerts: Alerts,
    mut jobs: mpsc::Receiver<Job>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let job = tokio::select! {
            j = jobs.recv() => j,
            _ = stop.changed() => None,
        };
        let Some(job) = job else { return };
        let allow = alerts.0.allow.clone();
        let result = deliver(&allow, &job).await;
        if let Err(e) = &result {
            // The URL and the reason may hold what a user typed: logged escaped.
            tracing::warn!(rule = job.rule, webhook = ?job.hook.to_string(), error = ?e, "alert webhook delivery failed");
        }
        alerts.delivered(job.rule, result);
    }
}

#[cfg(test)]
mod tests {
    use super::status;

    #[test]
    fn status_lines_are_read() {
        assert_eq!(status(b"HTTP/1.1 204 No Content\r\n"), Ok(204));
        assert_eq!(status(b"HTTP/1.0 500 x\r\n"), Ok(500));
        assert!(status(b"SSH-2.0\r\n").is_err());
        assert!(status(b"").is_err());
    }
}
