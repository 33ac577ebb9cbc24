//! One error type for every handler. What it renders depends on who asked: JSON
//! `{"error": ...}` for `/api/`, a toast fragment for HTMX, a whole page for a plain browser
//! load. [`AppError`] itself answers with the toast and leaves a [`Failure`] on the response;
//! `web::respond` knows the request and turns it into the other two. A 5xx cause is logged
//! and never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Result with [`AppError`] as the default error.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request itself is wrong (bad field, out of range, ...).
    #[error("{0}")]
    BadRequest(String),
    /// There is no radio link in this session (the original's words and status).
    #[error("Not connected")]
    NotConnected,
    /// This session expired; the user has to reconnect.
    #[error("session expired, reconnect")]
    SessionExpired,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// The radio is held by another session.
    #[error("{0}")]
    Conflict(String),
    /// The radio did not answer or went away.
    #[error("{0}")]
    Radio(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    TooLarge(String),
    /// Too many of something at once (live streams): try again later.
    #[error("{0}")]
    TooMany(String),
    /// A bug or an environment failure: logged, shown as a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::ids::ParseIdError> for AppError {
    fn from(e: crate::ids::ParseIdError) -> AppError {
        AppError::BadRequest(e.to_string())
    }
}

impl From<crate::radio::LinkError> for AppError {
    fn from(e: crate::radio::LinkError) -> AppError {
        AppError::Radio(e.to_string())
    }
}

impl From<crate::radio::TraceError> for AppError {
    /// A probe the link refused is the request's fault; a dead link is the radio's.
    fn from(e: crate::radio::TraceError) -> AppError {
        match e {
            crate::radio::TraceError::Refused(r) => AppError::BadRequest(r.to_string()),
            crate::radio::TraceError::Link(l) => l.into(),
        }
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotConnected => StatusCode::BAD_REQUEST,
            AppError::SessionExpired => StatusCode::UNAUTHORIZED,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Radio(_) => StatusCode::BAD_GATEWAY,
            AppError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a user may see.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error (see the server log)".to_string()
            }
            other => other.to_string(),
        }
    }
}

/// The message of a failed request, left on its response for the renderer that knows
/// whether the request wanted JSON, a fragment or a page.
#[derive(Debug, Clone)]
pub struct Failure(pub String);

impl IntoResponse for AppError {
    /// A small error fragment. HTMX swaps it into the page's toast area (the `HX-Retarget`
    /// header) so an error never replaces the content the user was looking at.
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.public_message();
        let body = crate::views::components::error_toast(&message);
        let mut res = (
            status,
            [
                ("HX-Retarget", "#toast"),
                ("HX-Reswap", "innerHTML"),
                // A part that selects from its answer (`hx-select`) must still find the toast.
                ("HX-Reselect", ".toast"),
            ],
            body,
        )
            .into_response();
        res.extensions_mut().insert(Failure(message));
        res
    }
}
