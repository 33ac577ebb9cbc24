//! One link, followed: its events (packets heard, texts) and, every `check_every`, a
//! snapshot of its node DB taken under one short read guard, fed to the link's [`Watch`].
//! Ends when the link closes or the server stops. The watch starts again when the radio's
//! store key changes (a reconnect found another radio, or an admin joined two), and a radio
//! with no rules keeps none.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::episode::{NodeSnap, TextIn, Watch};
use super::Alerts;
use crate::ids::{NodeNum, RadioKey};
use crate::radio::{LinkEvent, LinkHandle};

/// The node DB as a check needs it, and my node's number.
fn snapshot(link: &LinkHandle) -> (NodeNum, Vec<NodeSnap>) {
    let st = link.state();
    let nodes = st
        .nodes
        .iter()
        .map(|n| NodeSnap {
            num: n.num(),
            name: n
                .user
                .as_ref()
                .map(|u| u.display_name().to_string())
                .unwrap_or_default(),
            heard: (n.last_heard > 0)
                .then(|| UNIX_EPOCH + Duration::from_secs(u64::from(n.last_heard))),
            battery: n.device_metrics().and_then(|m| m.battery_level()),
        })
        .collect();
    (st.my_node_num, nodes)
}

fn name_of(link: &LinkHandle, num: NodeNum) -> String {
    link.state()
        .nodes
        .get(num)
        .and_then(|n| n.user.as_ref())
        .map(|u| u.display_name().to_string())
        .unwrap_or_default()
}

/// The radio `key`'s rules and unacknowledged alerts read again: a reconnect may have found
/// another radio, or an admin joined two.
async fn reread(alerts: &Alerts, key: RadioKey) {
    if let Err(e) = alerts.reload(key).await {
        tracing::warn!(error = ?e, "alerts: reading the rules failed");
    }
    if let Err(e) = alerts.count(key).await {
        tracing::warn!(error = ?e, "alerts: counting failed");
    }
}

/// A watch for the radio `key`, from its node DB and its stored history.
async fn start(alerts: &Alerts, link: &LinkHandle, key: RadioKey) -> Watch {
    let store = &alerts.0.store;
    let seen = store.nodes_ever_seen(key).await.unwrap_or_else(|e| {
        tracing::warn!(error = ?e, "alerts: reading the nodes seen failed");
        Vec::new()
    });
    let fired = store.alerts_last_fired(key).await.unwrap_or_default();
    let (_, nodes) = snapshot(link);
    Watch::new(&nodes, &seen, fired)
}

pub(super) async fn follow(alerts: Alerts, link: LinkHandle, mut stop: watch::Receiver<bool>) {
    let mut events = link.subscribe();
    let mut tick = tokio::time::interval(alerts.0.timing.check_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // The radio whose rules were read, and its watch while it has rules.
    let mut read_for: Option<RadioKey> = None;
    let mut watch: Option<Watch> = None;
    loop {
        let event = tokio::select! {
            _ = tick.tick() => None,
            ev = events.recv() => match ev {
                Ok(ev) => Some(ev),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            _ = stop.changed() => return,
        };
        if link.is_closed() {
            return;
        }
        let key = link.state().radio_key;
        if read_for != Some(key) {
            reread(&alerts, key).await;
            read_for = Some(key);
            watch = None;
        }
        let rules = match alerts.rules(key).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = ?e, "alerts: reading the rules failed");
                continue;
            }
        };
        // With no rules there is nothing to watch for: the watch (what was heard when, 8 KB
        // for 200 nodes) goes, and starts again from the node DB and the history, as after a
        // restart, once a rule is added.
        if rules.is_empty() {
            watch = None;
            continue;
        }
        if watch.is_none() {
            watch = Some(start(&alerts, &link, key).await);
        }
        let Some(watch) = watch.as_mut() else {
            continue;
        };
        let firings = match event {
            None => {
                let (me, nodes) = snapshot(&link);
                let now = SystemTime::now();
                watch.check(&rules, &nodes, me, now, alerts.0.timing.minute)
            }
            Some(LinkEvent::Packet(p)) if !p.outgoing => {
                let me = link.state().my_node_num;
                let name = name_of(&link, p.from);
                watch.heard(&rules, p.from, &name, p.time(), me)
            }
            Some(LinkEvent::Message(m)) if !m.outgoing => {
                let me = link.state().my_node_num;
                let name = name_of(&link, m.from);
                let t = TextIn {
                    from: m.from,
                    from_name: &name,
                    to: m.to,
                    channel: m.channel.get(),
                    text: &m.text,
                };
                watch.text(&rules, &t, me)
            }
            Some(_) => continue,
        };
        if !firings.is_empty() {
            alerts.fire(key, firings, &Arc::clone(&rules)).await;
        }
    }
}
