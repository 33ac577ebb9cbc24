//! `eventually`: poll an async check until it is done or a timeout passes, instead of
//! sleeping a fixed time or spinning a loop of our own in each test.

use std::fmt::Display;
use std::time::Duration;

use tokio::time::Instant;

/// How often `eventually` looks again.
const EVERY: Duration = Duration::from_millis(50);

/// What a check gives: `true`, `Some(value)` or `Ok(value)` when done; `false`, `None` or
/// `Err(why)` when not yet (the last `why` goes into the timeout's message).
pub trait Poll {
    type Value;
    fn ready(self) -> Result<Self::Value, String>;
}

impl Poll for bool {
    type Value = ();
    fn ready(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err(String::new())
        }
    }
}

impl<T> Poll for Option<T> {
    type Value = T;
    fn ready(self) -> Result<T, String> {
        self.ok_or_else(String::new)
    }
}

impl<T, E: Display> Poll for Result<T, E> {
    type Value = T;
    fn ready(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Runs `check` every 50 ms until it is done, and gives its value; panics with `what` (and
/// the check's last word) when `timeout` passes first. The check always runs at least once.
pub async fn eventually<P: Poll>(
    timeout: Duration,
    what: &str,
    check: impl AsyncFnMut() -> P,
) -> P::Value {
    match poll(timeout, check).await {
        Ok(v) => v,
        Err(why) if why.is_empty() => panic!("timed out waiting for: {what}"),
        Err(why) => panic!("timed out waiting for: {what}: {why}"),
    }
}

/// As [`eventually`], but `None` when `timeout` passes first, for a test to say so itself.
pub async fn within<P: Poll>(timeout: Duration, check: impl AsyncFnMut() -> P) -> Option<P::Value> {
    poll(timeout, check).await.ok()
}

async fn poll<P: Poll>(
    timeout: Duration,
    mut check: impl AsyncFnMut() -> P,
) -> Result<P::Value, String> {
    let end = Instant::now() + timeout;
    loop {
        let why = match check().await.ready() {
            Ok(v) => return Ok(v),
            Err(why) => why,
        };
        if Instant::now() >= end {
            return Err(why);
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// `Duration::from_secs`, short.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `Duration::from_millis`, short.
pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}
