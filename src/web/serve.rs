//! The accept loop: at most `max_connections` connections at once (more wait in the
//! kernel's queue), each one task serving HTTP/1.1 with a 10 s limit on reading a request's
//! headers (between requests too), so sockets that send half a request, or nothing, do not
//! pile up. Each request carries its peer's address (`ConnectInfo`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Open files kept for the radios, the database and the log when the connection cap is
/// fitted under the open-file limit.
const RESERVE_FILES: usize = 256;

/// The connection cap: as configured, at most the open-file limit less a reserve.
pub fn connection_cap(configured: usize) -> usize {
    let limit = open_file_limit();
    let fits = limit.map_or(configured, |l| l.saturating_sub(RESERVE_FILES).max(16));
    if fits < configured {
        tracing::warn!(
            configured,
            open_files = limit,
            "the open-file limit allows {fits} connections; raise it (LimitNOFILE=) for more"
        );
    }
    configured.min(fits).clamp(1, Semaphore::MAX_PERMITS)
}

/// The soft limit of open files (`/proc/self/limits`).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Serves `router` on `listener` until `stop` changes; then every connection is asked to
/// finish (its request in flight completes).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut conns = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let (socket, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of files, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        // Reap finished connections' tasks as we go.
        while conns.try_join_next().is_some() {}
        let _ = socket.set_nodelay(true);
        conns.spawn(connection(
            socket,
            peer,
            router.clone(),
            stop.clone(),
            permit,
        ));
    }
    while conns.join_next().await.is_some() {}
}

async fn connection(
    socket: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder
        .serve_connection(TokioIo::new(socket), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_open_file_limit_is_read() {
        assert!(super::open_file_limit().is_some_and(|n| n > 0));
        assert!(super::connection_cap(usize::MAX) < usize::MAX);
        assert_eq!(super::connection_cap(10), 10);
    }
}
