//! Who may do what. Each area's router says next to its routes which [`Access`] they need
//! (`.route_layer(from_fn(access::operate))`); with users configured, a route with no such
//! layer is public (login, health, metrics, assets). Before routing, every request has its
//! session resolved once, and a state-changing request that a browser marks as cross-site
//! (`Sec-Fetch-Site`), or whose `Origin` is not this server, is refused (besides the
//! SameSite=Lax cookie).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;

use super::respond::Kind;
use super::{AppState, Ctx};
use crate::auth::Role;
use crate::error::AppError;

pub async fn cross_site(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let h = req.headers();
    let fetch_site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("cross-site") | Some("same-site")) {
        return refuse();
    }
    if let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = h
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        if origin == "null" || !origin_host.eq_ignore_ascii_case(host) {
            return refuse();
        }
    }
    next.run(req).await
}

fn refuse() -> Response {
    let body = Json(json!({"error": "cross-site request refused"}));
    (StatusCode::FORBIDDEN, body).into_response()
}

/// Whether this server has users (then every route with an [`Access`] needs a login).
#[derive(Clone, Copy)]
struct LoginRequired(bool);

/// Resolves the request's session once for the access checks and the handlers.
/// Also finds the kept radio a JSON API request names with `session_name` (in the query,
/// or in a JSON body), as the original's scripts and page address a persistent session.
pub async fn session(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let mut ctx = match Ctx::from_request_parts(&mut parts, &state).await {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    let (name, body) = match super::named::session_name(&parts, body).await {
        Ok(found) => found,
        Err(e) => {
            let body = Json(json!({"error": e.public_message()}));
            return (e.status(), body).into_response();
        }
    };
    // Without a login nothing is named (the route's access answers "login required").
    let anonymous = state.login_required() && ctx.user().is_none();
    if let Some(name) = name.filter(|_| !anonymous) {
        match state.kept.get(&name) {
            Some(k) => {
                ctx.named = Some(super::extract::Named { name, link: k.link });
                parts.extensions.insert(ctx);
            }
            // Always a JSON API route here, ahead of the layer that renders failures.
            None => {
                let body = Json(json!({"error": "Session not found"}));
                return (StatusCode::NOT_FOUND, body).into_response();
            }
        }
    }
    parts
        .extensions
        .insert(LoginRequired(state.login_required()));
    next.run(Request::from_parts(parts, body)).await
}

/// What a group of routes needs: the role to look (GET, HEAD) and the role to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any user: look, and choose the radio to look at (connect, disconnect, log out).
    View,
    /// Viewers look, operators act: the default of every area.
    Operate,
    /// Viewers read a radio's settings, admins write them (a HEAD counts as a write).
    Configure,
    /// Admins only: reboot, shutdown, resets.
    Admin,
}

impl Access {
    pub fn need(self, method: &Method) -> Role {
        let looking = matches!(*method, Method::GET | Method::HEAD);
        match self {
            Access::View => Role::Viewer,
            Access::Operate if looking => Role::Viewer,
            Access::Operate => Role::Operator,
            Access::Configure if *method == Method::GET => Role::Viewer,
            Access::Configure | Access::Admin => Role::Admin,
        }
    }
}

/// The role a route needed, left on its response (for the logs and the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needed(pub Role);

async fn check(access: Access, req: Request, next: Next) -> Response {
    let need = access.need(req.method());
    let login = req.extensions().get::<LoginRequired>().is_some_and(|l| l.0);
    let user = req.extensions().get::<Ctx>().and_then(Ctx::user);
    let mut res = match user {
        _ if !login => next.run(req).await,
        None => login_first(&req),
        Some(u) if u.role < need => AppError::Forbidden(format!(
            "your role ({}) cannot do this; it needs {need}",
            u.role
        ))
        .into_response(),
        Some(_) => next.run(req).await,
    };
    res.extensions_mut().insert(Needed(need));
    res
}

/// The answer to a request without a login: JSON for scripts, a redirect for browsers.
fn login_first(req: &Request) -> Response {
    const MSG: &str = "login required";
    match Kind::of(req) {
        Kind::Api => (StatusCode::UNAUTHORIZED, Json(json!({"error": MSG}))).into_response(),
        Kind::Htmx => (StatusCode::UNAUTHORIZED, [("HX-Redirect", "/login")], MSG).into_response(),
        Kind::Page if *req.method() == Method::GET => Redirect::to("/login").into_response(),
        Kind::Page => (StatusCode::UNAUTHORIZED, MSG).into_response(),
    }
}

/// [`Access::View`] as a route layer.
pub async fn view(req: Request, next: Next) -> Response {
    check(Access::View, req, next).await
}

/// [`Access::Operate`] as a route layer.
pub async fn operate(req: Request, next: Next) -> Response {
    check(Access::Operate, req, next).await
}

/// [`Access::Configure`] as a route layer.
pub async fn configure(req: Request, next: Next) -> Response {
    check(Access::Configure, req, next).await
}

