//! Automation of the session's radio: the page and its forms, and the JSON API
//! (`/api/autoresponder`, `/api/beacon` with start/stop/test, `/api/message-filter`).
//! Every change is validated, stored per radio, then applied to the live link.

use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::api::ApiJson;
use super::{AppState, Ctx};
use crate::error::{ApiResult, AppError, Result};
use crate::ids::{ChannelIndex, NodeNum};
use crate::radio::automation::{
    first_match, Beacon, Filter, Incoming, Me, MessageType, Reply, Responder, Rule, SourceType,
    TriggerType,
};
use crate::radio::{beacon, LinkHandle};
use crate::views::automation::{automation, AutomationView};
use crate::views::layout::{page, Chrome, Tab};

/// Form fields, repeated keys kept (checkbox groups).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(body: &str) -> Result<Fields> {
        serde_urlencoded::from_str(body)
            .map(Fields)
            .map_err(|e| AppError::BadRequest(format!("bad form: {e}")))
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn text(&self, k: &str) -> String {
        self.get(k).unwrap_or("").to_string()
    }
    fn on(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
    fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn num(&self, k: &str) -> Result<u32> {
        self.get(k)
            .unwrap_or("")
            .trim()
            .parse()
            .map_err(|_| AppError::BadRequest(format!("{k} must be a whole number")))
    }
}

