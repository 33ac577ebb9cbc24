//! Connecting and disconnecting a session's radio, shared by the page and the JSON API:
//! validate → resolve and check the allowlist → reserve the radio → place the session under
//! the cap → connect → attach.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{AppState, Ctx};
use crate::error::AppError;
use crate::ids::NodeNum;
use crate::radio::registry::Holder;
use crate::radio::LinkHandle;

/// A host and port as typed by the user, checked.
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(host: &str, port: Option<i64>) -> Result<Target, AppError> {
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(AppError::BadRequest("host is required".into()));
        }
        let ok_chars = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
        if host.len() > 253 || !ok_chars {
            return Err(AppError::BadRequest(
                "host must be a host name or an IP address".into(),
            ));
        }
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

    pub fn display(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Resolves the target once and checks the address against the allowlist. No packet leaves
/// for an address that is not allowed.
async fn resolve(state: &AppState, t: &Target) -> Result<SocketAddr, AppError> {
    let by_name = state.config.allowed_radios.allows_name(&t.host);
    let addrs: Vec<SocketAddr> = match t.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, t.port)],
        Err(_) => {
            let lookup = tokio::net::lookup_host((t.host.as_str(), t.port));
            match tokio::time::timeout(Duration::from_secs(5), lookup).await {
                Ok(Ok(a)) => a.collect(),
                Ok(Err(e)) => {
                    return Err(AppError::BadRequest(format!(
                        "cannot resolve {}: {e}",
                        t.host
                    )))
                }
                Err(_) => {
                    return Err(AppError::BadRequest(format!(
                        "resolving {} timed out",
                        t.host
                    )))
                }
            }
        }
    };
    addrs
        .into_iter()
        .find(|a| by_name || state.config.allowed_radios.allows(a.ip()))
        .ok_or_else(|| {
            AppError::Forbidden(format!(
                "{} is not an allowed radio address (see ALLOWED_RADIOS)",
                t.display()
            ))
        })
}

/// Connects the session to a radio. Returns the link once the handshake completed.
pub async fn connect(
    state: &AppState,
    ctx: &Ctx,
    t: &Target,
    takeover: bool,
) -> Result<LinkHandle, AppError> {
    let addr = resolve(state, t).await?;
    if let Some(current) = ctx.link() {
        if current.addr() == addr && !current.is_closed() {
            return Ok(current);
        }
    }
    let held_by_other = state
        .registry
        .holders(addr)
        .iter()
        .any(|h| !matches!(h, Holder::Session { id, .. } if *id == ctx.id));
    if held_by_other {
        if !takeover {
            return Err(AppError::Conflict(format!(
                "radio {} is in use by another session (a radio serves one client at a time)",
                t.display()
            )));
        }
        for other in state.registry.detach_sessions(addr, &ctx.id) {
            if let Some(s) = state.sessions.get(&other).await {
                s.lose_link("the radio was taken over by another session");
            }
        }
    }
    // Place the session under the cap first, so an evicted session's link closes before ours opens.
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
            if link.automation().lock().radio == NodeNum(0) {
                load_automation(state, &link).await;
            }
            session.attach(Some(attachment));
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

/// Loads the radio's stored automation into the link (defaults for a new radio).
async fn load_automation(state: &AppState, link: &LinkHandle) {
    let radio = link.state().my_node_num;
    let saved = match state.store.automation(radio).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = ?e, "loading automation failed; using defaults");
            Default::default()
        }
    };
    let mut a = link.automation().lock();
    a.radio = radio;
    a.responder = saved.responder.unwrap_or_default();
    a.beacon = saved.beacon.unwrap_or_default();
    a.filter = saved.filter.unwrap_or_default();
    drop(a);
    // The actor's beacon timer picks up the loaded settings.
    link.automation().beacon_changed();
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
        assert_eq!(t.display(), "[::1]:4403");
    }
}
