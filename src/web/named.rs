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

fn clean(name: &str) -> Option<String> {
    let n = name.trim();
    (!n.is_empty()).then(|| n.to_string())
}

/// The name a request gives, and its body (put back as it was when it had to be read).
pub async fn session_name(parts: &Parts, body: Body) -> Result<(Option<String>, Body), AppError> {
    if !takes_a_name(parts.uri.path()) {
        return Ok((None, body));
    }
    if let Some(q) = parts.uri.query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap_or_default();
        if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "session_name") {
            return Ok((clean(v), body));
        }
    }
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if parts.method != Method::POST || !json {
        return Ok((None, body));
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| AppError::BadRequest("the request body is too large".into()))?;
    let name = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.get("session_name")
                .and_then(|n| n.as_str())
                .and_then(clean)
        });
    Ok((name, Body::from(bytes)))
}
