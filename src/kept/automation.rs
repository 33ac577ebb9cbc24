//! A kept radio's automation: what `/api/sessions/<name>/update` may set, and loading a fresh
//! link's stored automation (for every link, kept or not).

use crate::radio::LinkHandle;
use crate::store::Store;

/// The automation fields of the original's `/api/sessions/<name>/update`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PendingAutomation {
    pub beacon_enabled: Option<bool>,
    pub beacon_interval: Option<u32>,
    pub beacon_message: Option<String>,
    pub beacon_channel: Option<u32>,
    pub autoresponder_enabled: Option<bool>,
    pub autoresponder_rules: Option<Vec<crate::radio::automation::Rule>>,
}

impl PendingAutomation {
    pub fn is_empty(&self) -> bool {
        !self.touches_beacon() && !self.touches_responder()
    }

    /// Whether any beacon field is given.
    pub fn touches_beacon(&self) -> bool {
        self.beacon_enabled.is_some()
            || self.beacon_interval.is_some()
            || self.beacon_message.is_some()
            || self.beacon_channel.is_some()
    }

    /// Whether any auto-responder field is given.
    pub fn touches_responder(&self) -> bool {
        self.autoresponder_enabled.is_some() || self.autoresponder_rules.is_some()
    }

    /// These fields over `older` ones: what two updates before a first connect amount to.
    pub fn over(self, older: PendingAutomation) -> PendingAutomation {
        PendingAutomation {
            beacon_enabled: self.beacon_enabled.or(older.beacon_enabled),
            beacon_interval: self.beacon_interval.or(older.beacon_interval),
            beacon_message: self.beacon_message.or(older.beacon_message),
            beacon_channel: self.beacon_channel.or(older.beacon_channel),
            autoresponder_enabled: self.autoresponder_enabled.or(older.autoresponder_enabled),
            autoresponder_rules: self.autoresponder_rules.or(older.autoresponder_rules),
        }
    }

    /// Checks the fields as a live change would be checked (on the default settings).
    pub fn validate(&self) -> Result<(), String> {
        let mut a = crate::radio::automation::State::default();
        self.apply(&mut a);
        a.responder.validate()?;
        a.beacon.validate()
    }

    /// Applies the given fields to a link's automation.
    pub fn apply(&self, a: &mut crate::radio::automation::State) {
        set(&mut a.beacon.enabled, &self.beacon_enabled);
        set(&mut a.beacon.interval_minutes, &self.beacon_interval);
        set(&mut a.beacon.message_template, &self.beacon_message);
        set(&mut a.beacon.channel, &self.beacon_channel);
        set(&mut a.responder.enabled, &self.autoresponder_enabled);
        set(&mut a.responder.rules, &self.autoresponder_rules);
    }
}

/// Sets `slot` to the given value; `None` keeps it.
fn set<T: Clone>(slot: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *slot = v.clone();
    }
}

/// Loads a fresh link's stored automation (defaults for a new radio). A link another holder
/// already prepared is left as it is.
pub async fn prepare_link(store: &Store, link: &LinkHandle) {
    if link.automation().lock().radio != crate::ids::RadioKey(0) {
        return;
    }
    let radio = link.state().radio_key;
    let saved = match store.automation(radio).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = ?e, "loading automation failed; using defaults");
            Default::default()
        }
    };
    let mut a = link.automation().lock();
    // Another holder prepared it while we read the store: theirs stays (it may already carry
    // a kept radio's pending automation).
    if a.radio != crate::ids::RadioKey(0) {
        return;
    }
    a.radio = radio;
    a.responder = saved.responder.unwrap_or_default();
    a.beacon = saved.beacon.unwrap_or_default();
    a.filter = saved.filter.unwrap_or_default();
    drop(a);
    // The actor's beacon timer picks up the loaded settings.
    link.automation().beacon_changed();
}
