//! The virtual node: for a kept radio with a `virtual_port`, meshdeck serves the firmware's
//! TCP client API itself, so any number of clients (phone apps, the Python CLI) use the radio
//! while meshdeck alone holds its one TCP connection.
//!
//! [`VirtualNodes`] owns the settings (stored with the kept radio, `store::vnode`) and a
//! supervisor task that listens on each port while its kept radio's link is up, on the bind
//! address's host (`listen`). Each client is one task that owns its socket (`client`):
//! config downloads come from the link's cache (`dump`), packets go out through the link's
//! handle (texts through its text queue), and what the radio hears comes from the link's
//! broadcast of `FromRadio` messages.

mod client;
pub mod dump;
mod listen;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::kept::KeptRadios;
use crate::store::Store;

pub use crate::store::vnode::VirtualNode;
pub use client::WRITE_TIMEOUT;
pub use listen::MAX_CLIENTS;

/// How often the supervisor looks at the kept radios' links.
const TICK: Duration = Duration::from_millis(250);
/// How long a port that could not be bound waits before the next try.
const RETRY_BIND: Duration = Duration::from_secs(5);

struct Inner {
    store: Store,
    kept: KeptRadios,
    /// The host the web server listens on; virtual nodes listen there too.
    host: IpAddr,
    /// The web server's port, which no virtual node may take.
    web_port: u16,
    /// By kept radio id.
    settings: Mutex<HashMap<String, VirtualNode>>,
    /// Which virtual nodes listen now, by kept radio id.
    listening: Mutex<HashMap<String, u16>>,
    changed: Notify,
}

/// Every kept radio's virtual node; cheap to clone.
#[derive(Clone)]
pub struct VirtualNodes(Arc<Inner>);

impl VirtualNodes {
    pub fn new(store: Store, kept: KeptRadios, bind: SocketAddr) -> VirtualNodes {
        VirtualNodes(Arc::new(Inner {
            store,
            kept,
            host: bind.ip(),
            web_port: bind.port(),
            settings: Mutex::default(),
            listening: Mutex::default(),
            changed: Notify::new(),
        }))
    }

    fn settings(&self) -> std::sync::MutexGuard<'_, HashMap<String, VirtualNode>> {
        self.0.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn listening(&self) -> std::sync::MutexGuard<'_, HashMap<String, u16>> {
        self.0.listening.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the stored settings (at start-up, before [`VirtualNodes::run`]).
    pub async fn load(&self) -> anyhow::Result<()> {
        let all = self.0.store.virtual_nodes().await?;
        *self.settings() = all.into_iter().collect();
        Ok(())
    }

    /// A kept radio's virtual node (none unless set).
    pub fn get(&self, kept_id: &str) -> VirtualNode {
        self.settings().get(kept_id).copied().unwrap_or_default()
    }

    /// Whether the kept radio's virtual node listens now.
    pub fn is_listening(&self, kept_id: &str) -> bool {
        self.listening().contains_key(kept_id)
    }

    /// Whether `v` may be the kept radio's virtual node; the message says what is wrong.
    pub fn check(&self, kept_id: &str, v: VirtualNode) -> Result<(), String> {
        if let Some(port) = v.port {
            if port == 0 {
                return Err("virtual_port must be 1–65535".into());
            }
            if port == self.0.web_port {
                return Err(format!("virtual_port {port} is the web server's port"));
            }
            let taken = self
                .settings()
                .iter()
                .any(|(id, o)| id != kept_id && o.port == Some(port));
            if taken {
                return Err(format!(
                    "virtual_port {port} is another kept radio's virtual port"
                ));
            }
        }
        Ok(())
    }

    /// Changes a kept radio's virtual node; the message says what is wrong with it.
    pub async fn set(&self, kept_id: &str, v: VirtualNode) -> Result<(), String> {
        self.check(kept_id, v)?;
        match self.0.store.set_virtual_node(kept_id, v).await {
            Ok(true) => {}
            Ok(false) => return Err("Session not found".into()),
            Err(e) => {
                tracing::error!(error = ?e, "storing a virtual node failed");
                return Err("the database failed".into());
            }
        }
        self.settings().insert(kept_id.to_string(), v);
        self.0.changed.notify_one();
        Ok(())
    }

    /// Listens for each kept radio whose link is up and that has a virtual port, until `stop`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut running: HashMap<String, listen::Listening> = HashMap::new();
        let mut failed: HashMap<String, (u16, Instant)> = HashMap::new();
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.0.changed.notified() => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            let wanted: Vec<_> = self
                .0
                .kept
                .list()
                .into_iter()
                .filter_map(|k| {
                    let v = self.get(&k.rec.id);
                    let link = k.link.filter(|l| !l.is_closed())?;
                    Some((k.rec.id, k.rec.name, link, v.port?, v.admin))
                })
                .collect();
            running.retain(|id, l| {
                wanted.iter().any(|(wid, _, link, port, _)| {
                    wid == id && *port == l.port && link.addr() == l.link.addr()
                }) && !l.link.is_closed()
            });
            for (id, name, link, port, admin) in wanted {
                if let Some(l) = running.get(&id) {
                    l.admin.store(admin, Ordering::Relaxed);
                    continue;
                }
                if failed
                    .get(&id)
                    .is_some_and(|(p, at)| *p == port && at.elapsed() < RETRY_BIND)
                {
                    continue;
                }
                let addr = SocketAddr::new(self.0.host, port);
                match listen::start(addr, &name, link, admin).await {
                    Ok(l) => {
                        failed.remove(&id);
                        running.insert(id, l);
                    }
                    Err(e) => {
                        tracing::warn!(radio = %name, %addr, error = %e, "virtual node could not listen; trying again");
                        failed.insert(id, (port, Instant::now()));
                    }
                }
            }
            *self.listening() = running.iter().map(|(id, l)| (id.clone(), l.port)).collect();
        }
        self.listening().clear();
    }
}
