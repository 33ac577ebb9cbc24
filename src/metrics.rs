//! The server's counters for `/metrics`, in one place: one [`Metrics`] per running app,
//! shared by its links (packets, queues, history) and its web layer (streams, connects).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    /// Packets received from all radios.
    pub packets_in: AtomicU64,
    /// Texts waiting in the send queues of all links.
    pub send_queue: AtomicI64,
    /// History changes not stored because the writer's queue was full.
    pub history_dropped: AtomicU64,
    /// Live streams open now.
    pub sse_clients: AtomicI64,
    /// Events a slow live stream missed.
    pub sse_lagged: AtomicU64,
    /// Bytes of live-stream events as written, and as sent (gzipped where accepted).
    pub sse_bytes_raw: AtomicU64,
    pub sse_bytes_sent: AtomicU64,
    /// Radio connects started.
    pub connects: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
