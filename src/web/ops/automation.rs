//! Automation of a radio link: every change is validated, stored per radio, then applied to
//! the live link (auto-responder rules, beacon, message filter).

use std::time::Duration;

use crate::error::{AppError, Result};
use crate::kept::PendingAutomation;
use crate::radio::automation::{Beacon, Filter, Me, Responder};
use crate::radio::LinkHandle;
use crate::web::AppState;

/// Who the responder answers as.
pub fn me(link: &LinkHandle) -> Me {
    let st = link.state();
    Me {
        num: st.my_node_num,
        name: st
            .my_node()
            .and_then(|n| n.user.as_ref())
            .map(|u| u.long_name().to_string())
            .unwrap_or_default(),
    }
}

pub async fn save_responder(state: &AppState, link: &LinkHandle, mut r: Responder) -> Result<()> {
    r.name_rules();
    r.validate().map_err(AppError::BadRequest)?;
    let radio = link.state().radio_key;
    state.store.save_responder(radio, &r).await?;
    let mut a = link.automation().lock();
    // Cooldowns of rules that no longer exist go with them.
    a.cooldowns
        .retain(|id, _| r.rules.iter().any(|x| x.id == *id));
    a.responder = r;
    Ok(())
}

pub async fn save_beacon(state: &AppState, link: &LinkHandle, b: Beacon) -> Result<()> {
    b.validate().map_err(AppError::BadRequest)?;
    let radio = link.state().radio_key;
    state.store.save_beacon(radio, &b).await?;
    {
        let mut a = link.automation().lock();
        let restart =
            a.beacon.interval_minutes != b.interval_minutes || a.beacon.enabled != b.enabled;
        a.beacon = b;
        if restart {
            a.beacon_next = None;
        }
    }
    link.automation().beacon_changed();
    Ok(())
}

/// Starts or stops the beacon, keeping its other settings.
pub async fn run_beacon(state: &AppState, link: &LinkHandle, on: bool) -> Result<()> {
    let mut b = link.automation().lock().beacon.clone();
    b.enabled = on;
    save_beacon(state, link, b).await?;
    // Let the task compute the next due time before anyone reports it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}

pub async fn save_filter(state: &AppState, link: &LinkHandle, mut f: Filter) -> Result<()> {
    if f.filter_mode.is_empty() {
        f.filter_mode = "allowlist".into();
    }
    f.node_ids = f
        .node_ids
        .iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with('!') {
                s
            } else {
                format!("!{s}")
            }
        })
        .collect();
    f.validate().map_err(AppError::BadRequest)?;
    let radio = link.state().radio_key;
    state.store.save_filter(radio, &f).await?;
    link.automation().lock().filter = f;
    Ok(())
}

/// Applies the automation fields of a kept radio's `update` to its live link, checked and
/// stored like every other change.
pub async fn apply(state: &AppState, link: &LinkHandle, p: &PendingAutomation) -> Result<()> {
    // Applied to a copy first: nothing changes unless all of it is valid.
    let mut a = {
        let live = link.automation().lock();
        crate::radio::automation::State {
            responder: live.responder.clone(),
            beacon: live.beacon.clone(),
            ..Default::default()
        }
    };
    p.apply(&mut a);
    a.responder.validate().map_err(AppError::BadRequest)?;
    a.beacon.validate().map_err(AppError::BadRequest)?;
    if p.touches_responder() {
        save_responder(state, link, a.responder).await?;
    }
    if p.touches_beacon() {
        save_beacon(state, link, a.beacon).await?;
    }
    Ok(())
}
