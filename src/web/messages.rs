//! Messages: conversations per channel and per direct peer, the send form, and the checks
//! every send goes through (page and JSON alike).

use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::{AppState, Ctx};
use crate::error::{AppError, Result};
use crate::ids::{ChannelIndex, Convo, Dest};
use crate::proto::pb;
use crate::radio::LinkHandle;
use crate::radio::Queued;
use crate::views::layout::{page, Chrome, Tab};
use crate::views::messages::{self as view, Convo as ViewConvo};

/// The most bytes of text one Meshtastic packet carries (`DATA_PAYLOAD_LEN`).
pub const MAX_TEXT_BYTES: usize = pb::Constants::DataPayloadLen as usize;

/// Checks a text before it is queued: nothing invalid ever reaches the radio.
pub async fn send(
    link: &LinkHandle,
    text: &str,
    to: Dest,
    channel: ChannelIndex,
) -> Result<Queued> {
    if text.trim().is_empty() {
        return Err(AppError::BadRequest("the message is empty".into()));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(AppError::BadRequest(format!(
            "the message is {} bytes of UTF-8; one Meshtastic packet carries at most {MAX_TEXT_BYTES}",
            text.len()
        )));
    }
    {
        let st = link.state();
        let enabled = st
            .channels
            .get(channel.get() as usize)
            .is_some_and(|c| c.role != pb::channel::Role::Disabled as i32);
        if !enabled {
            return Err(AppError::BadRequest(format!(
                "channel {channel} is not enabled on this radio"
            )));
        }
        if let Dest::Node(to) = to {
            if to == st.my_node_num {
                return Err(AppError::BadRequest("that is this radio itself".into()));
            }
            if !st.nodes.contains(to) {
                return Err(AppError::BadRequest(format!(
                    "unknown destination {to} (not in the radio's node DB)"
                )));
            }
        }
    }
    link.send_text(to, channel, text.to_string())
        .await
        .map_err(|e| AppError::Radio(e.to_string()))
}

/// A conversation from the query: `ch:N` or a node; none is the primary channel.
fn parse_convo(s: Option<&str>) -> Result<Convo> {
    match s.map(str::trim) {
        None | Some("") => Ok(Convo::Channel(ChannelIndex::PRIMARY)),
        Some(c) => Ok(c.parse()?),
    }
}

#[derive(Deserialize)]
pub struct MessagesQuery {
    c: Option<String>,
}

/// The conversations to list: every enabled channel, then direct peers from the history.
async fn convos(state: &AppState, link: &LinkHandle) -> Result<Vec<ViewConvo>> {
    let (radio, channels, names) = {
        let st = link.state();
        let channels: Vec<(ChannelIndex, String)> = st
            .channels
            .iter()
            .filter(|c| c.role != pb::channel::Role::Disabled as i32)
            .map(|c| {
                let name = c
                    .settings
                    .as_ref()
                    .map(|s| s.name.clone())
                    .filter(|n| !n.is_empty());
                (
                    ChannelIndex::from_radio(u32::try_from(c.index).unwrap_or(0)),
                    name.unwrap_or_else(|| {
                        if c.index == 0 {
                            "Primary".into()
                        } else {
                            format!("Channel {}", c.index)
                        }
                    }),
                )
            })
            .collect();
        (st.my_node_num, channels, crate::views::packets::names(&st))
    };
    let mut out: Vec<ViewConvo> = channels
        .into_iter()
        .map(|(i, name)| ViewConvo {
            key: Convo::Channel(i),
            label: format!("#{i} {name}"),
            count: 0,
        })
        .collect();
    for (key, _, count) in state.store.conversations(radio).await? {
        if let Some(c) = out.iter_mut().find(|c| c.key == key) {
            c.count = count;
        } else if let Convo::Direct(n) = key {
            let label = names.get(&n).cloned().unwrap_or_else(|| key.to_string());
            out.push(ViewConvo { key, label, count });
        }
    }
    Ok(out)
}

pub async fn messages_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<MessagesQuery>,
) -> Result<Response> {
    let convo = parse_convo(q.c.as_deref())?;
    let Some(link) = ctx.link() else {
        return Ok(axum::response::Redirect::to("/").into_response());
    };
    let radio = link.state().my_node_num;
    let history = state.store.conversation(radio, convo, 200).await?;
    let mut list = convos(&state, &link).await?;
    if !list.iter().any(|c| c.key == convo) {
        // A new direct conversation: list it with the peer's name.
        let label = match convo {
            Convo::Direct(n) => crate::views::packets::names_of(&link.state(), [n]).remove(&n),
            Convo::Channel(_) => None,
        }
        .unwrap_or_else(|| convo.to_string());
        list.push(ViewConvo {
            key: convo,
            label,
            count: 0,
        });
    }
    let names = crate::views::packets::names(&link.state());
    let body = view::messages_page(&list, convo, &history, &names, SystemTime::now());
    if ctx.htmx {
        return Ok(body.into_response());
    }
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    let addr = link.addr().to_string();
    let stream = format!("/events?convo={convo}");
    let chrome = Chrome {
        title: "Messages",
        radio: Some(&addr),
        tab: Some(Tab::Messages),
        status: Some(super::pages::status_markup(&link, notice.as_deref())),
        notice: None,
        stream: Some(&stream),
    };
    Ok(page(chrome, body).into_response())
}

#[derive(Deserialize)]
pub struct SendForm {
    text: String,
    convo: String,
}

pub async fn send_form(ctx: Ctx, Form(f): Form<SendForm>) -> Result<Response> {
    let link = ctx.link().ok_or(if ctx.expired {
        AppError::SessionExpired
    } else {
        AppError::NotConnected
    })?;
    let convo = parse_convo(Some(&f.convo))?;
    let (to, channel) = convo.target();
    let q = send(&link, &f.text, to, channel).await?;
    let note = if q.sends_in.as_millis() > 300 {
        format!("Queued: sends in {} s", q.sends_in.as_secs().max(1))
    } else {
        String::new()
    };
    Ok(view::send_form(&convo.to_string(), &note).into_response())
}