fn me(link: &LinkHandle) -> Me {
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

fn render(
    link: &LinkHandle,
    tried: Option<(&str, Option<&Reply>)>,
    note: Option<&str>,
) -> maud::Markup {
    let a = link.automation().lock();
    automation(&AutomationView {
        responder: &a.responder,
        beacon: &a.beacon,
        beacon_last: a.beacon_last,
        beacon_next: a.beacon_next,
        filter: &a.filter,
        filtered: a.filtered,
        replies_sent: a.replies_sent,
        tried,
        note,
        now: SystemTime::now(),
    })
}

pub async fn page_handler(ctx: Ctx) -> Result<Response> {
    let Some(link) = ctx.link() else {
        return Ok(axum::response::Redirect::to("/").into_response());
    };
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    let addr = link.addr().to_string();
    let chrome = Chrome {
        title: "Automation",
        radio: Some(&addr),
        tab: Some(Tab::Automation),
        status: Some(super::pages::status_markup(&link, notice.as_deref())),
        notice: None,
        stream: None,
    };
    let body = maud::html! { h2 { "Automation" } (render(&link, None, None)) };
    Ok(page(chrome, body).into_response())
}

async fn save_responder(state: &AppState, link: &LinkHandle, r: Responder) -> Result<()> {
    r.validate().map_err(AppError::BadRequest)?;
    let radio = link.state().my_node_num;
    state.store.save_responder(radio, &r).await?;
    let mut a = link.automation().lock();
    // Cooldowns of rules that no longer exist go with them.
    a.cooldowns
        .retain(|id, _| r.rules.iter().any(|x| x.id == *id));
    a.responder = r;
    Ok(())
}

async fn save_beacon(state: &AppState, link: &LinkHandle, b: Beacon) -> Result<()> {
    b.validate().map_err(AppError::BadRequest)?;
    let radio = link.state().my_node_num;
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

async fn save_filter(state: &AppState, link: &LinkHandle, mut f: Filter) -> Result<()> {
    if f.filter_mode.is_empty() {
        f.filter_mode = "blocklist".into();
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
    let radio = link.state().my_node_num;
    state.store.save_filter(radio, &f).await?;
    link.automation().lock().filter = f;
    Ok(())
}

fn parse_enum<T: Copy>(v: &str, options: &[(T, &str)]) -> Result<T> {
    options
        .iter()
        .find(|(_, n)| *n == v)
        .map(|(t, _)| *t)
        .ok_or_else(|| AppError::BadRequest(format!("unknown option {v:?}")))
}

fn rule_from(f: &Fields, id: u32) -> Result<Rule> {
    Ok(Rule {
        id,
        enabled: f.on("enabled"),
        trigger: f.text("trigger").trim().to_string(),
        trigger_type: parse_enum(
            f.get("trigger_type").unwrap_or("exact"),
            &[
                (TriggerType::Exact, "exact"),
                (TriggerType::Contains, "contains"),
                (TriggerType::StartsWith, "starts_with"),
            ],
        )?,
        response: f.text("response"),
        message_type: parse_enum(
            f.get("message_type").unwrap_or("both"),
            &[
                (MessageType::Both, "both"),
                (MessageType::Direct, "direct"),
                (MessageType::Broadcast, "broadcast"),
            ],
        )?,
        source_type: parse_enum(
            f.get("source_type").unwrap_or("both"),
            &[
                (SourceType::Both, "both"),
                (SourceType::Rf, "rf"),
                (SourceType::Mqtt, "mqtt"),
            ],
        )?,
        cooldown: f.num("cooldown")?,
    })
}

/// One handler for every form of the page: `/automation/{form}`.
pub async fn form_post(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(form): Path<String>,
    body: String,
) -> Result<Response> {
    let link = ctx.require_link()?;
    let f = Fields::parse(&body)?;
    let mut note: Option<String> = None;
    let mut tried: Option<(String, Option<Reply>)> = None;
    match form.as_str() {
        "responder" => {
            let mut r = link.automation().lock().responder.clone();
            r.enabled = f.on("enabled");
            save_responder(&state, &link, r).await?;
            note = Some("Auto-responder saved.".into());
        }
        "rule" => {
            let mut r = link.automation().lock().responder.clone();
            let id = f.num("id")?;
            let op = f.get("op").unwrap_or("save");
            let pos = r.rules.iter().position(|x| x.id == id);
            match (op, pos) {
                ("add", _) => {
                    let next = r.rules.iter().map(|x| x.id).max().unwrap_or(0) + 1;
                    r.rules.push(rule_from(&f, next)?);
                }
                ("save", Some(i)) => r.rules[i] = rule_from(&f, id)?,
                ("delete", Some(i)) => {
                    r.rules.remove(i);
                }
                ("up", Some(i)) if i > 0 => r.rules.swap(i, i - 1),
                ("down", Some(i)) if i + 1 < r.rules.len() => r.rules.swap(i, i + 1),
                _ => return Err(AppError::NotFound(format!("no rule {id}"))),
            }
            save_responder(&state, &link, r).await?;
            note = Some("Rules saved.".into());
        }
        "try" => {
            let text = f.text("text");
            let me = me(&link);
            let m = Incoming {
                from: NodeNum(0xfeed_f00d),
                to: if f.on("direct") {
                    me.num
                } else {
                    NodeNum::BROADCAST
                },
                channel: ChannelIndex::PRIMARY,
                text: text.clone(),
                via_mqtt: false,
                hops: Some(1),
                sender_name: Some("A Stranger".into()),
                sender_short: Some("STR".into()),
            };
            let reply = first_match(&link.automation().lock().responder, &m, &me);
            tried = Some((text, reply));
        }
        "import" => {
            let r: Responder = serde_json::from_str(&f.text("json"))
                .map_err(|e| AppError::BadRequest(format!("not a rule set: {e}")))?;
            save_responder(&state, &link, r).await?;
            note = Some("Rules imported.".into());
        }
        "beacon" => {
            let b = Beacon {
                enabled: f.on("enabled"),
                interval_minutes: f.num("interval_minutes")?,
                message_template: f.text("message_template"),
                channel: f.num("channel")?,
            };
            save_beacon(&state, &link, b).await?;
            note = Some("Beacon saved.".into());
            if f.get("op") == Some("test") {
                let text = beacon::send(&link)
                    .await
                    .map_err(|e| AppError::Radio(e.to_string()))?;
                note = Some(format!("Beacon sent: {text}"));
            }
        }
        "filter" => {
            let ids = f
                .text("node_ids")
                .split([',', ' ', '\n'])
                .map(str::to_string)
                .collect();
            let filter = Filter {
                enabled: f.on("enabled"),
                filter_mode: f.text("filter_mode"),
                node_ids: ids,
                portnums: f.all("portnums"),
            };
            save_filter(&state, &link, filter).await?;
            note = Some("Filter saved.".into());
        }
        other => return Err(AppError::NotFound(format!("no form {other:?}"))),
    }
    if !ctx.htmx {
        return Ok(axum::response::Redirect::to("/automation").into_response());
    }
    let tried_ref = tried.as_ref().map(|(t, r)| (t.as_str(), r.as_ref()));
    Ok(render(&link, tried_ref, note.as_deref()).into_response())
}

pub async fn api_responder_get(ctx: Ctx) -> ApiResult<Json<Responder>> {
    let link = ctx.require_link()?;
    let r = link.automation().lock().responder.clone();
    Ok(Json(r))
}

pub async fn api_responder_post(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(r): ApiJson<Responder>,
) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    save_responder(&state, &link, r).await?;
    Ok(Json(json!({"status": "saved"})))
}

fn beacon_json(link: &LinkHandle) -> Value {
    let a = link.automation().lock();
    json!({
        "enabled": a.beacon.enabled,
        "interval_minutes": a.beacon.interval_minutes,
        "message_template": a.beacon.message_template,
        "channel": a.beacon.channel,
        "running": a.beacon.enabled,
        "last_sent": a.beacon_last.map(crate::views::iso),
        "next_due": if a.beacon.enabled { a.beacon_next.map(crate::views::iso) } else { None },
    })
}

pub async fn api_beacon_get(ctx: Ctx) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    Ok(Json(beacon_json(&link)))
}

pub async fn api_beacon_post(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(b): ApiJson<Beacon>,
) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    save_beacon(&state, &link, b).await?;
    let mut v = beacon_json(&link);
    v["status"] = json!("saved");
    Ok(Json(v))
}

async fn set_running(state: &AppState, ctx: &Ctx, on: bool) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let mut b = link.automation().lock().beacon.clone();
    b.enabled = on;
    save_beacon(state, &link, b).await?;
    // Let the task compute the next due time before we report it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut v = beacon_json(&link);
    v["status"] = json!(if on { "started" } else { "stopped" });
    Ok(Json(v))
}

pub async fn api_beacon_start(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    set_running(&state, &ctx, true).await
}

pub async fn api_beacon_stop(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    set_running(&state, &ctx, false).await
}

pub async fn api_beacon_test(ctx: Ctx) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let text = beacon::send(&link)
        .await
        .map_err(|e| AppError::Radio(e.to_string()))?;
    Ok(Json(json!({"status": "sent", "message": text})))
}

pub async fn api_filter_get(ctx: Ctx) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let a = link.automation().lock();
    let mut v = serde_json::to_value(&a.filter).map_err(anyhow::Error::from)?;
    v["filtered"] = json!(a.filtered);
    Ok(Json(v))
}

pub async fn api_filter_post(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(f): ApiJson<Filter>,
) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    save_filter(&state, &link, f).await?;
    Ok(Json(json!({"status": "saved"})))
}
