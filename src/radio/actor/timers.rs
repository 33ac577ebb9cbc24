//! The automation's timers, run by the actor itself: auto-responder replies wait a moment
//! before they join the text queue, and the beacon goes out every interval while it is on.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::Actor;
use crate::ids::Dest;
use crate::radio::automation::Reply;
use crate::radio::beacon;

/// How long the auto-responder waits before it answers.
const REPLY_DELAY: Duration = Duration::from_millis(1500);

impl Actor {
    pub(super) fn schedule_reply(&mut self, reply: Reply) {
        self.replies
            .push_back((Instant::now() + REPLY_DELAY, reply));
    }

    /// Queues the replies whose delay is over; they then keep the firmware's text interval.
    pub(super) fn send_due_replies(&mut self) {
        let now = Instant::now();
        while self.replies.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, r)) = self.replies.pop_front() {
                self.enqueue_text(r.to, r.channel, r.text);
            }
        }
    }

    /// The beacon's interval, in the link's minutes.
    fn beacon_every(&self, interval_minutes: u32) -> Duration {
        self.opts.beacon_minute * interval_minutes.max(5)
    }

    /// When the beacon goes next, if it is on (the first one an interval after it is on).
    pub(super) fn beacon_due_at(&self) -> Option<Instant> {
        let mut a = self.automation.lock();
        if !a.beacon.enabled {
            a.beacon_next = None;
            return None;
        }
        let every = self.beacon_every(a.beacon.interval_minutes);
        let next = *a
            .beacon_next
            .get_or_insert_with(|| SystemTime::now() + every);
        let wait = next
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        Some(Instant::now() + wait)
    }

    pub(super) fn send_beacon(&mut self) {
        let b = self.automation.lock().beacon.clone();
        let (text, channel) = beacon::compose(&self.read_state(), &b, SystemTime::now());
        self.enqueue_text(Dest::Broadcast, channel, text);
        let now = SystemTime::now();
        let mut a = self.automation.lock();
        a.beacon_last = Some(now);
        a.beacon_next = Some(now + self.beacon_every(b.interval_minutes));
    }

    /// A beacon due while the radio is away is skipped, not sent late.
    pub(super) fn skip_beacon(&mut self, why: &str) {
        tracing::info!(radio = %self.addr, error = %why, "beacon not sent");
        let mut a = self.automation.lock();
        let every = self.beacon_every(a.beacon.interval_minutes);
        a.beacon_next = Some(SystemTime::now() + every);
    }
}
