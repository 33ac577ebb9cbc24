//! What the load and soak tools share: the `/proc` readers that measure the server
//! (`proc`), the live-stream client (`sse`) and the `/metrics` reader. Examples cannot
//! depend on each other, so each pulls this folder in with
//! `#[path = "support/mod.rs"] mod support;`. Each tool uses only part of it, hence the
//! allowance for the rest.
#![allow(dead_code)]

pub mod proc;
pub mod sse;

/// The value of the Prometheus sample `name` (without labels) in a `/metrics` text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
