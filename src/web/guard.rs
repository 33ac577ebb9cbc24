//! Cross-site protection for state-changing requests: besides the SameSite=Lax cookie, a
//! request a browser marks as cross-site (`Sec-Fetch-Site`), or whose `Origin` is not this
//! server, is refused before any handler runs.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({"error": "cross-site request refused"})),
    )
        .into_response()
}

/// What a request needs: nothing (public), any user, an operator, or an admin.
fn needs(method: &Method, path: &str) -> Option<crate::auth::Role> {
    use crate::auth::Role;
    if path == "/login" || path == "/healthz" || path == "/metrics" || path.starts_with("/assets/")
    {
        return None;
    }
    let admin = path == "/api/device/reboot"
        || path == "/api/device/shutdown"
        || path == "/api/device/factory-reset"
        || path == "/api/reset-nodedb"
        || path.starts_with("/settings/admin/")
        || (*method != Method::GET
            && (path == "/api/device/mqtt/config" || path == "/settings/mqtt"));
    if admin {
        return Some(Role::Admin);
    }
    if matches!(*method, Method::GET | Method::HEAD) {
        return Some(Role::Viewer);
    }
    // Viewers may choose the radio they look at, save connections and log out; nothing else.
    let viewing = [
        "/connect",
        "/api/connect",
        "/disconnect",
        "/api/disconnect",
        "/logout",
        "/connections",
    ];
    if viewing.contains(&path) || path.starts_with("/connections/") {
        return Some(Role::Viewer);
    }
    Some(Role::Operator)
}

/// With users configured, every route but the public ones needs a logged-in user with the
/// role the route needs. Also resolves the session once for the handlers.
pub async fn authorize(State(state): State<super::AppState>, req: Request, next: Next) -> Response {
    use axum::extract::FromRequestParts;
    let (mut parts, body) = req.into_parts();
    let ctx = match super::Ctx::from_request_parts(&mut parts, &state).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let req = Request::from_parts(parts, body);
    if !state.login_required() {
        return next.run(req).await;
    }
    let Some(need) = needs(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let api = req.uri().path().starts_with("/api/");
    match ctx.user() {
        None if api => (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "login required"})),
        )
            .into_response(),
        None if ctx.htmx => (
            StatusCode::UNAUTHORIZED,
            [("HX-Redirect", "/login")],
            "login required",
        )
            .into_response(),
        None if *req.method() == Method::GET => {
            axum::response::Redirect::to("/login").into_response()
        }
        None => (StatusCode::UNAUTHORIZED, "login required").into_response(),
        Some(u) if u.role < need => {
            let msg = format!("your role ({}) cannot do this; it needs {need}", u.role);
            if api {
                (
                    StatusCode::FORBIDDEN,
                    axum::Json(serde_json::json!({"error": msg})),
                )
                    .into_response()
            } else {
                crate::error::AppError::Forbidden(msg).into_response()
            }
        }
        Some(_) => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    #[test]
    fn routes_need_the_right_role() {
        assert_eq!(needs(&Method::GET, "/healthz"), None);
        assert_eq!(needs(&Method::GET, "/nodes"), Some(Role::Viewer));
        assert_eq!(needs(&Method::POST, "/api/send"), Some(Role::Operator));
        assert_eq!(needs(&Method::POST, "/api/connect"), Some(Role::Viewer));
        assert_eq!(
            needs(&Method::POST, "/api/device/reboot"),
            Some(Role::Admin)
        );
        assert_eq!(
            needs(&Method::GET, "/api/device/mqtt/config"),
            Some(Role::Viewer)
        );
        assert_eq!(
            needs(&Method::POST, "/api/device/mqtt/config"),
            Some(Role::Admin)
        );
        assert_eq!(
            needs(&Method::POST, "/settings/admin/factory-reset"),
            Some(Role::Admin)
        );
    }
}
