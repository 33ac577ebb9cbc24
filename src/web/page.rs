//! Whole pages, built one way for every session: the header with its radio, the live status
//! bar, the tabs, the page's live stream and the session's notice around a page's body. A
//! session without a radio gets the connect page wherever it looks.

use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::{parts, Ctx};
use crate::error::Result;
use crate::views::components::error_toast;
use crate::views::connect::{connect_page, ConnectPage};
use crate::views::layout::{self, Chrome, Tab};

const EXPIRED: &str = "Session expired, reconnect.";

/// What the session should be told once: its expiry, or why it lost its radio.
fn notice(ctx: &Ctx) -> Option<String> {
    if ctx.expired {
        return Some(EXPIRED.to_string());
    }
    ctx.session.as_ref().and_then(|s| s.notice())
}

/// The page for this session. With a radio: its address, status bar, tabs and live stream
/// (`stream`, when the page needs more than the status bar). A page beside the tabs
/// (`tab: None`: connect, errors) also shows the notice as a toast.
pub fn full(
    ctx: &Ctx,
    title: &str,
    tab: Option<Tab>,
    stream: Option<&str>,
    body: Markup,
) -> Markup {
    let link = ctx.link();
    let notice = notice(ctx);
    let addr = link.as_ref().map(|l| l.addr().to_string());
    let user = ctx.user();
    let chrome = Chrome {
        title,
        radio: addr.as_deref(),
        tab,
        status: link.as_ref().map(|l| {
            let alerts = ctx.app.alerts.unacknowledged(l.state().radio_key);
            parts::status(l, &ctx.company(), notice.as_deref(), Tab::bar(tab), alerts)
        }),
        notice: notice.as_deref().filter(|_| tab.is_none()),
        stream,
        user: user.as_ref().map(|u| u.name.as_str()),
    };
    layout::page(chrome, body)
}

/// A page outside any session's view (the login page).
pub fn bare(title: &str, body: Markup) -> Markup {
    let chrome = Chrome {
        title,
        radio: None,
        tab: None,
        status: None,
        notice: None,
        stream: None,
        user: None,
    };
    layout::page(chrome, body)
}

/// A failed request, as a page for a browser that loaded it.
pub fn error(ctx: Option<&Ctx>, message: &str) -> Markup {
    let body = html! {
        section.panel.error-page {
            h2 { "That did not work" }
            (error_toast(message))
            p { a href="/" { "Back to the start" } }
        }
    };
    match ctx {
        Some(ctx) => full(ctx, "Error", None, None, body),
        None => bare("Error", body),
    }
}

/// A connect form to show again: what was typed and why it failed.
pub struct Retry<'a> {
    pub host: &'a str,
    pub port: u16,
    pub in_use: bool,
    pub error: &'a str,
}

/// The connect page with the owner's saved connections and the demo radios.
pub async fn connect(ctx: &Ctx, retry: Option<Retry<'_>>) -> Result<Markup> {
    let state = &ctx.app;
    let saved = state.store.saved_connections(&ctx.owner).await?;
    let first_admin =
        (!state.login_required()).then(|| first_admin_command(&state.config.data_dir));
    let p = ConnectPage {
        host: retry.as_ref().map_or("", |r| r.host),
        port: retry.as_ref().map_or(4403, |r| r.port),
        saved: &saved,
        demo: &state.demo,
        in_use: retry.as_ref().is_some_and(|r| r.in_use),
        error: retry.as_ref().map(|r| r.error),
        first_admin: first_admin.as_deref(),
    };
    Ok(full(ctx, "Connect", None, None, connect_page(&p)))
}

/// The exact command that adds the first admin to this installation's data directory; a
/// system install's directory (under `/var/lib`) is root's to change.
pub fn first_admin_command(data_dir: &std::path::Path) -> String {
    let dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let dir = dir.to_string_lossy();
    let plain = dir
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b));
    let quoted = if plain {
        dir.to_string()
    } else {
        format!("'{}'", dir.replace('\'', r"'\''"))
    };
    let sudo = if dir.starts_with("/var/lib/") {
        "sudo "
    } else {
        ""
    };
    format!("{sudo}meshdeck --data-dir {quoted} user add admin --role admin")
}

/// What a tab answers a session without a radio: a browser gets the connect page (which
/// says why, e.g. that the session expired), an HTMX part the error.
pub async fn no_radio(ctx: &Ctx) -> Result<Response> {
    if ctx.htmx {
        ctx.require_link()?;
    }
    Ok(connect(ctx, None).await?.into_response())
}
