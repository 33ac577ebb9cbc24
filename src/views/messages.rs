//! The messages tab: conversations, the selected conversation (newest at the bottom), the
//! send form. Each message's delivery state listens for its own live event.

use std::collections::HashMap;
use std::time::SystemTime;

use maud::{html, Markup};

use crate::ids::NodeNum;
use crate::store::{Delivery, Message};

/// A conversation in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Convo {
    pub key: crate::ids::Convo,
    pub label: String,
    pub count: u32,
}

fn sender(m: &Message, names: &HashMap<NodeNum, String>) -> String {
    if m.outgoing {
        return "me".into();
    }
    names
        .get(&m.from)
        .cloned()
        .unwrap_or_else(|| m.from.to_string())
}

pub fn delivery(state: &Delivery) -> Markup {
    let class = match state {
        Delivery::Delivered => "ok",
        Delivery::Failed(_) | Delivery::Timeout => "bad",
        Delivery::Queued | Delivery::Sent | Delivery::Relayed => "warn",
        Delivery::Received => "info",
    };
    html! {
        span.pill.(class) title=[state.explain()] { (state.label()) }
        @if let (Delivery::Failed(_), Some(why)) = (state, state.explain()) {
            " " span.muted.why { (why) }
        }
    }
}

pub fn message_item(m: &Message, names: &HashMap<NodeNum, String>, now: SystemTime) -> Markup {
    html! {
        li.msg.out[m.outgoing] data-packet=(m.packet_id) {
            div.meta {
                strong { (sender(m, names)) }
                " " span.muted title=(super::iso(m.at)) { (super::ago(m.at, now)) }
                @if m.outgoing {
                    " " span.dlv sse-swap=(format!("dlv-{}", m.packet_id)) hx-swap="innerHTML" { (delivery(&m.state)) }
                } @else {
                    " " a.reply href=(format!("/messages?c={}", m.from.to_string())) aria-label="Reply directly" { "Reply" }
                }
            }
            p.text { (m.text) }
        }
    }
}

pub fn send_form(convo: &str, note: &str) -> Markup {
    html! {
        form #send-form.send method="post" action="/messages/send" hx-post="/messages/send" hx-swap="outerHTML" hx-disabled-elt="find button" {
            input type="hidden" name="convo" value=(convo);
            label.grow { span.sr-only { "Message" }
                input type="text" name="text" required maxlength="233" autocomplete="off" placeholder=(format!("Message to {convo}"));
            }
            button type="submit" { "Send" }
            @if !note.is_empty() { span.muted.note { (note) } }
        }
    }
}

pub fn messages_page(
    convos: &[Convo],
    current: crate::ids::Convo,
    history: &[Message],
    names: &HashMap<NodeNum, String>,
    now: SystemTime,
) -> Markup {
    html! {
        div.messages {
            nav.convos aria-label="Conversations" {
                @for c in convos {
                    a href=(format!("/messages?c={}", c.key)) aria-current=[(c.key == current).then_some("page")] {
                        (c.label) @if c.count > 0 { " " span.muted { "(" (c.count) ")" } }
                    }
                }
            }
            // The page's stream (`/events?convo=…`) carries this conversation's messages and
            // their delivery states.
            section.thread {
                ol #msgs sse-swap=(format!("msg-{current}")) hx-swap="beforeend" {
                    @for m in history { (message_item(m, names, now)) }
                }
                p.muted.empty-note { "No messages yet." }
                (send_form(&current.to_string(), ""))
            }
        }
    }
}
