//! Login throttling and password checks off the async workers.
//!
//! Every attempt is counted before its password is checked, under one lock: a key (a name
//! from one address) gets [`MAX_FAILURES`] checks in [`WINDOW`], however many arrive at
//! once. A name tried from many addresses is slowed rather than locked (so nobody can lock a
//! real user out for good): past [`NAME_SOFT`] failures its attempts go one at a time, each
//! after [`NAME_DELAY`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures (and checks under way) of one name from one address before it is locked.
pub const MAX_FAILURES: usize = 5;
/// Failures of one name from any address before its attempts are slowed.
pub const NAME_SOFT: usize = 10;
pub const NAME_DELAY: Duration = Duration::from_secs(2);
/// Keys remembered at the most: past it, those without a recent failure go, then (a flood
/// of names) the rest but the ones in flight.
const KEYS_MAX: usize = 10_000;
/// Attempts of a slowed name that may wait their turn; more are told to come back.
const NAME_QUEUE: usize = 4;

#[derive(Default)]
struct Counts {
    failures: Vec<Instant>,
    in_flight: usize,
}

impl Counts {
    fn recent(&mut self) -> usize {
        self.failures.retain(|t| t.elapsed() < WINDOW);
        self.failures.len()
    }
}

#[derive(Default)]
struct Book {
    /// Per name and address.
    keys: HashMap<String, Counts>,
    /// Per name, across addresses.
    names: HashMap<String, Counts>,
}

/// Failed logins, counted per name and address and per name.
#[derive(Default, Clone)]
pub struct Throttle {
    book: Arc<Mutex<Book>>,
    /// One check at a time for a name that is being sprayed.
    slow: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// One login attempt let through: say how it ended ([`Attempt::failed`] or
/// [`Attempt::succeeded`]); dropped unsaid, it counts as nothing.
pub struct Attempt {
    throttle: Throttle,
    key: String,
    name: String,
    /// Held while a sprayed name's attempt is checked.
    turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// The throttle's keys: the name with the client's address (an IPv6 client by its /64, the
/// part one host is given), and the name alone.
fn key_of(name: &str, peer: std::net::IpAddr) -> (String, String) {
    let name = name.to_lowercase();
    let from = match peer {
        std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        other => other.to_string(),
    };
    (format!("{name}@{from}"), name)
}

impl Throttle {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets an attempt of `name` from `peer` through, or says how many seconds to wait.
    pub async fn attempt(&self, name: &str, peer: std::net::IpAddr) -> Result<Attempt, u64> {
        let (key, name) = key_of(name, peer);
        let sprayed = {
            let mut book = self.book();
            if book.keys.len() > KEYS_MAX || book.names.len() > KEYS_MAX {
                book.keys.retain(|_, c| c.in_flight > 0 || c.recent() > 0);
                book.names.retain(|_, c| c.in_flight > 0 || c.recent() > 0);
                if book.keys.len() > KEYS_MAX || book.names.len() > KEYS_MAX {
                    book.keys.retain(|_, c| c.in_flight > 0);
                    book.names.retain(|_, c| c.in_flight > 0);
                }
            }
            let counts = book.keys.entry(key.clone()).or_default();
            if counts.recent() + counts.in_flight >= MAX_FAILURES {
                let wait = counts
                    .failures
                    .iter()
                    .map(|t| WINDOW.saturating_sub(t.elapsed()).as_secs())
                    .min()
                    .unwrap_or(1);
                return Err(wait.max(1));
            }
            counts.in_flight += 1;
            let by_name = book.names.entry(name.clone()).or_default();
            let sprayed = by_name.recent() + by_name.in_flight >= NAME_SOFT;
            if sprayed && by_name.in_flight >= NAME_QUEUE {
                if let Some(c) = book.keys.get_mut(&key) {
                    c.in_flight -= 1;
                }
                return Err(NAME_DELAY.as_secs().saturating_mul(NAME_QUEUE as u64));
            }
            by_name.in_flight += 1;
            sprayed
        };
        let mut attempt = Attempt {
            throttle: self.clone(),
            key,
            name,
            turn: None,
        };
        if sprayed {
            let turn = self
                .slow
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(attempt.name.clone())
                .or_default()
                .clone();
            attempt.turn = Some(turn.lock_owned().await);
            tokio::time::sleep(NAME_DELAY).await;
        }
        Ok(attempt)
    }
}

impl Attempt {
    pub fn failed(self) {
        let mut book = self.throttle.book();
        book.keys
            .entry(self.key.clone())
            .or_default()
            .failures
            .push(Instant::now());
        book.names
            .entry(self.name.clone())
            .or_default()
            .failures
            .push(Instant::now());
    }