/// [`Access::Admin`] as a route layer.
pub async fn admin(req: Request, next: Next) -> Response {
    check(Access::Admin, req, next).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    /// The real router on a fresh store, without users (so every handler runs).
    async fn app() -> axum::Router {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("meshdeck-access-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let store = crate::store::Store::open(&dir.join("meshdeck.db")).unwrap();
        let (messages, _rx) = tokio::sync::mpsc::channel(16);
        let key = tower_cookies::Key::generate();
        let config = crate::config::Config::defaults();
        let registry = std::sync::Arc::new(crate::radio::Registry::default());
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
        let opts = super::super::link_options(&config, &store, &messages, &metrics);
        let kept = crate::kept::KeptRadios::start(
            store.clone(),
            registry.clone(),
            config.allowed_radios.clone(),
            opts,
            1,
        )
        .await
        .unwrap();
        let parts = super::super::Parts {
            registry,
            kept,
            messages,
            metrics,
        };
        let state = AppState::new(parts, config, store, key, vec![]);
        super::super::router(state)
    }

    /// What the router says a request needs: the role its access layer asked for, or
    /// `None` for a public route.
    async fn needs(app: &axum::Router, method: &Method, path: &str) -> Option<Role> {
        let req = axum::http::Request::builder()
            .method(method.clone())
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        res.extensions().get::<Needed>().map(|n| n.0)
    }

    /// Checks a table of method, path and the role it needs (`-`: public).
    async fn check(table: &str) {
        let app = &app().await;
        for line in table.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let [method, path, role] = line.split_whitespace().collect::<Vec<_>>()[..] else {
                panic!("bad line {line:?}");
            };
            let want = match role {
                "-" => None,
                r => Some(r.to_lowercase().parse::<Role>().unwrap()),
            };
            let method: Method = method.parse().unwrap();
            assert_eq!(needs(app, &method, path).await, want, "{method} {path}");
        }
    }

    #[tokio::test]
    async fn routes_need_the_right_role() {
        check(
            "
            GET  /healthz                       -
            GET  /nodes                         Viewer
            POST /api/send                      Operator
            POST /api/connect                   Viewer
            POST /api/device/reboot             Admin
            GET  /api/device/mqtt/config        Viewer
            POST /api/device/mqtt/config        Admin
            POST /settings/admin/factory-reset  Admin
            ",
        )
        .await;
    }

    /// Every route and method as the path-matching guard before the per-area routers
    /// decided it: method, path, the role it needs (`-`: public).
    const ROLES: &str = "
        GET  /login                         -
        POST /login                         -
        GET  /metrics                       -
        GET  /assets/app.css                -
        GET  /assets/nothing.js             -
        GET  /                              Viewer
        POST /                              Operator
        GET  /connect                       Viewer
        POST /connect                       Viewer
        POST /disconnect                    Viewer
        POST /connections                   Viewer
        POST /connections/1/delete          Viewer
        POST /logout                        Viewer
        POST /api/disconnect                Viewer
        GET  /status                        Viewer
        GET  /node/!00000001                Viewer
        GET  /packets                       Viewer
        HEAD /packets                       Viewer
        POST /packets                       Operator
        GET  /messages                      Viewer
        POST /messages/send                 Operator
        GET  /traceroute                    Viewer
        POST /traceroute                    Operator
        POST /traceroute/cancel             Operator
        GET  /traceroute/coverage.svg       Viewer
        GET  /map                           Viewer
        POST /map                           Operator
        GET  /topology                      Viewer
        GET  /api/topology                  Viewer
        POST /sweep                         Operator
        POST /sweep/stop                    Operator
        GET  /automation                    Viewer
        POST /automation/rule               Operator
        GET  /settings                      Viewer
        GET  /settings/health               Viewer
        POST /settings/mqtt                 Admin
        POST /settings/admin/reboot         Admin
        GET  /api/status                    Viewer
        GET  /api/nodes                     Viewer
        GET  /api/node/!00000001            Viewer
        GET  /api/packets                   Viewer
        GET  /api/messages                  Viewer
        POST /api/traceroute                Operator
        GET  /api/traceroute/results        Viewer
        POST /api/traceroute/cancel         Operator
        POST /api/sweep                     Operator
        GET  /api/sweep/status              Viewer
        POST /api/sweep/stop                Operator
        GET  /api/autoresponder             Viewer
        POST /api/autoresponder             Operator
        GET  /api/beacon                    Viewer
        POST /api/beacon                    Operator
        POST /api/beacon/start              Operator
        POST /api/beacon/stop               Operator
        POST /api/beacon/test               Operator
        GET  /api/message-filter            Viewer
        POST /api/message-filter            Operator
        GET  /api/device/config             Viewer
        HEAD /api/device/mqtt/config        Admin
        GET  /api/device/reboot             Admin
        POST /api/device/shutdown           Admin
        POST /api/device/factory-reset      Admin
        POST /api/reset-nodedb              Admin
        GET  /api/mqtt/health               Viewer
        GET  /api/store-forward/status      Viewer
        GET  /no/such/page                  Viewer
        POST /no/such/page                  Operator
    ";

    #[tokio::test]
    async fn every_route_keeps_the_role_it_had() {
        check(ROLES).await;
    }
}
