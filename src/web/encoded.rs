//! Bodies encoded once per change: a polled body that depends only on a radio's node DB (the
//! `/api/nodes` list per filter) is serialised and gzipped once per node DB generation and
//! served from here until the DB changes, with an `ETag` so a client that revalidates gets
//! `304 Not Modified` and no body at all.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// How old a body may be to be served while the next one is made: on a busy mesh the node
/// DB changes several times a second and the last body is fractions of a second old; after a
/// quiet spell the first request after a change waits for the fresh one.
const STALE_MOST: std::time::Duration = std::time::Duration::from_secs(1);

/// Radios whose bodies are kept; past it the table starts again (closed links leave theirs).
const RADIOS_KEPT: usize = 1024;

/// What a body was made from: the node DB's generation and my node's number (the distances
/// and my row depend on it).
pub type Generation = (u64, u32);

/// One encoded body: what it was made from, its validator, and both codings.
pub struct Body {
    generation: Generation,
    /// When it was made: a body made longer ago than [`STALE_MOST`] is not served stale.
    made_at: std::time::Instant,
    etag: HeaderValue,
    plain: Bytes,
    gzip: Bytes,
}

/// What a body is of: a radio (its address) and which body (`nodes:rf`, …).
type Key = (SocketAddr, &'static str);

/// One radio's body: the last one made (`None` before the first), and a lock held while the
/// next one is made. An async lock: a request that waits for the first body parks instead of
/// blocking a worker thread.
#[derive(Default)]
struct Slot {
    made: Mutex<Option<Arc<Body>>>,
    making: tokio::sync::Mutex<()>,
}

impl Slot {
    fn last(&self) -> Option<Arc<Body>> {
        self.made.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The cache: one slot per radio and body. One request makes a stale body again while the
/// others are served the last one made, if it was made within [`STALE_MOST`] (the node DB
/// changes with every packet, and queueing all of them behind each encoding was the tail of
/// the list's latency); otherwise, and before the first body, they wait for the new one.
pub struct Encoded {
    /// Tells this process's validators from an earlier one's (generations start again).
    boot: u64,
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
}

impl Default for Encoded {
    fn default() -> Self {
        Encoded {
            boot: rand::random(),
            slots: Mutex::default(),
        }
    }
}

impl Encoded {
    /// The body of `key` at `generation`, made by `make` (the plain bytes) when the kept one
    /// is of an earlier generation (or the last one made, if recent, while another request
    /// makes it);
    /// `None` when `make` could not make it (nothing is kept).
    pub async fn get(
        &self,
        key: Key,
        generation: Generation,
        make: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Option<Arc<Body>> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.len() >= RADIOS_KEPT && !slots.contains_key(&key) {
                slots.clear();
            }
            slots.entry(key).or_default().clone()
        };
        // A body of this generation, or of a later one (a request that read the generation
        // before another made the next body), is current.
        let current =
            |b: &Arc<Body>| b.generation.1 == generation.1 && b.generation.0 >= generation.0;
        let last = slot.last();
        if let Some(b) = last.as_ref().filter(|b| current(b)) {
            return Some(b.clone());
        }
        let _making = match slot.making.try_lock() {
            Ok(g) => g,
            Err(_) => match last.filter(|b| b.made_at.elapsed() < STALE_MOST) {
                Some(b) => return Some(b),
                None => slot.making.lock().await,
            },
        };
        if let Some(b) = slot.last().filter(current) {
            return Some(b);
        }
        let plain = make()?;
        let gzip = super::gzip::gzip(&plain, super::gzip::Effort::Thorough);
        let tag = format!(
            "\"{:x}-{:x}-{:x}-{}\"",
            self.boot, generation.0, generation.1, key.1
        );
        let made = Arc::new(Body {
            generation,
            made_at: std::time::Instant::now(),
            etag: HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\"")),
            plain: plain.into(),
            gzip: gzip.into(),
        });
        *slot.made.lock().unwrap_or_else(|e| e.into_inner()) = Some(made.clone());
        Some(made)
    }
}

impl Body {
    /// The response to a request with these headers: `304` when its `If-None-Match` names
    /// this body, else the body gzipped when accepted. Both codings share the validator,
    /// as a weak one may (they are the same JSON).
    pub fn respond(&self, headers: &HeaderMap, content_type: &'static str) -> Response {
        let etag = self.etag.to_str().unwrap_or("");
        let weak = format!("W/{etag}");
        let mut out = if matches(headers, &[etag, &weak]) {
            StatusCode::NOT_MODIFIED.into_response()
        } else if accepts_gzip(headers) {
            let mut r = self.gzip.clone().into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        } else {
            self.plain.clone().into_response()
        };
        let h = out.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        // Kept by the browser but asked again each time, with the validator.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Ok(v) = HeaderValue::from_str(&weak) {
            h.insert(header::ETAG, v);
        }
        out
    }
}

/// `bytes` gzipped by zlib's encoder at `level`: for what is made once (the static assets at
/// the best level). What is made per change goes through `gzip.rs`, whose tables are a tenth
/// of zlib's.
pub fn gzip_at(bytes: &[u8], level: flate2::Compression) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), level);
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Whether `If-None-Match` names one of `tags` (or is `*`).
pub fn matches(headers: &HeaderMap, tags: &[&str]) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || tags.contains(&t))
}

