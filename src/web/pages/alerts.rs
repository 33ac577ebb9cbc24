//! The Alerts page: the radio's fired alerts (acknowledge one or all) and its rules (add,
//! mute, delete). Every form posts to `/alerts/{form}`: a browser without script is sent
//! back to the page, HTMX gets the panel.

use std::time::SystemTime;

use axum::extract::{Path, Query};
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::Markup;

use crate::alerts::Draft;
use crate::auth::Role;
use crate::error::{AppError, Result};
use crate::radio::LinkHandle;
use crate::views::alerts::{alerts_panel, fired_section, AlertsView, RuleRow};
use crate::views::layout::Tab;
use crate::web::form::Fields;
use crate::web::ops::alerts::{mute_until, radio};
use crate::web::{access, page, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(tab))
        .route("/alerts/{form}", post(form))
        .route_layer(from_fn(access::operate))
}

/// Operators change rules and acknowledge; without users, everybody is one.
fn edits(ctx: &Ctx) -> bool {
    !ctx.app.login_required() || ctx.user().is_some_and(|u| u.role >= Role::Operator)
}

/// The panel, or (`fired_only`) just its fired alerts.
async fn render(ctx: &Ctx, link: &LinkHandle, note: Option<&str>) -> Result<Markup> {
    view(ctx, link, note, false).await
}

async fn view(
    ctx: &Ctx,
    link: &LinkHandle,
    note: Option<&str>,
    fired_only: bool,
) -> Result<Markup> {
    let alerts = &ctx.app.alerts;
    let key = radio(link);
    let rules = alerts.rules(key).await?;
    let fired = alerts.fired(key, 200).await?;
    alerts.count(key).await?;
    let deliveries: Vec<_> = rules.iter().map(|r| alerts.delivery(r.id)).collect();
    let rows: Vec<RuleRow<'_>> = rules
        .iter()
        .zip(&deliveries)
        .map(|(rule, d)| RuleRow {
            rule,
            delivery: d.as_ref(),
        })
        .collect();
    let names = crate::read::names::long_names(&link.state());
    let v = AlertsView {
        fired: &fired,
        rules: &rows,
        names: &names,
        can_edit: edits(ctx),
        note,
        now: SystemTime::now(),
    };
    Ok(if fired_only {
        fired_section(&v)
    } else {
        alerts_panel(&v)
    })
}

#[derive(serde::Deserialize)]
struct PartQuery {
    part: Option<String>,
}

/// The page; for HTMX the panel, or `?part=fired` only the fired alerts (refreshed live).
async fn tab(ctx: Ctx, Query(q): Query<PartQuery>) -> Result<Response> {
    let Some(link) = ctx.link() else {
        return page::no_radio(&ctx).await;
    };
    if ctx.htmx {
        let fired_only = q.part.as_deref() == Some("fired");
        return Ok(view(&ctx, &link, None, fired_only).await?.into_response());
    }
    let panel = render(&ctx, &link, None).await?;
    Ok(page::full(&ctx, "Alerts", Some(Tab::Alerts), None, panel).into_response())
}

fn id(f: &Fields) -> Result<i64> {
    f.text("id")
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::BadRequest("id must be a whole number".into()))
}

/// One handler for every form of the page: `/alerts/{form}`.
async fn form(ctx: Ctx, Path(form): Path<String>, body: String) -> Result<Response> {
    let link = ctx.require_link()?;
    let key = radio(&link);
    let alerts = &ctx.app.alerts;
    let f = Fields::parse(&body)?;
    let opt = |k: &str| f.get(k).map(str::to_string);
    let note = match form.as_str() {
        "rule" => {
            let draft = Draft {
                kind: f.text("kind"),
                node: opt("node"),
                minutes: opt("minutes"),
                percent: opt("percent"),
                text: opt("text"),
                webhook: opt("webhook"),
            };
            alerts.add_rule(key, &draft).await?;
            "Rule added."
        }
        "delete" => {
            alerts.delete_rule(key, id(&f)?).await?;
            "Rule deleted."
        }
        "mute" => {
            let minutes = match f.get("for") {
                Some("forever") => None,
                Some(m) => Some(m.trim().parse::<u32>().map_err(|_| {
                    AppError::BadRequest("for must be minutes or \"forever\"".into())
                })?),
                None => Some(60),
            };
            let until = mute_until(minutes, SystemTime::now())?;
            alerts.mute(key, id(&f)?, Some(until)).await?;
            "Rule muted."
        }
        "unmute" => {
            alerts.mute(key, id(&f)?, None).await?;
            "Rule unmuted."
        }
        "ack" => {
            alerts.acknowledge(key, Some(id(&f)?)).await?;
            "Alert acknowledged."
        }
        "ack-all" => {
            alerts.acknowledge(key, None).await?;
            "All alerts acknowledged."
        }
        other => return Err(AppError::NotFound(format!("no form {other:?}"))),
    };
    if !ctx.htmx {
        return Ok(Redirect::to("/alerts").into_response());
    }
    Ok(render(&ctx, &link, Some(note)).await?.into_response())
}
