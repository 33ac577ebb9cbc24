//! The registry: the one owner of radio links, one per radio address. Real firmware serves
//! one API client at a time and force-closes the previous one when another connects, so this
//! server never opens two TCP connections to one radio: whoever wants a radio gets an
//! [`Attachment`] to the registry's link, and the link closes when its last attachment is
//! released. Connecting is serialised per address, so two sessions that ask at once share
//! one connect.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

use crate::ids::SessionId;
use crate::radio::{LinkError, LinkEvent, LinkHandle, LinkOptions};

/// Who holds an attachment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Holder {
    /// A browser session (and its user's name, when the installation has logins).
    Session { id: SessionId, user: Option<String> },
    /// A kept radio, by its name: it stays connected with nobody watching.
    Kept(String),
}

struct Entry {
    /// Serialises connects to this address; holds the link once it is open.
    link: Arc<tokio::sync::Mutex<Option<LinkHandle>>>,
    /// One entry per attachment, by its token: one holder may hold several (two tabs of a
    /// session connecting at once), and each is released on its own.
    holders: Vec<(u64, Holder)>,
}

/// The radios this server is connected to.
#[derive(Default)]
pub struct Registry {
    entries: Mutex<HashMap<SocketAddr, Entry>>,
    /// Tokens of attachments.
    next: std::sync::atomic::AtomicU64,
}

/// A hold on a link. Released when dropped: the last one closes the link.
pub struct Attachment {
    registry: Weak<Registry>,
    token: u64,
    holder: Holder,
    link: LinkHandle,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("addr", &self.link.addr())
            .field("holder", &self.holder)
            .finish()
    }
}

impl Attachment {
    pub fn link(&self) -> &LinkHandle {
        &self.link
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.release(
                self.link.addr(),
                self.token,
                "no one uses the radio any more",
            );
        }
    }
}

/// Closes and forgets the link to `addr` when nobody holds it any more; otherwise tells those
/// still on it that the company changed. A connect still under way (it holds the slot) finds
/// itself released when it is done, and gives up then.
fn close_if_unheld(entries: &mut HashMap<SocketAddr, Entry>, addr: SocketAddr, reason: &str) {
    if let Some(e) = entries.get(&addr).filter(|e| !e.holders.is_empty()) {
        if let Ok(link) = e.link.try_lock() {
            if let Some(l) = link.as_ref() {
                let _ = l.events_sender().send(LinkEvent::Holders);
            }
        }
        return;
    }
    let closed = match entries.get(&addr) {
        Some(e) if e.holders.is_empty() => match e.link.try_lock() {
            Ok(mut link) => {
                if let Some(l) = link.take() {
                    l.close(reason);
                }
                true
            }
            Err(_) => false,
        },
        _ => false,
    };
    if closed {
        entries.remove(&addr);
    }
}

