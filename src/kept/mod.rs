//! Kept radios: radios the server keeps connected with no browser open (the original's named,
//! persistent sessions). Each holds an attachment to the registry's link, so its automation
//! runs and its history is recorded all the time, and browser sessions may attach to the same
//! link. Their settings live in SQLite; `auto_connect` radios, and radios that were connected
//! when the server stopped, connect at start-up and keep trying with backoff until they do.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::allow::AllowList;
use crate::radio::registry::{Attachment, Holder};
use crate::radio::{LinkHandle, LinkOptions, Registry};
use crate::store::kept::{KeptChange, KeptRadio};
use crate::store::Store;

mod automation;
mod view;

pub use automation::{prepare_link, PendingAutomation};
pub use view::KeptView;

/// Longest wait between two tries to connect a kept radio that is not there.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What went wrong with a kept radio request; each says what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeptError {
    #[error("Session not found")]
    NotFound,
    #[error("Session name already exists")]
    NameTaken,
    #[error("{0}")]
    Invalid(String),
    #[error("at most {0} kept radios (MAX_RADIOS)")]
    Limit(usize),
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    Radio(String),
    #[error("the database failed: {0}")]
    Store(String),
}

fn store_err(e: anyhow::Error) -> KeptError {
    tracing::error!(error = ?e, "kept radios: database");
    KeptError::Store(e.to_string())
}

/// One kept radio and what runs for it.
struct Slot {
    rec: KeptRadio,
    attachment: Option<Attachment>,
    /// Stops the start-up retries (set when the radio is disconnected or deleted).
    retry: Option<watch::Sender<bool>>,
    /// Why the last try to connect failed.
    error: Option<String>,
    /// Bumped by a disconnect or delete: a connect that started before it gives its
    /// attachment up instead of undoing them.
    generation: u64,
    /// Connects under way.
    connecting: u32,
}

struct Inner {
    store: Store,
    registry: Arc<Registry>,
    allow: AllowList,
    opts: LinkOptions,
    max: usize,
    radios: Mutex<Vec<Slot>>,
}

/// Every kept radio of the server; cheap to clone.
#[derive(Clone)]
pub struct KeptRadios(Arc<Inner>);

