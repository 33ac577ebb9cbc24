//! Alerts: rules per radio (stored by its store key, `store::alerts`) that fire when a node
//! goes silent, a battery runs low, a new node is heard, a DM reaches my node or a channel
//! text holds a keyword. They run on the server, per link, whoever watches: [`Alerts::run`]
//! follows every open link of the registry (a kept radio's too, with no browser open), one
//! task per link (`follow`) that feeds the link's events and a timed node DB snapshot to the
//! pure episode logic (`episode`). A fired alert is stored, published to the live streams of
//! the sessions on that radio ([`Alerts::subscribe`]) and, when its rule has one, POSTed to
//! a webhook the radio allowlist allows (`webhook`).

pub mod episode;
#[cfg(test)]
mod episode_tests;
mod follow;
pub mod rules;
mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, mpsc, watch};

use crate::allow::AllowList;
use crate::ids::RadioKey;
use crate::radio::Registry;
use crate::store::Store;

pub use crate::store::alerts::{AlertRule, Fired, Kind};
pub use rules::{Draft, Webhook};

/// How often the supervisor looks for new links.
const TICK: Duration = Duration::from_millis(100);

/// What went wrong with an alerts request; each says what.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// How a webhook's last delivery went.
pub type Delivery = Result<(), String>;

/// What the live streams hear of alerts.
#[derive(Debug, Clone)]
pub enum AlertEvent {
    /// An alert fired.
    Fired(Arc<Fired>),
    /// Alerts of this radio were acknowledged: its count changed.
    Acknowledged(RadioKey),
}

impl AlertEvent {
    pub fn radio(&self) -> RadioKey {
        match self {
            AlertEvent::Fired(a) => a.radio,
            AlertEvent::Acknowledged(r) => *r,
        }
    }
}

/// The timings of the checks.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How often silences and batteries are checked.
    pub check_every: Duration,
    /// How long one minute of a rule lasts (a minute, except in tests).
    pub minute: Duration,
}

struct Inner {
    store: Store,
    registry: Arc<Registry>,
    allow: AllowList,
    timing: Timing,
    /// Rules per radio, as stored.
    rules: Mutex<HashMap<RadioKey, Arc<Vec<AlertRule>>>>,
    /// Unacknowledged alerts per radio (for the status bar, rendered without I/O).
    unacked: Mutex<HashMap<RadioKey, u32>>,
    /// The last delivery of each rule's webhook.
    deliveries: Mutex<HashMap<i64, Delivery>>,
    live: broadcast::Sender<AlertEvent>,
    jobs: mpsc::Sender<webhook::Job>,
    jobs_rx: Mutex<Option<mpsc::Receiver<webhook::Job>>>,
}