/// The holders of a list of attachments, each once.
fn distinct(list: &[(u64, Holder)]) -> Vec<Holder> {
    let mut out: Vec<Holder> = Vec::with_capacity(list.len());
    for (_, h) in list {
        if !out.contains(h) {
            out.push(h.clone());
        }
    }
    out
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Attaches `holder` to the radio at `addr`, connecting first when no live link exists.
    /// A second caller for the same address waits for the first one's connect and shares it.
    pub async fn attach(
        self: &Arc<Self>,
        addr: SocketAddr,
        holder: Holder,
        opts: LinkOptions,
    ) -> Result<Attachment, LinkError> {
        let token = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let slot = {
            let mut entries = self.lock();
            let e = entries.entry(addr).or_insert_with(|| Entry {
                link: Default::default(),
                holders: Vec::new(),
            });
            e.holders.push((token, holder.clone()));
            e.link.clone()
        };
        let mut link = slot.lock().await;
        let live = link.as_ref().filter(|l| !l.is_closed()).cloned();
        let handle = match live {
            Some(l) => l,
            None => match crate::radio::connect(addr, opts).await {
                Ok(l) => {
                    *link = Some(l.clone());
                    l
                }
                Err(e) => {
                    drop(link);
                    self.forget(addr, token);
                    return Err(e);
                }
            },
        };
        drop(link);
        // Released while we connected (the session ended): give the radio up again.
        if !self.holds(addr, token) {
            self.release(addr, token, "no one uses the radio any more");
            return Err(LinkError::Closed);
        }
        let _ = handle.events_sender().send(LinkEvent::Holders);
        Ok(Attachment {
            registry: Arc::downgrade(self),
            token,
            holder,
            link: handle,
        })
    }

    fn holds(&self, addr: SocketAddr, token: u64) -> bool {
        self.lock()
            .get(&addr)
            .is_some_and(|e| e.holders.iter().any(|(t, _)| *t == token))
    }

    /// Takes an attachment off the list without touching the link (its connect failed).
    fn forget(&self, addr: SocketAddr, token: u64) {
        let mut entries = self.lock();
        if let Some(e) = entries.get_mut(&addr) {
            e.holders.retain(|(t, _)| *t != token);
            let idle = e.holders.is_empty() && e.link.try_lock().is_ok_and(|l| l.is_none());
            if idle {
                entries.remove(&addr);
            }
        }
    }

    /// Releases one attachment; the last one out closes the link with `reason`.
    fn release(&self, addr: SocketAddr, token: u64, reason: &str) {
        let mut entries = self.lock();
        let Some(e) = entries.get_mut(&addr) else {
            return;
        };
        e.holders.retain(|(t, _)| *t != token);
        close_if_unheld(&mut entries, addr, reason);
    }

    /// Detaches every browser session from `addr` but `keep` (a take-over); returns them.
    /// The link stays open for whoever still holds it, and closes when that is nobody.
    pub fn detach_sessions(&self, addr: SocketAddr, keep: &SessionId) -> Vec<SessionId> {
        let mut gone = Vec::new();
        let mut entries = self.lock();
        let Some(e) = entries.get_mut(&addr) else {
            return gone;
        };
        e.holders.retain(|(_, h)| match h {
            Holder::Session { id, .. } if id != keep => {
                if !gone.contains(id) {
                    gone.push(id.clone());
                }
                false
            }
            _ => true,
        });
        close_if_unheld(&mut entries, addr, "taken over by another session");
        gone
    }

    /// Who holds the radio at `addr`, each once.
    pub fn holders(&self, addr: SocketAddr) -> Vec<Holder> {
        self.lock()
            .get(&addr)
            .map(|e| distinct(&e.holders))
            .unwrap_or_default()
    }

    /// Every open link with who holds it, by address.
    pub fn open(&self) -> Vec<(SocketAddr, Vec<Holder>)> {
        let entries = self.lock();
        let mut out: Vec<_> = entries
            .iter()
            .filter(|(_, e)| {
                e.link
                    .try_lock()
                    .is_ok_and(|l| l.as_ref().is_some_and(|l| !l.is_closed()))
            })
            .map(|(a, e)| (*a, distinct(&e.holders)))
            .collect();
        out.sort_by_key(|(a, _)| *a);
        out
    }

    /// The open links.
    pub fn links(&self) -> Vec<LinkHandle> {
        let entries = self.lock();
        entries
            .values()
            .filter_map(|e| e.link.try_lock().ok().and_then(|l| l.clone()))
            .filter(|l| !l.is_closed())
            .collect()
    }

    /// Number of open links.
    pub fn open_links(&self) -> usize {
        self.lock()
            .values()
            .filter(|e| {
                e.link
                    .try_lock()
                    .is_ok_and(|l| l.as_ref().is_some_and(|l| !l.is_closed()))
            })
            .count()
    }

    /// Closes every link (server shutdown).
    pub fn close_all(&self, reason: &str) {
        let mut entries = self.lock();
        for (_, e) in entries.drain() {
            if let Ok(mut link) = e.link.try_lock() {
                if let Some(l) = link.take() {
                    l.close(reason);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{SimConfig, SimRadio};
    use std::time::Duration;

    fn opts() -> LinkOptions {
        LinkOptions {
            handshake_timeout: Duration::from_secs(3),
            packet_log_max: 10,
            stale_after: Duration::from_secs(60),
            text_interval: Duration::from_millis(100),
            ack_timeout: Duration::from_secs(5),
            probe_interval: Duration::from_millis(100),
            beacon_minute: Duration::from_secs(60),
            liveness: crate::radio::Liveness::default(),
            messages: None,
            metrics: Arc::default(),
            identities: None,
        }
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    #[tokio::test]
    async fn each_attachment_is_released_on_its_own_and_the_last_closes_the_link() {
        let radio = SimRadio::bind(
            "127.0.0.1:0",
            SimConfig {
                nodes: 5,
                rate: 0.0,
                ..SimConfig::default()
            },
        )
        .await
        .unwrap();
        let registry = Arc::new(Registry::default());
        let me = Holder::Session {
            id: SessionId::random(),
            user: None,
        };
        // Two tabs of one session connect at once: one link, two attachments.
        let (a, b) = tokio::join!(
            registry.attach(radio.addr(), me.clone(), opts()),
            registry.attach(radio.addr(), me.clone(), opts()),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(radio.connections_accepted(), 1);
        drop(a);
        settle().await;
        assert!(!b.link().is_closed(), "the other attachment still holds it");
        let kept = registry
            .attach(radio.addr(), Holder::Kept("Hill".into()), opts())
            .await
            .unwrap();
        assert_eq!(registry.holders(radio.addr()).len(), 2, "each holder once");
        drop(b);
        settle().await;
        assert_eq!(radio.connections_open(), 1, "the kept radio holds it");
        drop(kept);
        settle().await;
        assert_eq!(radio.connections_open(), 0);
        assert_eq!(registry.open_links(), 0);
        radio.shutdown();
    }
}
