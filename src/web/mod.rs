//! The HTTP surface: the router and the layers every request passes. Handlers live in
//! `pages/` (HTML) and `api/` (JSON), one file per area with its own router and access;
//! what both do is in `ops/`. Dependencies run one way: handlers → ops → radio, store,
//! session; `page`, `parts`, `respond` and `form` are shared by the handlers.

mod access;
mod api;
mod compress;
mod connect;
mod deflate;
mod encoded;
mod extract;
mod form;
mod gzip;
mod host;
mod huffman;
mod named;
mod ops;
mod page;
mod pages;
mod parts;
mod respond;
pub mod serve;
mod sse;
mod state;
mod streams;

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;
use tower_cookies::CookieManagerLayer;
use tower_http::set_header::SetResponseHeaderLayer;

pub use extract::Ctx;
pub use state::{link_options, AppState, Inner, Parts};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The policy with images allowed from one more origin too (the map's tile server).
pub(crate) fn csp_with_images_from(origin: &str) -> String {
    CSP.replacen(
        "img-src 'self' data:",
        &format!("img-src 'self' data: {origin}"),
        1,
    )
}

/// An unknown path: 404, behind the same login as the routes.
async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let unknown = Router::new()
        .fallback(not_found)
        .layer(from_fn(access::operate));
    Router::new()
        .merge(pages::router())
        .merge(api::router())
        .merge(unknown)
        .layer(from_fn(respond::failures))
        .layer(from_fn_with_state(state.clone(), access::session))
        .layer(from_fn(access::cross_site))
        .layer(CookieManagerLayer::new())
        // Another host name (DNS rebinding) is refused before any of the above runs.
        .layer(from_fn_with_state(state.clone(), host::check))
        // Pages, fragments and API answers of 1 KiB and more are gzipped for clients that
        // take it, by an encoder that needs a few dozen kilobytes per body where zlib's
        // sets up 300 KB (compress.rs, gzip.rs). Static assets come gzipped at the best
        // level already, cached node lists too, and live streams compress themselves.
        .layer(from_fn(compress::gzip_responses))
        // A response must start within 30 s (a connect waits at most the handshake timeout);
        // live streams start at once and are not cut.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .with_state(state)
}
