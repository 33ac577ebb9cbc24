//! A virtual node's listener: accepts clients on its port while the kept radio's link is
//! up, and starts one task per client (at most [`MAX_CLIENTS`] at once).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::client::Client;
use crate::radio::LinkHandle;

/// Clients one virtual node serves at once; more are refused.
pub const MAX_CLIENTS: usize = 32;

/// A running listener: dropping it stops it and its clients.
pub(super) struct Listening {
    pub port: u16,
    pub link: LinkHandle,
    pub admin: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Binds `addr` and serves `link` there until the returned [`Listening`] is dropped.
pub(super) async fn start(
    addr: SocketAddr,
    name: &str,
    link: LinkHandle,
    admin: bool,
) -> std::io::Result<Listening> {
    let listener = TcpListener::bind(addr).await?;
    if !addr.ip().is_loopback() {
        tracing::warn!(radio = %name, %addr, "virtual node listening beyond loopback: anyone who can reach it can read this radio's mesh and send on it");
    } else {
        tracing::info!(radio = %name, %addr, "virtual node listening");
    }
    let (stop, stopped) = watch::channel(false);
    let on = Listening {
        port: addr.port(),
        link: link.clone(),
        admin: Arc::new(AtomicBool::new(admin)),
        stop,
    };
    tokio::spawn(accept_loop(listener, link, on.admin.clone(), stopped));
    Ok(on)
}

async fn accept_loop(
    listener: TcpListener,
    link: LinkHandle,
    admin: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "virtual node: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        if open.load(Ordering::SeqCst) >= MAX_CLIENTS {
            tracing::warn!(client = %peer, "virtual node full ({MAX_CLIENTS} clients); refused");
            drop(stream);
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        tracing::info!(radio = %link.addr(), client = %peer, "virtual node client connected");
        let client = Client {
            link: link.clone(),
            peer,
            admin: admin.clone(),
            stop: stop.clone(),
        };
        let open = open.clone();
        tokio::spawn(async move {
            client.run(stream).await;
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}
