//! The automation tab: the auto-responder and its rules (edit, reorder, try, import), the
//! beacon and the message filter. Every form posts to `/automation/{form}` and gets the
//! whole panel back.

use std::time::SystemTime;

use axum::extract::Path;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use crate::error::{AppError, Result};
use crate::ids::{ChannelIndex, NodeNum};
use crate::radio::automation::{
    first_match, Beacon, Filter, Incoming, MessageType, Reply, Responder, Rule, SourceType,
    TriggerType,
};
use crate::radio::{beacon, LinkHandle};
use crate::views::automation::{automation, AutomationView};
use crate::views::layout::Tab;
use crate::web::form::Fields;
use crate::web::ops::automation as ops;
use crate::web::{access, page, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/automation", get(tab))
        .route("/automation/{form}", post(form))
        .route_layer(from_fn(access::operate))
}

fn render(link: &LinkHandle, tried: Option<(&str, Option<&Reply>)>, note: Option<&str>) -> Markup {
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

async fn tab(ctx: Ctx) -> Result<Response> {
    let Some(link) = ctx.link() else {
        return page::no_radio(&ctx).await;
    };
    let body = html! { h2 { "Automation" } (render(&link, None, None)) };
    Ok(page::full(&ctx, "Automation", Some(Tab::Automation), None, body).into_response())
}

/// The rule form's choices by their form values.
const TRIGGERS: [(TriggerType, &str); 3] = [
    (TriggerType::Exact, "exact"),
    (TriggerType::Contains, "contains"),
    (TriggerType::StartsWith, "starts_with"),
];
const MESSAGES: [(MessageType, &str); 3] = [
    (MessageType::Both, "both"),
    (MessageType::Direct, "direct"),
    (MessageType::Broadcast, "broadcast"),
];
const SOURCES: [(SourceType, &str); 3] = [
    (SourceType::Both, "both"),
    (SourceType::Rf, "rf"),
    (SourceType::Mqtt, "mqtt"),
];

fn rule_from(f: &Fields, id: String) -> Result<Rule> {
    Ok(Rule {
        id,
        enabled: f.on("enabled"),
        trigger: f.text("trigger").trim().to_string(),
        trigger_type: f.choice("trigger_type", "exact", &TRIGGERS)?,
        response: f.text("response"),
        message_type: f.choice("message_type", "both", &MESSAGES)?,
        source_type: f.choice("source_type", "both", &SOURCES)?,
        cooldown: f.num("cooldown")?,
    })
}

/// Applies one rule form (`op`: add, save, delete, up, down) to the rule set.
fn edit_rules(r: &mut Responder, f: &Fields) -> Result<()> {
    let id = f.text("id").trim().to_string();
    let pos = r.rules.iter().position(|x| x.id == id);
    match (f.get("op").unwrap_or("save"), pos) {
        ("add", _) => {
            // The first free number, as a label.
            let next = (1..=r.rules.len() + 1)
                .map(|n| n.to_string())
                .find(|n| r.rules.iter().all(|x| x.id != *n))
                .unwrap_or_default();
            r.rules.push(rule_from(f, next)?);
        }
        ("save", Some(i)) => r.rules[i] = rule_from(f, id.clone())?,
        ("delete", Some(i)) => {
            r.rules.remove(i);
        }
        ("up", Some(i)) if i > 0 => r.rules.swap(i, i - 1),
        ("down", Some(i)) if i + 1 < r.rules.len() => r.rules.swap(i, i + 1),
        _ => return Err(AppError::NotFound(format!("no rule {id}"))),
    }
    Ok(())
}

/// What the responder would answer a stranger's message.
fn try_rules(link: &LinkHandle, f: &Fields) -> (String, Option<Reply>) {
    let text = f.text("text");
    let me = ops::me(link);
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
    (text, reply)
}

/// One handler for every form of the tab: `/automation/{form}`.
async fn form(ctx: Ctx, Path(form): Path<String>, body: String) -> Result<Response> {
    let state = &ctx.app;
    let link = ctx.require_link()?;
    let f = Fields::parse(&body)?;
    let responder = || link.automation().lock().responder.clone();
    let mut tried = None;
    let note = match form.as_str() {
        "responder" => {
            let mut r = responder();
            r.enabled = f.on("enabled");
            ops::save_responder(state, &link, r).await?;
            Some("Auto-responder saved.".to_string())
        }
        "rule" => {
            let mut r = responder();
            edit_rules(&mut r, &f)?;
            ops::save_responder(state, &link, r).await?;
            Some("Rules saved.".into())
        }
        "try" => {
            tried = Some(try_rules(&link, &f));
            None
        }
        "import" => {
            let r: Responder = serde_json::from_str(&f.text("json"))
                .map_err(|e| AppError::BadRequest(format!("not a rule set: {e}")))?;
            ops::save_responder(state, &link, r).await?;
            Some("Rules imported.".into())
        }
        "beacon" => {
            let b = Beacon {
                enabled: f.on("enabled"),
                interval_minutes: f.num("interval_minutes")?,
                message_template: f.text("message_template"),
                channel: f.num("channel")?,
            };
            ops::save_beacon(state, &link, b).await?;
            if f.get("op") == Some("test") {
                Some(format!("Beacon sent: {}", beacon::send(&link).await?))
            } else {
                Some("Beacon saved.".into())
            }
        }
        "filter" => {
            let ids = f.text("node_ids");
            let filter = Filter {
                enabled: f.on("enabled"),
                filter_mode: f.text("filter_mode"),
                node_ids: ids.split([',', ' ', '\n']).map(str::to_string).collect(),
                portnums: f.all("portnums"),
            };
            ops::save_filter(state, &link, filter).await?;
            Some("Filter saved.".into())
        }
        other => return Err(AppError::NotFound(format!("no form {other:?}"))),
    };
    if !ctx.htmx {
        return Ok(Redirect::to("/automation").into_response());
    }
    let tried = tried.as_ref().map(|(t, r)| (t.as_str(), r.as_ref()));
    Ok(render(&link, tried, note.as_deref()).into_response())
}
