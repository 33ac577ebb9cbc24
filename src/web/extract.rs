//! `Ctx`: the request's session, resolved from its private cookie (and the owner cookie that
//! scopes saved connections to one browser).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use std::sync::Arc;
use tower_cookies::cookie::{time::Duration as CookieDuration, SameSite};
use tower_cookies::{Cookie, Cookies};

use super::AppState;
use crate::radio::LinkHandle;
use crate::session::{Session, SessionId};

pub const SESSION_COOKIE: &str = "meshdeck_sid";
pub const OWNER_COOKIE: &str = "meshdeck_owner";

/// The request's session.
pub struct Ctx {
    pub id: SessionId,
    pub session: Option<Arc<Session>>,
    /// This request's cookie named a session that was cleaned up.
    pub expired: bool,
    /// Owner key of saved connections: this browser.
    pub owner: String,
    /// The request came from HTMX (wants a fragment).
    pub htmx: bool,
}

impl Ctx {
    pub fn link(&self) -> Option<LinkHandle> {
        self.session.as_ref().and_then(|s| s.link())
    }
}

fn cookie(name: &'static str, value: String, max_age: Option<CookieDuration>) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_path("/");
    if let Some(age) = max_age {
        c.set_max_age(age);
    }
    c
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let cookies = Cookies::from_request_parts(parts, state).await?;
        let jar = cookies.private(&state.key);
        let from_cookie = jar
            .get(SESSION_COOKIE)
            .and_then(|c| SessionId::parse(c.value()));
        let had_cookie = from_cookie.is_some();
        let resolved = state.sessions.resolve(from_cookie).await;
        if !had_cookie || resolved.expired {
            jar.add(cookie(
                SESSION_COOKIE,
                resolved.id.as_str().to_string(),
                None,
            ));
        }
        let owner = match jar
            .get(OWNER_COOKIE)
            .and_then(|c| SessionId::parse(c.value()))
        {
            Some(o) => o.as_str().to_string(),
            None => {
                let o = SessionId::random().as_str().to_string();
                jar.add(cookie(
                    OWNER_COOKIE,
                    o.clone(),
                    Some(CookieDuration::days(400)),
                ));
                o
            }
        };
        let htmx = parts.headers.get("hx-request").is_some_and(|v| v == "true");
        Ok(Ctx {
            id: resolved.id,
            session: resolved.session,
            expired: resolved.expired,
            owner,
            htmx,
        })
    }
}
