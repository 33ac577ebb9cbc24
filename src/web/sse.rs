//! Server-Sent Events written by hand, so a live stream can be gzipped: a browser that
//! accepts gzip gets each event compressed against the ones before it and flushed at once
//! (`deflate.rs`); one that does not gets the events as they are.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use futures_util::stream::{self, Stream, StreamExt};

use super::deflate::Gzip;
use super::encoded::accepts_gzip;
use crate::metrics::Metrics;

/// One event: its name and its data (any text; lines are split as the format wants).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Event {
    name: String,
    data: String,
}

impl Event {
    pub fn event(mut self, name: impl Into<String>) -> Event {
        self.name = name.into();
        self
    }

    pub fn data(mut self, data: impl Into<String>) -> Event {
        self.data = data.into();
        self
    }

    /// The event in the wire format: `event:` (names are ours, one line), a `data:` line per
    /// line of the data (CR, LF and CRLF all end a line there), a blank line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if !self.name.is_empty() {
            out.extend_from_slice(b"event: ");
            out.extend(self.name.bytes().filter(|b| *b != b'\n' && *b != b'\r'));
            out.push(b'\n');
        }
        let data = self.data.replace("\r\n", "\n").replace('\r', "\n");
        for line in data.split('\n') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
    }
}

/// The response of a live stream of `events`, gzipped when the request accepts it.
pub fn response(
    headers: &HeaderMap,
    metrics: Arc<Metrics>,
    events: impl Stream<Item = Event> + Send + 'static,
) -> Response {
    let gzip = accepts_gzip(headers);
    let coder = gzip.then(Gzip::default);
    let m = metrics.clone();
    let body =
        events
            .map(Some)
            .chain(stream::once(async { None }))
            .scan(coder, move |coder, event| {
                let out = match (event, coder.as_mut()) {
                    (Some(e), c) => {
                        let mut raw = Vec::with_capacity(e.data.len() + 32);
                        e.encode(&mut raw);
                        Metrics::add(&m.sse_bytes_raw, raw.len() as u64);
                        match c {
                            Some(g) => g.event(&raw),
                            None => raw,
                        }
                    }
                    // The stream ended on our side: close the gzip member properly.
                    (None, Some(g)) => g.finish(),
                    (None, None) => Vec::new(),
                };
                Metrics::add(&m.sse_bytes_sent, out.len() as u64);
                std::future::ready(Some(Ok::<_, Infallible>(Bytes::from(out))))
            });
    let mut r = Response::new(Body::from_stream(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // A proxy in front (nginx) passes each event on at once.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_the_data_are_data_lines() {
        let mut out = Vec::new();
        Event::default()
            .event("msg")
            .data("a\nb\r\nc\rd")
            .encode(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "event: msg\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        );
    }
}