/// The alerts of every radio; cheap to clone.
#[derive(Clone)]
pub struct Alerts(Arc<Inner>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Alerts {
    pub fn new(store: Store, registry: Arc<Registry>, allow: AllowList, timing: Timing) -> Alerts {
        let (jobs, rx) = mpsc::channel(webhook::QUEUE);
        Alerts(Arc::new(Inner {
            store,
            registry,
            allow,
            timing,
            rules: Mutex::default(),
            unacked: Mutex::default(),
            deliveries: Mutex::default(),
            live: broadcast::channel(64).0,
            jobs,
            jobs_rx: Mutex::new(Some(rx)),
        }))
    }

    /// A radio's rules, oldest first.
    pub async fn rules(&self, radio: RadioKey) -> anyhow::Result<Arc<Vec<AlertRule>>> {
        if let Some(r) = lock(&self.0.rules).get(&radio) {
            return Ok(r.clone());
        }
        self.reload(radio).await
    }

    async fn reload(&self, radio: RadioKey) -> anyhow::Result<Arc<Vec<AlertRule>>> {
        let list = Arc::new(self.0.store.alert_rules(radio).await?);
        lock(&self.0.rules).insert(radio, list.clone());
        Ok(list)
    }

    /// Checks a rule as typed (its webhook against the allowlist, resolved, nothing sent)
    /// and stores it.
    pub async fn add_rule(&self, radio: RadioKey, draft: &Draft) -> Result<AlertRule, AlertError> {
        let rule = draft.check().map_err(AlertError::Invalid)?;
        if let Some(w) = &rule.webhook {
            let hook = Webhook::parse(w).map_err(AlertError::Invalid)?;
            webhook::check(&self.0.allow, &hook)
                .await
                .map_err(AlertError::Invalid)?;
        }
        if self.rules(radio).await?.len() >= rules::MAX_RULES {
            return Err(AlertError::Invalid(format!(
                "at most {} alert rules per radio",
                rules::MAX_RULES
            )));
        }
        let rule = self.0.store.add_alert_rule(radio, rule).await?;
        self.reload(radio).await?;
        Ok(rule)
    }

    fn no_rule(id: i64) -> AlertError {
        AlertError::NotFound(format!("no alert rule {id}"))
    }

    pub async fn delete_rule(&self, radio: RadioKey, id: i64) -> Result<(), AlertError> {
        if !self.0.store.delete_alert_rule(radio, id).await? {
            return Err(Self::no_rule(id));
        }
        lock(&self.0.deliveries).remove(&id);
        self.reload(radio).await?;
        Ok(())
    }

    /// Mutes a rule until `until` (`None`: unmutes it). A muted rule records and sends
    /// nothing; its episodes still run, so unmuting it does not repeat what it missed.
    pub async fn mute(
        &self,
        radio: RadioKey,
        id: i64,
        until: Option<SystemTime>,
    ) -> Result<(), AlertError> {
        if !self.0.store.mute_alert_rule(radio, id, until).await? {
            return Err(Self::no_rule(id));
        }
        self.reload(radio).await?;
        Ok(())
    }

    /// A radio's fired alerts, newest first.
    pub async fn fired(&self, radio: RadioKey, limit: u32) -> anyhow::Result<Vec<Fired>> {
        self.0.store.alerts(radio, limit).await
    }

    /// Acknowledges one alert of the radio's, or all (`None`).
    pub async fn acknowledge(&self, radio: RadioKey, id: Option<i64>) -> Result<(), AlertError> {
        if let Some(id) = id {
            if !self.0.store.has_alert(radio, id).await? {
                return Err(AlertError::NotFound(format!("no alert {id}")));
            }
        }
        self.0.store.acknowledge_alerts(radio, id).await?;
        self.count(radio).await?;
        let _ = self.0.live.send(AlertEvent::Acknowledged(radio));
        Ok(())
    }

    /// Counts a radio's unacknowledged alerts again (and keeps the count).
    pub async fn count(&self, radio: RadioKey) -> anyhow::Result<u32> {
        let n = self.0.store.unacknowledged_alerts(radio).await?;
        lock(&self.0.unacked).insert(radio, n);
        Ok(n)
    }

    /// The radio's unacknowledged alerts as last counted (no I/O).
    pub fn unacknowledged(&self, radio: RadioKey) -> u32 {
        lock(&self.0.unacked).get(&radio).copied().unwrap_or(0)
    }

    /// How the rule's webhook's last delivery went, if it had one since the start.
    pub fn delivery(&self, rule: i64) -> Option<Delivery> {
        lock(&self.0.deliveries).get(&rule).cloned()
    }

    fn delivered(&self, rule: i64, result: Delivery) {
        lock(&self.0.deliveries).insert(rule, result);
    }

    /// Every alert as it fires and every acknowledgement, of every radio (a stream keeps its
    /// radio's).
    pub fn subscribe(&self) -> broadcast::Receiver<AlertEvent> {
        self.0.live.subscribe()
    }

    /// Stores what fired, publishes it and queues its webhooks; muted rules' firings go.
    async fn fire(&self, radio: RadioKey, firings: Vec<episode::Firing>, rules: &[AlertRule]) {
        // Stored in milliseconds: the time given out now is the one listed later.
        let now = crate::store::alerts::to_ms_precision(SystemTime::now());
        for f in firings {
            let Some(rule) = rules.iter().find(|r| r.id == f.rule) else {
                continue;
            };
            if rule.muted(now) {
                continue;
            }
            let alert = Fired {
                id: 0,
                radio,
                rule: Some(f.rule),
                time: now,
                kind: f.kind,
                node: f.node,
                message: f.message,
                acknowledged: false,
            };
            let alert = match self.0.store.add_alert(alert).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = ?e, "storing an alert failed");
                    continue;
                }
            };
            *lock(&self.0.unacked).entry(radio).or_insert(0) += 1;
            tracing::info!(radio = %radio, kind = alert.kind.name(), node = %alert.node, message = ?alert.message, "alert");
            if let Some(hook) = rule.webhook.as_deref().and_then(|w| Webhook::parse(w).ok()) {
                let body = serde_json::json!({
                    "id": alert.id,
                    "time": crate::time::iso_us(alert.time),
                    "kind": alert.kind.name(),
                    "node": alert.node.to_string(),
                    "message": alert.message,
                    "radio": radio.to_string(),
                    "rule": rule.id,
                });
                let job = webhook::Job {
                    rule: rule.id,
                    hook,
                    body: body.to_string().into_bytes(),
                };
                if self.0.jobs.try_send(job).is_err() {
                    tracing::warn!(rule = rule.id, "alert webhook queue full; delivery dropped");
                    self.delivered(rule.id, Err("the delivery queue was full".into()));
                }
            }
            let _ = self.0.live.send(AlertEvent::Fired(Arc::new(alert)));
        }
    }

    /// Follows every open link until `stop`, and delivers webhooks.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        if let Some(rx) = lock(&self.0.jobs_rx).take() {
            tokio::spawn(webhook::run(self.clone(), rx, stop.clone()));
        }
        // By address: the link followed and its task. A closed link's task goes at once, so
        // a new link to the same radio is followed within a tick.
        let mut running: HashMap<
            std::net::SocketAddr,
            (crate::radio::LinkHandle, tokio::task::JoinHandle<()>),
        > = HashMap::new();
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            running.retain(|_, (link, task)| {
                let live = !task.is_finished() && !link.is_closed();
                if !live {
                    task.abort();
                }
                live
            });
            for link in self.0.registry.links() {
                if running.contains_key(&link.addr()) {
                    continue;
                }
                let task = tokio::spawn(follow::follow(self.clone(), link.clone(), stop.clone()));
                running.insert(link.addr(), (link, task));
            }
        }
        for (_, (_, task)) in running {
            task.abort();
        }
    }
}