    /// The key starts afresh (the name's count across addresses stays).
    pub fn succeeded(self) {
        self.throttle.book().keys.remove(&self.key);
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let mut book = self.throttle.book();
        if let Some(c) = book.keys.get_mut(&self.key) {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
        if let Some(c) = book.names.get_mut(&self.name) {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
        drop(book);
        if self.turn.is_some() {
            let mut slow = self.throttle.slow.lock().unwrap_or_else(|e| e.into_inner());
            // Forget the name's turn lock once nobody else waits on it.
            if slow
                .get(&self.name)
                .is_some_and(|m| Arc::strong_count(m) <= 2)
            {
                slow.remove(&self.name);
            }
        }
    }
}

/// Password checks on the blocking pool, a few at once: a flood of logins slows logins,
/// not every other request.
#[derive(Clone)]
pub struct Hasher(Arc<Semaphore>);

impl Default for Hasher {
    fn default() -> Self {
        Hasher(Arc::new(Semaphore::new(2)))
    }
}

impl Hasher {
    /// Checks `password` against `stored` (or the dummy hash, so timing does not tell).
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        let Ok(permit) = self.0.clone().acquire_owned().await else {
            return false;
        };
        // The permit goes with the check: a request given up on (the client left) still
        // holds its place until its hash is done.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            match stored {
                Some(h) => super::verify(&password, &h),
                None => {
                    super::verify(&password, super::dummy_hash());
                    false
                }
            }
        })
        .await
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn attempts_are_counted_before_they_are_checked() {
        let t = Throttle::default();
        let ip = "10.1.2.3".parse().unwrap();
        // Five at once get through; a sixth is refused while they are checked.
        let held: Vec<Attempt> =
            futures_util::future::join_all((0..MAX_FAILURES).map(|_| t.attempt("bob", ip)))
                .await
                .into_iter()
                .map(|a| a.unwrap())
                .collect();
        assert!(
            t.attempt("Bob", ip).await.is_err(),
            "the name is not case-sensitive"
        );
        for a in held {
            a.failed();
        }
        assert!(
            t.attempt("bob", ip).await.is_err(),
            "locked after five failures"
        );
        assert!(t.attempt("alice", ip).await.is_ok());
        // A success from another address clears only that key.
        let other = "10.9.9.9".parse().unwrap();
        t.attempt("bob", other).await.unwrap().succeeded();
        assert!(t.attempt("bob", ip).await.is_err());
    }

    #[tokio::test]
    async fn a_name_sprayed_from_many_addresses_is_slowed_not_locked() {
        let t = Throttle::default();
        for i in 0..NAME_SOFT {
            let ip = std::net::IpAddr::from([10, 0, 0, i as u8]);
            t.attempt("carol", ip).await.unwrap().failed();
        }
        let start = std::time::Instant::now();
        let fresh = "10.0.1.1".parse().unwrap();
        let a = t.attempt("carol", fresh).await.expect("slowed, not locked");
        assert!(start.elapsed() >= NAME_DELAY);
        a.succeeded();
        assert!(
            t.attempt("dave", fresh).await.is_ok(),
            "other names are not slowed"
        );
    }
}
