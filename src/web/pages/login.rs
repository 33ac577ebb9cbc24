//! Login and logout. A login rotates the session id (a session fixed before login is worth
//! nothing after it) and makes the session hold state; failures are throttled per user name
//! and client address.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use serde::Deserialize;
use tower_cookies::Cookies;

use crate::auth::{self, User};
use crate::error::Result;
use crate::session::SessionId;
use crate::web::extract::{rotate_owner_cookie, set_session_cookie};
use crate::web::{access, connect, page, AppState, Ctx};

pub fn router() -> Router<AppState> {
    let logout = Router::new()
        .route("/logout", post(logout))
        .route_layer(from_fn(access::view));
    Router::new()
        .route("/login", get(login_form).post(login))
        .merge(logout)
}

fn login_page(error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        form.panel.connect method="post" action="/login" {
            h2 { "Log in" }
            @if let Some(e) = error { div.toast.error role="alert" { (e) } }
            label { "User name" input type="text" name="name" required autocomplete="username" autofocus; }
            label { "Password" input type="password" name="password" required autocomplete="current-password"; }
            button type="submit" { "Log in" }
        }
    };
    (status, page::bare("Log in", body)).into_response()
}

async fn login_form() -> Response {
    login_page(None, StatusCode::OK)
}

#[derive(Deserialize)]
struct LoginBody {
    name: String,
    password: String,
}

async fn login(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ctx: Ctx,
    cookies: Cookies,
    parts: axum::http::HeaderMap,
    Form(f): Form<LoginBody>,
) -> Result<Response> {
    let state = &ctx.app;
    let name = f.name.trim().to_string();
    let wrong = || {
        login_page(
            Some("Wrong user name or password."),
            StatusCode::UNAUTHORIZED,
        )
    };
    // No user has such a name: nothing to check, nothing to count.
    if auth::valid_name(&name).is_err() {
        tracing::info!(user = ?name.chars().take(80).collect::<String>(), %peer, "failed login");
        return Ok(wrong());
    }
    let client = client_address(peer, &parts);
    let attempt = match state.throttle.attempt(&name, client).await {
        Ok(a) => a,
        Err(wait) => {
            return Ok(login_page(
                Some(&format!("Too many failed logins; try again in {wait} s.")),
                StatusCode::TOO_MANY_REQUESTS,
            ))
        }
    };
    let stored = state.store.user(&name).await?;
    let hash = stored.as_ref().map(|(_, h)| h.clone());
    let ok = state.hasher.verify(f.password, hash).await;
    let Some((role, _)) = stored.filter(|_| ok) else {
        attempt.failed();
        // The name is the stranger's text: logged escaped.
        tracing::info!(user = ?name, client = %client, "failed login");
        return Ok(wrong());
    };
    attempt.succeeded();
    // A new id for the logged-in session; whatever the old one held ends.
    connect::disconnect(state, &ctx).await;
    state.sessions.remove(&ctx.id).await;
    let id = SessionId::random();
    let session = state.sessions.stateful(&id).await;
    session.set_user(Some(User {
        name: name.clone(),
        role,
    }));
    state.sessions.admit_login(&id, &name).await;
    let secure = state.config.cookie_secure
        || parts.get("x-forwarded-proto").is_some_and(|v| v == "https") && peer.ip().is_loopback();
    set_session_cookie(&cookies, &state.key, &id, secure);
    rotate_owner_cookie(&cookies, &state.key, secure);
    tracing::info!(user = %name, %role, session = id.short(), "logged in");
    Ok(Redirect::to("/").into_response())
}

/// The browser's address: the peer, or behind a reverse proxy on this machine the address it
/// says the request came from (`X-Forwarded-For`, its last entry), so that the login throttle
/// counts browsers, not the proxy.
fn client_address(peer: SocketAddr, headers: &axum::http::HeaderMap) -> std::net::IpAddr {
    if !peer.ip().is_loopback() {
        return peer.ip();
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer.ip())
}

async fn logout(ctx: Ctx, cookies: Cookies) -> Response {
    let state = &ctx.app;
    connect::disconnect(state, &ctx).await;
    if let Some(s) = &ctx.session {
        s.set_user(None);
    }
    state.sessions.remove(&ctx.id).await;
    set_session_cookie(
        &cookies,
        &state.key,
        &SessionId::random(),
        state.config.cookie_secure,
    );
    rotate_owner_cookie(&cookies, &state.key, state.config.cookie_secure);
    Redirect::to("/login").into_response()
}