/// Whether the client takes gzip (named, or `*`, and not with `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    accepts(headers, "gzip")
}

/// Whether the client takes the content coding `coding`.
pub fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case(coding) || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[tokio::test]
    async fn a_body_is_made_once_per_generation() {
        let cache = Encoded::default();
        let key = ("127.0.0.1:4403".parse().unwrap(), "nodes:all");
        let mut made = 0;
        let a = cache
            .get(key, (7, 1), || {
                made += 1;
                Some(b"[1]".to_vec())
            })
            .await
            .unwrap();
        let b = cache
            .get(key, (7, 1), || {
                made += 1;
                Some(b"[2]".to_vec())
            })
            .await
            .unwrap();
        assert_eq!(made, 1);
        assert_eq!(a.plain, b.plain);
        let c = cache
            .get(key, (8, 1), || Some(b"[3]".to_vec()))
            .await
            .unwrap();
        assert!(cache.get(key, (9, 1), || None).await.is_none());
        assert_eq!(&c.plain[..], b"[3]");
        assert_ne!(a.etag, c.etag);
    }

    type Made = tokio::task::JoinHandle<Option<Arc<Body>>>;

    /// A request making the body of generation 2 (`[2]`), once it has begun: it finishes
    /// when told to.
    async fn making(cache: &Arc<Encoded>, key: Key) -> (Made, std::sync::mpsc::Sender<()>) {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let maker = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get(key, (2, 1), move || {
                        let _ = started_tx.send(());
                        let _ = go_rx.recv();
                        Some(b"[2]".to_vec())
                    })
                    .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .unwrap()
            .unwrap();
        (maker, go_tx)
    }

    /// While one request makes the next body, the others get the last one at once; before
    /// the first body they wait for it instead.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn while_a_body_is_made_the_others_get_the_last_one() {
        let cache = Arc::new(Encoded::default());
        let key = ("127.0.0.1:4403".parse().unwrap(), "nodes:all");
        cache.get(key, (1, 1), || Some(b"[1]".to_vec())).await;
        let (maker, go) = making(&cache, key).await;
        let meanwhile = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            cache.get(key, (2, 1), || panic!("made twice at once")),
        )
        .await
        .expect("served while the next body is made, not queued behind it")
        .unwrap();
        assert_eq!(&meanwhile.plain[..], b"[1]");
        go.send(()).unwrap();
        let made = maker.await.unwrap().unwrap();
        assert_eq!(&made.plain[..], b"[2]");
        let after = cache.get(key, (2, 1), || None).await.unwrap();
        assert_eq!(&after.plain[..], b"[2]");
    }

    /// After a quiet spell the last body is too old to serve: the others wait for the new
    /// one. A request that read an earlier generation gets the later body as it is.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_old_body_is_not_served_stale_and_a_later_one_is_current() {
        let cache = Arc::new(Encoded::default());
        let key = ("127.0.0.1:4403".parse().unwrap(), "nodes:all");
        cache.get(key, (1, 1), || Some(b"[1]".to_vec())).await;
        tokio::time::sleep(STALE_MOST + std::time::Duration::from_millis(100)).await;
        let (maker, go) = making(&cache, key).await;
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(key, (2, 1), || None).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!waiter.is_finished(), "an old body was served stale");
        go.send(()).unwrap();
        assert_eq!(&maker.await.unwrap().unwrap().plain[..], b"[2]");
        assert_eq!(&waiter.await.unwrap().unwrap().plain[..], b"[2]");
        let behind = cache
            .get(key, (1, 1), || panic!("a later body is current"))
            .await
            .unwrap();
        assert_eq!(&behind.plain[..], b"[2]");
    }

    #[tokio::test]
    async fn revalidation_and_codings() {
        let cache = Encoded::default();
        let key = ("127.0.0.1:4403".parse().unwrap(), "nodes:all");
        let body = cache
            .get(key, (1, 1), || Some(vec![b'x'; 1000]))
            .await
            .unwrap();
        let first = body.respond(&headers(&[("accept-encoding", "gzip, br")]), "a/b");
        assert_eq!(first.headers()["content-encoding"], "gzip");
        let tag = first.headers()["etag"].to_str().unwrap().to_string();
        assert!(tag.starts_with("W/\""), "{tag}");
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&tag).unwrap());
        assert_eq!(body.respond(&h, "a/b").status(), StatusCode::NOT_MODIFIED);
        let plain = body.respond(&headers(&[("accept-encoding", "gzip;q=0")]), "a/b");
        assert!(plain.headers().get("content-encoding").is_none());
        let other = cache
            .get(key, (1, 2), || Some(vec![b'y'; 10]))
            .await
            .unwrap();
        assert_eq!(other.respond(&h, "a/b").status(), StatusCode::OK);
    }

    #[test]
    fn codings_are_read_as_browsers_send_them() {
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "gzip, deflate, br, zstd"
        )])));
        assert!(accepts(
            &headers(&[("accept-encoding", "gzip, deflate")]),
            "deflate"
        ));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "identity")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "GZIP;q=0")])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
