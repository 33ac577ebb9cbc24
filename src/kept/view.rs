//! What the Radios page and `/api/sessions` show of a kept radio.

use std::time::SystemTime;

use super::{KeptRadios, Slot};
use crate::radio::registry::Holder;
use crate::radio::{LinkHandle, LinkStatus};
use crate::store::kept::KeptRadio;

/// A kept radio as the Radios page and `/api/sessions` show it.
#[derive(Debug, Clone)]
pub struct KeptView {
    pub rec: KeptRadio,
    pub link: Option<LinkHandle>,
    pub status: Option<LinkStatus>,
    pub connected: bool,
    /// Still trying to connect (start-up or after a failed try).
    pub connecting: bool,
    pub error: Option<String>,
    /// Browser sessions attached to the same radio.
    pub sessions: usize,
    pub last_packet: Option<SystemTime>,
    pub responder_on: bool,
    pub beacon_on: bool,
    pub filter_on: bool,
}

impl KeptView {
    /// What its link is doing, in one word.
    pub fn state_word(&self) -> &'static str {
        match (&self.status, self.connecting) {
            (Some(LinkStatus::Connected), _) => "connected",
            (Some(LinkStatus::Reconnecting { .. }), _) => "reconnecting",
            (Some(LinkStatus::Closed { .. }), _) => "closed",
            (None, true) => "connecting",
            (None, false) => "disconnected",
        }
    }
}

impl KeptRadios {
    pub(super) fn view(&self, s: &Slot) -> KeptView {
        let link = s.attachment.as_ref().map(|a| a.link().clone());
        let (status, last_packet) = match &link {
            Some(l) => {
                let st = l.state();
                (Some(st.status.clone()), st.last_packet)
            }
            None => (None, None),
        };
        let (responder_on, beacon_on, filter_on) =
            link.as_ref().map_or((false, false, false), |l| {
                let a = l.automation().lock();
                (a.responder.enabled, a.beacon.enabled, a.filter.enabled)
            });
        let sessions = link.as_ref().map_or(0, |l| {
            self.0
                .registry
                .holders(l.addr())
                .iter()
                .filter(|h| matches!(h, Holder::Session { .. }))
                .count()
        });
        KeptView {
            rec: s.rec.clone(),
            connected: matches!(status, Some(LinkStatus::Connected)),
            connecting: (s.retry.is_some() || s.connecting > 0) && link.is_none(),
            status,
            link,
            error: s.error.clone(),
            sessions,
            last_packet,
            responder_on,
            beacon_on,
            filter_on,
        }
    }
}
