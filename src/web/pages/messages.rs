//! The messages tab: conversations per channel and per direct peer, the history of one,
//! and the send form. New messages and delivery states arrive over the page's stream.

use std::time::SystemTime;

use axum::extract::Query;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::error::Result;
use crate::ids::{ChannelIndex, Convo};
use crate::radio::LinkHandle;
use crate::read::names::{channel_names, short_names};
use crate::views::layout::Tab;
use crate::views::messages::{self as view, Convo as ViewConvo};
use crate::web::ops::text;
use crate::web::{access, page, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/messages", get(conversation))
        .route("/messages/send", post(send))
        .route_layer(from_fn(access::operate))
}

/// A conversation from the query: `ch:N` or a node; none is the primary channel.
fn parse_convo(s: Option<&str>) -> Result<Convo> {
    match s.map(str::trim) {
        None | Some("") => Ok(Convo::Channel(ChannelIndex::PRIMARY)),
        Some(c) => Ok(c.parse()?),
    }
}

/// The conversations to list: every enabled channel, then direct peers from the history,
/// then `current` if it is a new one.
async fn convos(state: &AppState, link: &LinkHandle, current: Convo) -> Result<Vec<ViewConvo>> {
    let (radio, channels, names) = {
        let st = link.state();
        (st.radio_key, channel_names(&st), short_names(&st))
    };
    let mut out: Vec<ViewConvo> = channels
        .into_iter()
        .map(|(i, name)| ViewConvo {
            key: Convo::Channel(i),
            label: format!("#{i} {name}"),
            count: 0,
        })
        .collect();
    let label = |key: Convo| match key {
        Convo::Direct(n) => names.get(&n).cloned(),
        Convo::Channel(_) => None,
    };
    for (key, _, count) in state.store.conversations(radio).await? {
        if let Some(c) = out.iter_mut().find(|c| c.key == key) {
            c.count = count;
        } else if let Convo::Direct(_) = key {
            let label = label(key).unwrap_or_else(|| key.to_string());
            out.push(ViewConvo { key, label, count });
        }
    }
    if !out.iter().any(|c| c.key == current) {
        // A new direct conversation: list it with the peer's name.
        let label = label(current).unwrap_or_else(|| current.to_string());
        out.push(ViewConvo {
            key: current,
            label,
            count: 0,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct MessagesQuery {
    c: Option<String>,
}

async fn conversation(ctx: Ctx, Query(q): Query<MessagesQuery>) -> Result<Response> {
    let state = &ctx.app;
    let convo = parse_convo(q.c.as_deref())?;
    let Some(link) = ctx.link() else {
        return page::no_radio(&ctx).await;
    };
    let radio = link.state().radio_key;
    let history = state.store.conversation(radio, convo, 200).await?;
    let list = convos(state, &link, convo).await?;
    let names = short_names(&link.state());
    let body = view::messages_page(&list, convo, &history, &names, SystemTime::now());
    if ctx.htmx {
        return Ok(body.into_response());
    }
    let stream = format!("/events?convo={convo}");
    let tab = Some(Tab::Messages);
    Ok(page::full(&ctx, "Messages", tab, Some(&stream), body).into_response())
}

#[derive(Deserialize)]
struct SendForm {
    text: String,
    convo: String,
}

async fn send(ctx: Ctx, Form(f): Form<SendForm>) -> Result<Response> {
    let link = ctx.require_link()?;
    let convo = parse_convo(Some(&f.convo))?;
    let (to, channel) = convo.target();
    let q = text::send(&link, &f.text, to, channel).await?;
    let note = if q.sends_in.as_millis() > 300 {
        format!("Queued: sends in {} s", q.sends_in.as_secs().max(1))
    } else {
        String::new()
    };
    Ok(view::send_form(&convo.to_string(), &note).into_response())
}
