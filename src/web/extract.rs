//! `Ctx`: the request's session, resolved once from its private cookie (and the owner cookie
//! that scopes saved connections to one browser).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use tower_cookies::cookie::{time::Duration as CookieDuration, SameSite};
use tower_cookies::{Cookie, Cookies, Key};

use super::AppState;
use crate::radio::registry::Holder;
use crate::radio::LinkHandle;
use crate::session::{Restored, Session, SessionId};

pub const SESSION_COOKIE: &str = "meshdeck_sid";
pub const OWNER_COOKIE: &str = "meshdeck_owner";

/// The request's session.
#[derive(Clone)]
pub struct Ctx {
    pub id: SessionId,
    pub session: Option<Arc<Session>>,
    /// This request's cookie named a session that was cleaned up.
    pub expired: bool,
    /// Owner key of saved connections: this browser.
    pub owner: String,
    /// The request came from HTMX (wants a fragment).
    pub htmx: bool,
    /// A kept radio the request names (`session_name`, as the original's API does): it
    /// addresses that radio instead of the session's.
    pub named: Option<Named>,
    /// The app this request is served by (cheap to clone).
    pub app: AppState,
}

/// A kept radio named by a request.
#[derive(Clone)]
pub struct Named {
    pub name: String,
    /// Its link, while it is connected.
    pub link: Option<LinkHandle>,
}

impl Ctx {
    /// The radio this request addresses: the kept radio it names, else the session's.
    pub fn link(&self) -> Option<LinkHandle> {
        match &self.named {
            Some(n) => n.link.clone(),
            None => self.session.as_ref().and_then(|s| s.link()),
        }
    }

    /// The session's link, or the error that says why there is none.
    pub fn require_link(&self) -> Result<LinkHandle, crate::error::AppError> {
        self.link().ok_or(if self.expired {
            crate::error::AppError::SessionExpired
        } else {
            crate::error::AppError::NotConnected
        })
    }

    /// Whether this request sees the traceroute to `dest`: a session sees the ones it asked
    /// for (other sessions on the same radio ask for their own).
    /// A kept radio's traceroutes are all its link's.
    pub fn sees_trace(&self, dest: crate::ids::NodeNum) -> bool {
        self.named.is_some() || self.session.as_ref().is_some_and(|s| s.did_ask(dest))
    }

    /// Who else is on the radio this request addresses.
    pub fn company(&self) -> crate::read::company::Company {
        match self.link() {
            Some(l) => {
                crate::read::company::Company::of(&self.app.registry.holders(l.addr()), &self.id)
            }
            None => Default::default(),
        }
    }

    /// The session's login while it still stands (the user exists with that role).
    pub fn user(&self) -> Option<crate::auth::User> {
        let user = self.session.as_ref().and_then(|s| s.user())?;
        self.app.current(&user).then_some(user)
    }
}

fn cookie(
    name: &'static str,
    value: String,
    max_age: Option<CookieDuration>,
    secure: bool,
) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_path("/");
    c.set_secure(secure);
    if let Some(age) = max_age {
        c.set_max_age(age);
    }
    c
}

/// A new owner cookie (at login and logout): the next person at a shared browser does not
/// see the saved connections of the last.
pub fn rotate_owner_cookie(cookies: &Cookies, key: &Key, secure: bool) {
    cookies.private(key).add(cookie(
        OWNER_COOKIE,
        SessionId::random().as_str().to_string(),
        Some(CookieDuration::days(400)),
        secure,
    ));
}

/// Sets the session cookie (after a login rotated the id, or a logout).
pub fn set_session_cookie(cookies: &Cookies, key: &Key, id: &SessionId, secure: bool) {
    cookies.private(key).add(cookie(
        SESSION_COOKIE,
        id.as_str().to_string(),
        None,
        secure,
    ));
}

/// Whether cookies get the `Secure` flag: by setting, or behind a trusted local proxy that
/// says the browser used HTTPS.
pub fn secure_cookies(parts: &Parts, state: &AppState) -> bool {
    if state.config.cookie_secure {
        return true;
    }
    let from_local_proxy = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    from_local_proxy
        && parts
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v == "https")
}

/// Brings a session stored before a restart back as it was: its login (if the user still
/// exists) and its radio (if it is still allowed), with no reconnect click.
async fn restore(state: &AppState, id: &SessionId, r: Restored) {
    let mut user = None;
    if let Some(name) = r.user {
        match state.store.user(&name).await {
            Ok(Some((role, _))) => {
                user = Some(name.clone());
                r.session.set_user(Some(crate::auth::User { name, role }));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = ?e, "looking up a restored session's user failed"),
        }
    }
    // With logins, a session whose user is gone gets no radio back either.
    if state.login_required() && user.is_none() {
        return;
    }
    let Some(addr) = r.radio.and_then(|a| a.parse::<std::net::SocketAddr>().ok()) else {
        return;
    };
    if !state.config.allowed_radios.allows(addr.ip()) {
        return;
    }
    let holder = Holder::Session {
        id: id.clone(),
        user,
    };
    match state
        .registry
        .attach(addr, holder, state.link_options())
        .await
    {
        Ok(attachment) => {
            crate::kept::prepare_link(&state.store, attachment.link()).await;
            r.session.attach(Some(attachment));
            state.sessions.admit(id).await;
        }
        Err(e) => {
            tracing::info!(session = id.short(), radio = %addr, error = %e, "a restored session's radio is not there");
        }
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Resolved once per request (the authorization layer does it first).
        if let Some(ctx) = parts.extensions.get::<Ctx>() {
            return Ok(ctx.clone());
        }
        let cookies = Cookies::from_request_parts(parts, state).await?;
        let secure = secure_cookies(parts, state);
        let jar = cookies.private(&state.key);
        let from_cookie = jar
            .get(SESSION_COOKIE)
            .and_then(|c| SessionId::parse(c.value()));
        let had_cookie = from_cookie.is_some();
        let mut resolved = state.sessions.resolve(from_cookie).await;
        if let Some(r) = resolved.restored.take() {
            restore(state, &resolved.id, r).await;
        }
        if !had_cookie || resolved.expired {
            jar.add(cookie(
                SESSION_COOKIE,
                resolved.id.as_str().to_string(),
                None,
                secure,
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
                    secure,
                ));
                o
            }
        };
        // With logins, saved connections belong to the user, not to the browser.
        let owner = match resolved.session.as_ref().and_then(|s| s.user()) {
            Some(u) if state.current(&u) => format!("user:{}", u.name),
            _ => owner,
        };
        let htmx = parts.headers.get("hx-request").is_some_and(|v| v == "true");
        let ctx = Ctx {
            id: resolved.id,
            session: resolved.session,
            expired: resolved.expired,
            owner,
            htmx,
            named: None,
            app: state.clone(),
        };
        parts.extensions.insert(ctx.clone());
        Ok(ctx)
    }
}
