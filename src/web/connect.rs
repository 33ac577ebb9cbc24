//! Connecting and disconnecting a session's radio, shared by the page and the JSON API:
//! validate → resolve and check the allowlist → reserve the radio → place the session under
//! the cap → connect → attach.

use std::net::SocketAddr;

use super::{AppState, Ctx};
use crate::allow::Refusal;
use crate::auth::Role;
use crate::error::AppError;
use crate::radio::registry::Holder;
use crate::radio::LinkHandle;

/// A host and port as typed by the user, checked.
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    /// A port as a form sends it: empty for the default, else a number.
    pub fn form_port(port: Option<&str>) -> Result<Option<i64>, AppError> {
        match port.map(str::trim) {
            None | Some("") => Ok(None),
            Some(p) => p
                .parse::<i64>()
                .map(Some)
                .map_err(|_| AppError::BadRequest(format!("port must be a number, not {p:?}"))),
        }
    }

    /// A port as scripts send it: a number or a numeric string (`-1` for anything else,
    /// which [`Target::parse`] then refuses).
    pub fn json_port(v: Option<&serde_json::Value>) -> Option<i64> {
        use serde_json::Value;
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_i64().or(Some(-1)),
            Some(Value::String(s)) => Some(s.trim().parse::<i64>().unwrap_or(-1)),
            Some(_) => Some(-1),
        }
    }

    pub fn parse(host: &str, port: Option<i64>) -> Result<Target, AppError> {
        let host = crate::allow::check_host(host).map_err(AppError::BadRequest)?;
        let port = port.unwrap_or(4403);
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| AppError::BadRequest(format!("port must be 1–65535, not {port}")))?;
        Ok(Target {
            host: host.to_string(),
            port,
        })
    }
}

/// Resolves the target once and checks the address against the allowlist.
async fn resolve(state: &AppState, t: &Target) -> Result<SocketAddr, AppError> {
    state
        .config
        .allowed_radios
        .resolve(&t.host, t.port)
        .await
        .map_err(|e| match e {
            Refusal::Unresolved(m) => AppError::BadRequest(m),
            Refusal::NotAllowed(m) => AppError::Forbidden(m),
        })
}

/// Connects the session to a radio. Returns the link once the handshake completed.
pub async fn connect(
    state: &AppState,
    ctx: &Ctx,
    t: &Target,
    takeover: bool,
) -> Result<LinkHandle, AppError> {
    // With logins, a viewer may only join a radio that is connected already: the form then
    // opens no connection for them, and says nothing of what is at an address.
    let viewer = state.login_required() && ctx.user().map(|u| u.role) < Some(Role::Operator);
    let refused = || {
        AppError::Forbidden(
            "a viewer may look at radios that are connected already; ask an operator to connect this one"
                .into(),
        )
    };
    let addr = match resolve(state, t).await {
        Ok(addr) => addr,
        Err(_) if viewer => return Err(refused()),
        Err(e) => return Err(e),
    };
    if viewer && state.registry.holders(addr).is_empty() {
        return Err(refused());
    }
    attach(state, ctx, addr, takeover).await
}

/// Attaches the session to the radio at `addr` (a resolved, allowed address): the link
/// already open there, or a new one.
pub async fn attach(
    state: &AppState,
    ctx: &Ctx,
    addr: SocketAddr,
    takeover: bool,
) -> Result<LinkHandle, AppError> {
    if let Some(current) = ctx.link() {
        if current.addr() == addr && !current.is_closed() {
            return Ok(current);
        }
    }
    // A take-over detaches the other sessions from the radio (the link stays): an admin's
    // decision when the installation has users.
    if takeover && state.login_required() {
        let role = ctx.user().map(|u| u.role);
        if role < Some(Role::Admin) {
            return Err(AppError::Forbidden(
                "only an admin may take a radio over from other sessions".into(),
            ));
        }
    }
    // The session holds state from here; its place under the cap comes with its radio.
    let session = state.sessions.stateful(&ctx.id).await;
    drop(session.attach(None));
    state
        .metrics
        .connects
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let holder = Holder::Session {
        id: ctx.id.clone(),
        user: session.user().map(|u| u.name),
    };
    match state
        .registry
        .attach(addr, holder, state.link_options())
        .await
    {
        Ok(attachment) => {
            let link = attachment.link().clone();
            crate::kept::prepare_link(&state.store, &link).await;
            session.attach(Some(attachment));
            state.sessions.admit(&ctx.id).await;
            if takeover {
                for other in state.registry.detach_sessions(addr, &ctx.id) {
                    if let Some(s) = state.sessions.get(&other).await {
                        s.lose_link("the radio was taken over by another session");
                    }
                }
            }
            tracing::info!(session = ctx.id.short(), radio = %addr, "connected");
            Ok(link)
        }
        Err(e) => {
            // A session that holds nothing (no link, no login) gives its place back.
            if session.user().is_none() {
                state.sessions.remove(&ctx.id).await;
            }
            Err(AppError::Radio(e.to_string()))
        }
    }
}

/// Detaches the session from its radio (the link closes if nobody else holds it) and frees
/// its place.
pub async fn disconnect(state: &AppState, ctx: &Ctx) {
    if let Some(session) = &ctx.session {
        drop(session.attach(None));
        // A logged-in session stays (with its login); otherwise it holds nothing any more.
        if session.user().is_none() {
            state.sessions.remove(&ctx.id).await;
        }
    }
}

/// Waits until the link is up: a link joined while it reconnects (after a reboot, say) is
/// not "connected" yet. Gives up after the handshake timeout with the link's own reason.
pub async fn until_up(state: &AppState, link: &LinkHandle) -> Result<(), AppError> {
    use crate::radio::LinkStatus;
    let wait = std::time::Duration::from_secs(state.config.connect_timeout.max(1));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let status = link.state().status.clone();
        match status {
            LinkStatus::Connected => return Ok(()),
            LinkStatus::Closed { reason } => return Err(AppError::Radio(reason)),
            LinkStatus::Reconnecting { error, .. } if tokio::time::Instant::now() >= deadline => {
                return Err(AppError::Radio(format!(
                    "the radio is reconnecting ({error}); try again shortly"
                )))
            }
            LinkStatus::Reconnecting { .. } => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked_at_the_edge() {
        assert!(Target::parse("", None).is_err());
        assert!(Target::parse("a b", None).is_err());
        assert!(Target::parse("127.0.0.1", Some(0)).is_err());
        assert!(Target::parse("127.0.0.1", Some(70000)).is_err());
        let t = Target::parse(" [::1] ", None).unwrap();
        assert_eq!(crate::allow::display(&t.host, t.port), "[::1]:4403");
    }
}
