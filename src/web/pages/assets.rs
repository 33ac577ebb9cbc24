//! The static assets (stylesheet, icon, vendored HTMX), built into the binary and gzipped
//! once at the best level on first use, so no request pays for compressing them again.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::web::encoded::{accepts_gzip, gzip_at, matches};
use crate::web::AppState;

/// Public: the login page needs its stylesheet.
pub fn router() -> Router<AppState> {
    Router::new().route("/assets/{*path}", get(serve))
}

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    gzip: OnceLock<Vec<u8>>,
    etag: OnceLock<(String, String)>,
}

macro_rules! asset {
    ($path:literal, $type:literal) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../../../assets/", $path)),
            gzip: OnceLock::new(),
            etag: OnceLock::new(),
        }
    };
}

static ASSETS: [Asset; 6] = [
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("coverage.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("notify.js", "text/javascript; charset=utf-8"),
    asset!("vendor/htmx-2.0.8.min.js", "text/javascript; charset=utf-8"),
    asset!(
        "vendor/htmx-ext-sse-2.2.4.js",
        "text/javascript; charset=utf-8"
    ),
];

impl Asset {
    fn gzip(&self) -> &[u8] {
        self.gzip
            .get_or_init(|| gzip_at(self.body, flate2::Compression::best()))
    }

    /// A validator from the content (FNV-1a), so a new build invalidates caches; the gzip
    /// coding has its own, as a strong validator must.
    fn etag(&self, gzip: bool) -> &str {
        let tags = self.etag.get_or_init(|| {
            let h = self.body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            });
            (format!("\"{h:016x}\""), format!("\"{h:016x}-gz\""))
        });
        if gzip {
            &tags.1
        } else {
            &tags.0
        }
    }
}

/// `GET /assets/{*path}`.
async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let gzip = accepts_gzip(&headers);
    let etag = asset.etag(gzip);
    let mut out = if matches(&headers, &[etag]) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        let mut r = asset.gzip().into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        asset.body.into_response()
    };
    let h = out.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trips_every_asset() {
        use std::io::Read;
        for a in &ASSETS {
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(a.gzip())
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, a.body, "{}", a.path);
            assert!(a.gzip().len() < a.body.len(), "{}", a.path);
        }
    }

    #[test]
    fn accept_encoding_is_parsed_like_a_server_should() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&m)
        };
        assert!(h("gzip, deflate, br"));
        assert!(h("br;q=1.0, GZIP;q=0.5"));
        assert!(h("*"));
        assert!(!h("gzip;q=0"));
        assert!(!h("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
