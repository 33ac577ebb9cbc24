//! Gzip for responses, for clients that accept it: a body of known size (a page, a fragment,
//! an API answer) is compressed whole (`gzip.rs`); a streamed one (a CSV export) a piece at a
//! time as it comes (`deflate.rs`). Bodies under 1 KiB go as they are (gzip saves a hundred
//! bytes of them), and so do images, live streams (which compress themselves), and anything
//! already encoded (the static assets, the cached node lists).

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::body::{Body, BodyDataStream, Bytes, HttpBody as _};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};

use super::deflate::Gzip;
use super::encoded::accepts_gzip;
use super::gzip::{gzip, Effort};

/// Smaller bodies are not worth compressing.
const SMALLEST: u64 = 1024;
/// A larger body of known size is compressed as it streams, not gathered first.
const LARGEST_WHOLE: u64 = 16 << 20;
/// A streamed body is compressed in pieces of at most this much: the stream encoder's
/// tables grow with the piece.
const PIECE: usize = 16 * 1024;

/// The middleware: the response gzipped when the request accepts it and it is worth it.
pub async fn gzip_responses(req: Request, next: Next) -> Response {
    let wanted = req.method() != Method::HEAD && accepts_gzip(req.headers());
    let res = next.run(req).await;
    if !wanted || !compressible(&res) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let size = body.size_hint().exact();
    if size.is_some_and(|n| n < SMALLEST) {
        return Response::from_parts(parts, body);
    }
    let body = match size {
        Some(n) if n <= LARGEST_WHOLE => match axum::body::to_bytes(body, n as usize).await {
            Ok(b) => Body::from(gzip(&b, Effort::Fast)),
            Err(e) => {
                tracing::warn!(error = %e, "a response body failed before it was compressed");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        },
        _ => Body::from_stream(Gzipped {
            body: body.into_data_stream(),
            coder: Gzip::default(),
            done: false,
        }),
    };
    let h = &mut parts.headers;
    h.remove(header::CONTENT_LENGTH);
    h.remove(header::ACCEPT_RANGES);
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    Response::from_parts(parts, body)
}

/// Whether gzip may apply to `res`: a status with a whole body, no coding yet, no range, and
/// a type that compresses (not an image, except SVG, and not a live stream).
fn compressible(res: &Response) -> bool {
    let s = res.status();
    if s.is_informational()
        || s == StatusCode::NO_CONTENT
        || s == StatusCode::NOT_MODIFIED
        || s == StatusCode::PARTIAL_CONTENT
    {
        return false;
    }
    let h = res.headers();
    if h.contains_key(header::CONTENT_ENCODING) || h.contains_key(header::CONTENT_RANGE) {
        return false;
    }
    let kind = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let image = kind.starts_with("image/") && !kind.starts_with("image/svg+xml");
    !(image || kind.starts_with("text/event-stream") || kind.starts_with("application/grpc"))
}

/// A streamed body, gzipped piece by piece; the member ends with the body.
struct Gzipped {
    body: BodyDataStream,
    coder: Gzip,
    done: bool,
}

impl Stream for Gzipped {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match ready!(this.body.poll_next_unpin(cx)) {
            Some(Ok(data)) => {
                let mut out = Vec::new();
                for piece in data.chunks(PIECE) {
                    out.extend(this.coder.event(piece));
                }
                Poll::Ready(Some(Ok(out.into())))
            }
            Some(Err(e)) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            None => {
                this.done = true;
                Poll::Ready(Some(Ok(this.coder.finish().into())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use std::io::Read;
    use tower::ServiceExt as _;

    fn app() -> Router {
        let page = "<tr><td>row</td></tr>\n".repeat(200);
        let small = "<p>small</p>";
        Router::new()
            .route(
                "/page",
                get(move || async move { axum::response::Html(page) }),
            )
            .route(
                "/small",
                get(move || async move { axum::response::Html(small) }),
            )
            .route(
                "/png",
                get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![7u8; 4096]) }),
            )
            .route(
                "/done",
                get(|| async {
                    (
                        [(header::CONTENT_ENCODING, "gzip")],
                        crate::web::gzip::gzip(&[b'z'; 4096], Effort::Fast),
                    )
                }),
            )
            .route(
                "/csv",
                get(|| async {
                    let rows = (0..3).map(|i| {
                        Ok::<_, std::convert::Infallible>(format!("{i},{}\n", "x".repeat(40_000)))
                    });
                    (
                        [(header::CONTENT_TYPE, "text/csv")],
                        Body::from_stream(futures_util::stream::iter(rows)),
                    )
                }),
            )
            .layer(axum::middleware::from_fn(gzip_responses))
    }

    async fn get_as(path: &str, accept: Option<&str>, method: Method) -> (Response, Vec<u8>) {
        let mut req = axum::http::Request::builder().uri(path).method(method);
        if let Some(a) = accept {
            req = req.header(header::ACCEPT_ENCODING, a);
        }
        let res = app()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap()
            .to_vec();
        (Response::from_parts(parts, Body::empty()), bytes)
    }

    fn gunzip(z: &[u8]) -> String {
        let mut s = String::new();
        flate2::read::GzDecoder::new(z)
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    fn coding(r: &Response) -> Option<&str> {
        r.headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn a_page_is_gzipped_only_for_clients_that_take_it() {
        let (r, z) = get_as("/page", Some("gzip, deflate, br"), Method::GET).await;
        assert_eq!(coding(&r), Some("gzip"));
        assert_eq!(r.headers()[header::VARY], "accept-encoding");
        // The router sets the length of what goes out, the gzipped body.
        assert_eq!(
            r.headers()[header::CONTENT_LENGTH],
            z.len().to_string().as_str()
        );
        assert_eq!(gunzip(&z), "<tr><td>row</td></tr>\n".repeat(200));
        assert!(z.len() < 200);
        let (r, plain) = get_as("/page", None, Method::GET).await;
        assert_eq!(coding(&r), None);
        assert_eq!(plain.len(), 22 * 200);
        let (r, _) = get_as("/page", Some("gzip;q=0, br"), Method::GET).await;
        assert_eq!(coding(&r), None);
        let (r, _) = get_as("/page", Some("gzip"), Method::HEAD).await;
        assert_eq!(coding(&r), None);
    }

    #[tokio::test]
    async fn small_bodies_images_and_encoded_ones_pass_as_they_are() {
        let (r, b) = get_as("/small", Some("gzip"), Method::GET).await;
        assert_eq!((coding(&r), &b[..]), (None, &b"<p>small</p>"[..]));
        let (r, b) = get_as("/png", Some("gzip"), Method::GET).await;
        assert_eq!((coding(&r), b.len()), (None, 4096));
        let (r, z) = get_as("/done", Some("gzip"), Method::GET).await;
        assert_eq!(coding(&r), Some("gzip"));
        assert_eq!(gunzip(&z), "z".repeat(4096), "gzipped once, not twice");
    }

    #[tokio::test]
    async fn a_streamed_body_is_gzipped_as_it_comes() {
        let (r, z) = get_as("/csv", Some("gzip"), Method::GET).await;
        assert_eq!(coding(&r), Some("gzip"));
        let want: String = (0..3)
            .map(|i| format!("{i},{}\n", "x".repeat(40_000)))
            .collect();
        assert_eq!(gunzip(&z), want);
        assert!(z.len() < 2_000, "{} bytes", z.len());
    }
}
