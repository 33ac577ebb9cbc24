//! Telling a live radio from a hung one. A radio whose TCP connection stays open but that
//! says nothing (hung firmware, a Wi-Fi stall) would otherwise show "connected" for as long
//! as the stale threshold. Firmware answers a heartbeat with its queue status since 2.7.4,
//! so a heartbeat is a real probe: a link quiet for `quiet` sends one, and no answer within
//! `answer_within` means the link is dead. Older firmware does not answer; its link is only
//! probed once a heartbeat has been answered (and kept from the firmware's 15-minute idle
//! cut-off by the same heartbeats).

use std::time::Instant;

use super::Actor;

/// What the liveness check asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Check {
    Fine,
    /// The link is quiet: send a heartbeat.
    Probe,
    /// The radio did not answer a heartbeat: the link is dead, for this reason.
    Dead(String),
}

/// Heartbeats of one link.
#[derive(Debug)]
pub(super) struct Heartbeats {
    /// When the heartbeat still waiting for an answer left.
    pending: Option<Instant>,
    /// When the last heartbeat left.
    last: Instant,
    /// The radio has answered a heartbeat: its silence after one means something.
    answered: bool,
}

impl Heartbeats {
    pub(super) fn new() -> Heartbeats {
        Heartbeats {
            pending: None,
            last: Instant::now(),
            answered: false,
        }
    }

    /// A fresh connection: nothing pending, the quiet clock starts again, and the radio
    /// (perhaps flashed with other firmware meanwhile) has answered nothing yet.
    pub(super) fn restart(&mut self) {
        *self = Heartbeats::new();
    }

    /// A queue status with no packet id came: the answer to a heartbeat.
    pub(super) fn answered(&mut self) {
        if self.pending.take().is_some() {
            self.answered = true;
        }
    }

    pub(super) fn sent(&mut self) {
        let now = Instant::now();
        self.pending = Some(now);
        self.last = now;
    }
}

/// Whether firmware of this version answers heartbeats (2.7.4 and later).
pub(super) fn answers_heartbeats(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    v >= (2, 7, 4)
}

impl Actor {
    pub(super) fn check_liveness(&mut self) -> Check {
        let (last_rx, trusted) = {
            let st = self.read_state();
            let new_enough = st
                .metadata
                .as_ref()
                .is_some_and(|m| answers_heartbeats(&m.firmware_version));
            (st.last_rx, new_enough)
        };
        let l = &self.opts.liveness;
        let hb = &mut self.heartbeats;
        if let Some(sent) = hb.pending {
            if last_rx >= sent {
                // Traffic after the probe: alive.
                hb.pending = None;
            } else if sent.elapsed() > l.answer_within {
                hb.pending = None;
                if trusted || hb.answered {
                    return Check::Dead(format!(
                        "the radio stopped answering (no reply to a heartbeat within {} s)",
                        l.answer_within.as_secs_f32().round()
                    ));
                }
            }
        }
        if hb.pending.is_none() && last_rx.elapsed() >= l.quiet && hb.last.elapsed() >= l.quiet {
            return Check::Probe;
        }
        Check::Fine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_the_defaults_a_stalled_radio_is_noticed_within_a_minute() {
        let l = crate::radio::Liveness::default();
        // A heartbeat after 30 s of quiet, 15 s for its answer, checked every 0.5 s.
        assert_eq!((l.quiet.as_secs(), l.answer_within.as_secs()), (30, 15));
        let worst = l.quiet + l.answer_within + std::time::Duration::from_secs(1);
        assert!(worst < std::time::Duration::from_secs(60), "{worst:?}");
        assert_eq!(
            (l.taken_backoff.as_secs(), l.taken_backoff_max.as_secs()),
            (60, 900)
        );
    }

    #[test]
    fn firmware_answers_heartbeats_from_2_7_4() {
        assert!(answers_heartbeats("2.7.4.abcdef"));
        assert!(answers_heartbeats("2.8.0"));
        assert!(answers_heartbeats("3.0.0.x"));
        assert!(!answers_heartbeats("2.7.3.123"));
        assert!(!answers_heartbeats("2.6.11.sim"));
        assert!(!answers_heartbeats(""));
        assert!(!answers_heartbeats("garbage"));
    }
}
