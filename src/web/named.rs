//! `session_name`: how the original's scripts and its newer page name a persistent session
//! (for us, a kept radio) on the JSON API: in the query of a GET, in the JSON body of a POST.
//! The routes that connect a session itself (`/api/connect`, `/api/disconnect`) and the
//! kept radios' own routes (`/api/sessions/…`) do not take it.

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{header, Method};

use crate::error::AppError;

/// A request body read to find the name is at most this large (the server's body limit).
const MAX_BODY: usize = 64 * 1024;

fn takes_a_name(path: &str) -> bool {
    path.starts_with("/api/")
        && !matches!(path, "/api/connect" | "/api/disconnect")
        && !path.starts_with("/api/sessions")
}

/// A usable name, or the error that says why it is not (a name given but unusable must not
/// quietly address the session's own radio instead).
fn clean(name: &str) -> Result<String, AppError> {
    let n = name.trim();
    if n.is_empty() {
        return Err(AppError::BadRequest("session_name is empty".into()));
    }
    Ok(n.to_string())
}

/// JSON as the body extractor takes it: `application/json` or `application/…+json`.
fn is_json(parts: &Parts) -> bool {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

/// The name a request gives, and its body (put back as it was when it had to be read).
pub async fn session_name(parts: &Parts, body: Body) -> Result<(Option<String>, Body), AppError> {
    if !takes_a_name(parts.uri.path()) {
        return Ok((None, body));
    }
    if let Some(q) = parts.uri.query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q)
            .map_err(|_| AppError::BadRequest("the query string cannot be read".into()))?;
        if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "session_name") {
            return Ok((Some(clean(v)?), body));
        }
    }
    if parts.method != Method::POST || !is_json(parts) {
        return Ok((None, body));
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| AppError::TooLarge(format!("a request body has at most {MAX_BODY} bytes")))?;
    // A body that is not JSON is left to the route, which says so.
    let name = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v) => match v.get("session_name") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(n)) => Some(clean(n)?),
            Some(_) => return Err(AppError::BadRequest("session_name must be a string".into())),
        },
        Err(_) => None,
    };
    Ok((name, Body::from(bytes)))
}