impl KeptRadios {
    /// Loads the kept radios and starts connecting those that want it.
    pub async fn start(
        store: Store,
        registry: Arc<Registry>,
        allow: AllowList,
        opts: LinkOptions,
        max: usize,
    ) -> anyhow::Result<KeptRadios> {
        let recs = store.kept_radios().await?;
        let kept = KeptRadios(Arc::new(Inner {
            store,
            registry,
            allow,
            opts,
            max,
            radios: Mutex::new(Vec::new()),
        }));
        for rec in recs {
            let start = rec.auto_connect || rec.wanted;
            let name = rec.name.clone();
            kept.lock().push(Slot {
                rec,
                attachment: None,
                retry: None,
                error: None,
                generation: 0,
                connecting: 0,
            });
            if start {
                kept.keep_trying(&name);
            }
        }
        Ok(kept)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.0.radios.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<T>(&self, name: &str, f: impl FnOnce(&mut Slot) -> T) -> Result<T, KeptError> {
        let mut radios = self.lock();
        let slot = radios
            .iter_mut()
            .find(|s| s.rec.name == name)
            .ok_or(KeptError::NotFound)?;
        Ok(f(slot))
    }

    /// Every kept radio, in the order they were created.
    pub fn list(&self) -> Vec<KeptView> {
        let radios = self.lock();
        radios.iter().map(|s| self.view(s)).collect()
    }

    pub fn get(&self, name: &str) -> Option<KeptView> {
        let radios = self.lock();
        radios
            .iter()
            .find(|s| s.rec.name == name)
            .map(|s| self.view(s))
    }

    /// The link of a kept radio, while it is attached.
    pub fn link(&self, name: &str) -> Option<LinkHandle> {
        self.with(name, |s| s.attachment.as_ref().map(|a| a.link().clone()))
            .ok()
            .flatten()
    }

    /// Adds a kept radio (not connected yet, unless `auto_connect`).
    pub async fn create(
        &self,
        name: &str,
        host: &str,
        port: u16,
        auto_connect: bool,
    ) -> Result<KeptRadio, KeptError> {
        let (name, host) = (name.trim(), host.trim());
        if name.is_empty() {
            return Err(KeptError::Invalid("Session name is required".into()));
        }
        if host.is_empty() {
            return Err(KeptError::Invalid("Host is required".into()));
        }
        if name.len() > 64 || name.chars().any(char::is_control) {
            return Err(KeptError::Invalid(
                "a name has at most 64 characters and no control characters".into(),
            ));
        }
        let host = crate::allow::check_host(host).map_err(KeptError::Invalid)?;
        if port == 0 {
            return Err(KeptError::Invalid("port must be 1–65535".into()));
        }
        if self.lock().len() >= self.0.max {
            return Err(KeptError::Limit(self.0.max));
        }
        // No radio is ever reached at an address the allowlist refuses, kept or not.
        self.0
            .allow
            .resolve(host, port)
            .await
            .map_err(|e| match e {
                crate::allow::Refusal::Unresolved(m) => KeptError::Invalid(m),
                crate::allow::Refusal::NotAllowed(m) => KeptError::NotAllowed(m),
            })?;
        let rec = KeptRadio {
            id: crate::ids::SessionId::random().as_str().to_string(),
            name: name.to_string(),
            host: host.to_string(),
            port,
            auto_connect,
            wanted: false,
            created_at: SystemTime::now(),
            last_connected: None,
            radio: None,
            pending: None,
        };
        if !self.0.store.add_kept_radio(&rec).await.map_err(store_err)? {
            return Err(KeptError::NameTaken);
        }
        let refused = {
            let mut radios = self.lock();
            if radios.iter().any(|s| s.rec.name == rec.name) {
                Some(KeptError::NameTaken)
            } else if radios.len() >= self.0.max {
                // Two creates at once: the limit holds for the one that came second.
                Some(KeptError::Limit(self.0.max))
            } else {
                radios.push(Slot {
                    rec: rec.clone(),
                    attachment: None,
                    retry: None,
                    error: None,
                    generation: 0,
                    connecting: 0,
                });
                None
            }
        };
        if let Some(e) = refused {
            // Ours is the row just added (a second one of a name could not be).
            if matches!(e, KeptError::Limit(_)) {
                let _ = self.0.store.remove_kept_radio(&rec.name).await;
            }
            return Err(e);
        }
        if auto_connect {
            self.keep_trying(&rec.name);
        }
        Ok(rec)
    }

    async fn resolve(&self, rec: &KeptRadio) -> Result<SocketAddr, KeptError> {
        self.0
            .allow
            .resolve(&rec.host, rec.port)
            .await
            .map_err(|e| KeptError::NotAllowed(e.to_string()))
    }

    /// One try to attach the kept radio to its link.
    async fn attach_once(&self, name: &str) -> Result<LinkHandle, KeptError> {
        if let Some(link) = self.link(name).filter(|l| !l.is_closed()) {
            return Ok(link);
        }
        let (rec, generation) = self.with(name, |s| {
            s.connecting += 1;
            (s.rec.clone(), s.generation)
        })?;
        let attached = self.attach_to(&rec).await;
        let _ = self.with(name, |s| s.connecting -= 1);
        let attachment = attached?;
        let link = attachment.link().clone();
        // Disconnected, or deleted (and maybe made again), while we connected: give it up.
        let now = SystemTime::now();
        let radio = link.state().radio_key;
        let still_wanted = self.with(name, |s| {
            let current = s.generation == generation && s.rec.id == rec.id;
            if current {
                s.rec.last_connected = Some(now);
                s.rec.radio = Some(radio);
                s.rec.pending = None;
                s.error = None;
                s.attachment = Some(attachment);
            }
            current
        });
        if !still_wanted.unwrap_or(false) {
            return Err(KeptError::Radio(
                "disconnected while it was connecting".into(),
            ));
        }
        self.apply_pending(&rec, &link).await;
        let change = KeptChange::Connected { at: now, radio };
        if let Err(e) = self.0.store.change_kept_radio(name, change).await {
            tracing::warn!(error = ?e, "recording a kept radio's connect failed");
        }
        Ok(link)
    }

    async fn attach_to(&self, rec: &KeptRadio) -> Result<Attachment, KeptError> {
        let addr = self.resolve(rec).await?;
        let attachment = self
            .0
            .registry
            .attach(addr, Holder::Kept(rec.name.clone()), self.0.opts.clone())
            .await
            .map_err(|e| KeptError::Radio(e.to_string()))?;
        prepare_link(&self.0.store, attachment.link()).await;
        Ok(attachment)
    }

    /// Connects a kept radio now (and after a restart); waits for the handshake.
    pub async fn connect(&self, name: &str) -> Result<LinkHandle, KeptError> {
        let r = self.attach_once(name).await;
        if let Err(e) = &r {
            let _ = self.with(name, |s| s.error = Some(e.to_string()));
        } else {
            self.set_wanted(name, true).await;
        }
        r
    }

    /// Tries in the background, with backoff, until the radio is connected or let go.
    fn keep_trying(&self, name: &str) {
        let (stop, mut stopped) = watch::channel(false);
        if self.with(name, |s| s.retry = Some(stop)).is_err() {
            return;
        }
        let kept = self.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                if *stopped.borrow() {
                    return;
                }
                match kept.attach_once(&name).await {
                    Ok(_) => {
                        tracing::info!(radio = %name, "kept radio connected");
                        let _ = kept.with(&name, |s| s.retry = None);
                        return;
                    }
                    Err(KeptError::NotFound) => return,
                    Err(e) => {
                        tracing::info!(radio = %name, error = %e, "kept radio not connected; trying again");
                        let _ = kept.with(&name, |s| s.error = Some(e.to_string()));
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        });
    }

    async fn set_wanted(&self, name: &str, wanted: bool) {
        let _ = self.with(name, |s| s.rec.wanted = wanted);
        if let Err(e) = self
            .0
            .store
            .change_kept_radio(name, KeptChange::Wanted(wanted))
            .await
        {
            tracing::warn!(error = ?e, "recording a kept radio's state failed");
        }
    }

    /// Lets the radio go (the link closes unless browser sessions are on it).
    pub async fn disconnect(&self, name: &str) -> Result<(), KeptError> {
        let (attachment, retry) = self.with(name, |s| {
            s.generation += 1;
            (s.attachment.take(), s.retry.take())
        })?;
        if let Some(r) = retry {
            let _ = r.send(true);
        }
        drop(attachment);
        self.set_wanted(name, false).await;
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<(), KeptError> {
        self.disconnect(name).await?;
        self.0
            .store
            .remove_kept_radio(name)
            .await
            .map_err(store_err)?;
        self.lock().retain(|s| s.rec.name != name);
        Ok(())
    }

    pub async fn set_auto_connect(&self, name: &str, on: bool) -> Result<(), KeptError> {
        self.with(name, |s| s.rec.auto_connect = on)?;
        self.0
            .store
            .change_kept_radio(name, KeptChange::AutoConnect(on))
            .await
            .map_err(store_err)
    }

    /// Automation for a radio never connected yet: kept until its first connect.
    pub async fn set_pending(&self, name: &str, json: String) -> Result<(), KeptError> {
        self.with(name, |s| s.rec.pending = Some(json.clone()))?;
        self.0
            .store
            .change_kept_radio(name, KeptChange::Pending(Some(json)))
            .await
            .map_err(store_err)
    }

    async fn apply_pending(&self, rec: &KeptRadio, link: &LinkHandle) {
        let Some(json) = &rec.pending else { return };
        let Ok(p) = serde_json::from_str::<PendingAutomation>(json) else {
            return;
        };
        let radio = link.state().radio_key;
        let (responder, beacon) = {
            let mut a = link.automation().lock();
            p.apply(&mut a);
            (a.responder.clone(), a.beacon.clone())
        };
        link.automation().beacon_changed();
        if let Err(e) = self.0.store.save_responder(radio, &responder).await {
            tracing::warn!(error = ?e, "saving a kept radio's responder failed");
        }
        if let Err(e) = self.0.store.save_beacon(radio, &beacon).await {
            tracing::warn!(error = ?e, "saving a kept radio's beacon failed");
        }
    }

    /// Lets every kept radio go (server shutdown); their records stay as they are.
    pub fn stop_all(&self) {
        let mut radios = self.lock();
        for s in radios.iter_mut() {
            if let Some(r) = s.retry.take() {
                let _ = r.send(true);
            }
            s.attachment = None;
        }
    }
}
