//! One URL, the rendering its caller wants: scripts under `/api/` get JSON, HTMX gets a
//! fragment, a plain browser load gets a whole page. [`failures`] gives every
//! [`AppError`](crate::error::AppError) that rendering; [`done`] answers a finished action.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;

use super::{page, Ctx};
use crate::error::Failure;
use crate::views::components::{error_toast, info_toast};

/// Who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A script, under `/api/`.
    Api,
    /// HTMX, for a fragment (`HX-Request: true`).
    Htmx,
    /// A browser loading a page or posting a form.
    Page,
}

impl Kind {
    pub fn of<B>(req: &axum::http::Request<B>) -> Kind {
        if req.uri().path().starts_with("/api/") {
            Kind::Api
        } else if req.headers().get("hx-request").is_some_and(|v| v == "true") {
            Kind::Htmx
        } else {
            Kind::Page
        }
    }
}

/// Renders a failed request's [`Failure`] for its caller: the error's toast stays for HTMX,
/// `{"error": ...}` for the API, the session's page with the message for a browser.
pub async fn failures(req: Request, next: Next) -> Response {
    let kind = Kind::of(&req);
    let ctx = req.extensions().get::<Ctx>().cloned();
    let res = next.run(req).await;
    if needs_words(&res) {
        return in_words(kind, ctx.as_ref(), res).await;
    }
    if kind == Kind::Htmx {
        return res;
    }
    let Some(Failure(message)) = res.extensions().get::<Failure>().cloned() else {
        return res;
    };
    let (parts, _) = res.into_parts();
    let body = match kind {
        Kind::Api => Json(json!({ "error": message })).into_response(),
        _ => page::error(ctx.as_ref(), &message).into_response(),
    };
    let mut out = (parts.status, body).into_response();
    out.extensions_mut().extend(parts.extensions);
    out
}

/// An error the framework answered by itself (a wrong method, a form it could not read, an
/// unknown path): a bare status or a line of plain text, which HTMX would swap into the page
/// as nothing. Not our own errors (they carry a [`Failure`]), redirects to the login, JSON or
/// HTML answers.
fn needs_words(res: &Response) -> bool {
    let failed = res.status().is_client_error() || res.status().is_server_error();
    let typed = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
    failed
        && !typed
        && res.extensions().get::<Failure>().is_none()
        && !res.headers().contains_key("hx-redirect")
}

/// Says what went wrong in the caller's rendering: JSON, the toast, or a page.
async fn in_words(kind: Kind, ctx: Option<&Ctx>, res: Response) -> Response {
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text: String = String::from_utf8_lossy(&bytes)
        .trim()
        .chars()
        .take(300)
        .collect();
    let message = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_string()
    } else {
        text
    };
    let status = parts.status;
    let mut out = match kind {
        Kind::Api => (status, Json(json!({ "error": message }))).into_response(),
        Kind::Htmx => (
            status,
            [
                ("HX-Retarget", "#toast"),
                ("HX-Reswap", "innerHTML"),
                ("HX-Reselect", ".toast"),
            ],
            error_toast(&message),
        )
            .into_response(),
        Kind::Page => (status, page::error(ctx, &message)).into_response(),
    };
    out.extensions_mut().extend(parts.extensions);
    out
}

/// A notice for the toast area, wherever the part that asked would have swapped.
pub fn toast(message: &str) -> Response {
    (
        [("HX-Retarget", "#toast"), ("HX-Reswap", "innerHTML")],
        info_toast(message),
    )
        .into_response()
}

/// A finished action: HTMX gets the notice, a browser goes back to `page`.
pub fn done(ctx: &Ctx, message: &str, page: &'static str) -> Response {
    if ctx.htmx {
        toast(message)
    } else {
        Redirect::to(page).into_response()
    }
}

/// Where a browser goes after an action; HTMX is told to go there itself.
pub fn go(ctx: &Ctx, to: &'static str) -> Response {
    if ctx.htmx {
        ([("HX-Redirect", to)], StatusCode::OK).into_response()
    } else {
        Redirect::to(to).into_response()
    }
}
