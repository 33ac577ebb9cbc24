//! Figures: percentiles, units, the error tally and the latencies the browsing clients
//! collect.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A `/metrics` sample, 0 when it is missing.
pub fn metric(text: &str, name: &str) -> f64 {
    crate::support::metric(text, name).unwrap_or(0.0)
}

pub fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// p50 / p95 / p99.
pub fn ppp(v: &mut [f64]) -> String {
    format!(
        "{:.1} / {:.1} / {:.1}",
        pct(v, 0.5),
        pct(v, 0.95),
        pct(v, 0.99)
    )
}

pub fn mb(kb: Option<u64>) -> String {
    kb.map_or("n/a".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Errors, counted by kind, with the first few printed as they happen.
#[derive(Default)]
pub struct Errors {
    n: AtomicU64,
    pub kinds: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Errors {
    pub fn add(&self, kind: impl Into<String>) {
        let kind = kind.into();
        if self.n.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("error: {kind}");
        }
        *self.kinds.lock().unwrap().entry(kind).or_default() += 1;
    }

    pub fn count(&self) -> u64 {
        self.n.load(Ordering::Relaxed)
    }
}

/// What the browsing clients measured.
#[derive(Default)]
pub struct Lat {
    pub nodes: Vec<f64>,
    pub packets: Vec<f64>,
    pub status: Vec<f64>,
    /// Body bytes received per kind.
    pub bytes: [u64; 3],
    /// (seconds into the steady state, ms) of every request, for the slowest windows.
    pub when: Vec<(f64, f64)>,
}

impl Lat {
    pub fn extend(&mut self, l: Lat) {
        self.nodes.extend(l.nodes);
        self.when.extend(l.when);
        self.packets.extend(l.packets);
        self.status.extend(l.status);
        for k in 0..3 {
            self.bytes[k] += l.bytes[k];
        }
    }

    pub fn loads(&self) -> usize {
        self.nodes.len() + self.packets.len() + self.status.len()
    }
}
