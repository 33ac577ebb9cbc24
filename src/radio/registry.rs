//! Which session holds which radio. Real firmware serves one API client at a time and
//! force-closes the previous one when another connects, so a radio (keyed by its resolved
//! address) may be held by one session of this server at a time, and a second session must
//! never reach it behind the holder's back: the slot is reserved before any TCP connect.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use crate::ids::SessionId;
use crate::radio::LinkHandle;

struct Holder {
    session: SessionId,
    /// `None` while the holder is still connecting.
    link: Option<LinkHandle>,
}

/// The radios held by sessions of this server.
#[derive(Default)]
pub struct Registry {
    held: Mutex<HashMap<SocketAddr, Holder>>,
}

/// Answer to a reservation.
#[derive(Debug, PartialEq, Eq)]
pub enum Reserve {
    /// The slot is ours; if we took it over, this is the session we took it from.
    Granted { taken_from: Option<SessionId> },
    /// Another session holds it.
    InUse,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Holder>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves `addr` for `session`. With `takeover`, another holder's link is closed.
    pub fn reserve(&self, addr: SocketAddr, session: &SessionId, takeover: bool) -> Reserve {
        let mut held = self.lock();
        if let Some(h) = held.get(&addr) {
            let dead = h.link.as_ref().is_some_and(|l| l.is_closed());
            if h.session != *session && !dead {
                if !takeover {
                    return Reserve::InUse;
                }
                if let Some(l) = &h.link {
                    l.close("taken over by another session");
                }
                let from = h.session.clone();
                held.insert(
                    addr,
                    Holder {
                        session: session.clone(),
                        link: None,
                    },
                );
                return Reserve::Granted {
                    taken_from: Some(from),
                };
            }
        }
        held.insert(
            addr,
            Holder {
                session: session.clone(),
                link: None,
            },
        );
        Reserve::Granted { taken_from: None }
    }

    /// Records the link of a reservation.
    pub fn attach(&self, session: &SessionId, link: LinkHandle) {
        let mut held = self.lock();
        if let Some(h) = held.get_mut(&link.addr()) {
            if h.session == *session {
                h.link = Some(link);
                return;
            }
        }
        // Our reservation was taken over while we connected: give the radio up.
        link.close("taken over by another session");
    }

    /// Frees `addr` if `session` holds it.
    pub fn release(&self, addr: SocketAddr, session: &SessionId) {
        let mut held = self.lock();
        if held.get(&addr).is_some_and(|h| h.session == *session) {
            held.remove(&addr);
        }
    }

    /// Number of radios held with an open link.
    pub fn open_links(&self) -> usize {
        self.lock()
            .values()
            .filter(|h| h.link.as_ref().is_some_and(|l| !l.is_closed()))
            .count()
    }
}
