//! Getting a lost radio back, and how long to wait first. A link that broke (a read or write
//! error, a reset, a radio that stopped answering, a reboot) is tried again at once and then
//! with a backoff from 1 s to 30 s. A link the radio closed on purpose while it was healthy
//! was most likely taken by another client (firmware serves one and closes the previous one
//! when another connects): taking it straight back would kick that app off in a loop, so the
//! link waits 60 s, doubling each time the radio is taken again, up to 15 min. The user's
//! "Reconnect now" ends any wait and forgets the backoff.

use std::time::{Duration, SystemTime};

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{conn, Actor, FAR};
use crate::proto::{pb, FrameDecoder};
use crate::radio::handle::Command;
use crate::radio::state::LinkStatus;

/// Longest wait between two reconnect attempts of a broken link.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// What the status bar says while the radio serves another client.
pub(super) const TAKEN: &str =
    "the radio closed the link while it was healthy: another app may be using the radio";

/// How long to wait before the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wait {
    /// A broken link: try again soon.
    Soon,
    /// The radio was taken by another client: wait this long.
    Taken(Duration),
}

impl Actor {
    /// The wait after the radio closed a healthy link: the first after `taken_backoff`, each
    /// further one twice the last, up to `taken_backoff_max`. A link that stayed up longer
    /// than the longest wait starts again from the first.
    pub(super) fn taken_wait(&mut self) -> Wait {
        let l = &self.opts.liveness;
        if self.connected_at.elapsed() > l.taken_backoff_max {
            self.taken_streak = 0;
        }
        let doublings = self.taken_streak.min(16);
        self.taken_streak = self.taken_streak.saturating_add(1);
        let wait = l
            .taken_backoff
            .saturating_mul(1u32 << doublings)
            .min(l.taken_backoff_max);
        Wait::Taken(wait)
    }

    fn announce(&self, attempt: u32, error: &str, wait: Duration) {
        self.set_status(LinkStatus::Reconnecting {
            attempt,
            error: error.to_string(),
            retry_at: SystemTime::now() + wait,
        });
    }

    /// Reconnects with backoff until it works or the link is closed.
    pub(super) async fn reconnect(
        &mut self,
        mut error: String,
        first: Wait,
    ) -> Option<(TcpStream, FrameDecoder)> {
        let mut backoff = match first {
            Wait::Soon => Duration::from_secs(1),
            Wait::Taken(d) => d,
        };
        let mut attempt = 0;
        // While a rebooting radio is away, say so rather than "connection refused".
        let rebooting = error == super::REBOOTING;
        loop {
            attempt += 1;
            self.announce(attempt, &error, backoff);
            if !self.wait(backoff, &error).await? {
                // "Reconnect now": no more backing off from another client.
                self.taken_streak = 0;
                backoff = Duration::from_secs(1);
            }
            let opened = tokio::select! {
                r = conn::open(self.addr, &self.opts, conn::Want::ConfigOnly) => r,
                changed = self.shutdown.changed() => {
                    let reason = self.closed_reason(changed).unwrap_or_else(|| "closed".into());
                    self.set_status(LinkStatus::Closed { reason });
                    return None;
                }
            };
            match opened {
                Ok((mut stream, decoder, fresh)) => {
                    // The nodes already known stay on the page; the radio's node DB follows
                    // in the background and refreshes them.
                    self.write_state().refresh_config(fresh);
                    let nodes = pb::to_radio::PayloadVariant::WantConfigId(conn::NODES_ONLY);
                    if let Err(e) = conn::write(&mut stream, nodes).await {
                        error = format!("write failed: {e}");
                        backoff = next(backoff);
                        continue;
                    }
                    tracing::info!(radio = %self.addr, attempt, "radio link re-established");
                    self.connected_at = Instant::now();
                    self.set_status(LinkStatus::Connected);
                    return Some((stream, decoder));
                }
                Err(e) => {
                    error = if rebooting && attempt < 6 {
                        super::REBOOTING.to_string()
                    } else {
                        e.to_string()
                    };
                    backoff = next(backoff);
                }
            }
        }
    }

    /// Waits `d` while refusing commands and watching for a close. `Some(true)` when the
    /// wait ran out, `Some(false)` when the user asked to reconnect now, `None` when the link
    /// was closed.
    async fn wait(&mut self, d: Duration, error: &str) -> Option<bool> {
        let wake = Instant::now() + d;
        loop {
            let beacon_at = self.beacon_due_at();
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => return Some(true),
                changed = self.shutdown.changed() => {
                    if let Some(reason) = self.closed_reason(changed) {
                        self.set_status(LinkStatus::Closed { reason });
                        return None;
                    }
                }
                _ = tokio::time::sleep_until(beacon_at.unwrap_or(wake + FAR)), if beacon_at.is_some() => {
                    self.skip_beacon(error);
                }
                _ = self.automation.1.notified() => {}
                cmd = self.cmd_rx.recv() => match cmd {
                    Some(Command::CancelTrace { dest, reply }) => { let _ = reply.send(self.cancel_trace(dest)); }
                    Some(Command::ReconnectNow { reply }) => {
                        let _ = reply.send(true);
                        return Some(false);
                    }
                    Some(other) => other.refuse(error),
                    None => return None,
                },
            }
        }
    }
}

/// The wait after a failed attempt: twice the last, up to 30 s (a longer first wait, after
/// the radio was taken, stays as it is).
fn next(backoff: Duration) -> Duration {
    (backoff * 2).min(MAX_BACKOFF.max(backoff))
}

#[cfg(test)]
#[test]
fn a_broken_link_backs_off_to_thirty_seconds_and_a_long_wait_stays() {
    let waits = std::iter::successors(Some(Duration::from_secs(1)), |b| Some(next(*b)));
    let secs: Vec<u64> = waits.take(7).map(|d| d.as_secs()).collect();
    assert_eq!(secs, vec![1, 2, 4, 8, 16, 30, 30]);
    assert_eq!(next(Duration::from_secs(60)), Duration::from_secs(60));
}
