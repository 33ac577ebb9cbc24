//! Which packets a packet log's live stream still owes its tab. A tab that falls behind
//! loses events (the link's broadcast keeps the last few), but the link's log numbers its
//! packets without gaps: the next announcement shows what was missed, and the stream sends
//! it from the log, oldest first, as far back as the page shows.

use crate::views::packets::PAGE_ROWS;

/// The packets a stream owes: what it missed and the one announced after.
#[derive(Debug, Default)]
pub(super) struct Follow {
    /// The number after the last packet announced.
    next: Option<u64>,
    owed: std::ops::Range<u64>,
}

impl Follow {
    /// Packet `seq` was announced, the log holding the last `kept` packets. True when
    /// earlier ones were missed: the newest of them the page would show, and this one, are
    /// owed ([`Follow::take`]; the stream takes them all before it listens again).
    pub(super) fn announced(&mut self, seq: u64, kept: impl FnOnce() -> usize) -> bool {
        let missed = self.next.filter(|n| *n < seq);
        self.next = Some(self.next.map_or(seq + 1, |n| n.max(seq + 1)));
        let Some(from) = missed else {
            return false;
        };
        let reach = kept().min(PAGE_ROWS) as u64;
        self.owed = from.max((seq + 1).saturating_sub(reach))..seq + 1;
        true
    }

    /// The next packet owed, oldest first.
    pub(super) fn take(&mut self) -> Option<u64> {
        self.owed.next()
    }
}

#[cfg(test)]
mod tests {
    use super::Follow;

    fn drain(f: &mut Follow) -> Vec<u64> {
        std::iter::from_fn(|| f.take()).collect()
    }

    #[test]
    fn a_stream_that_fell_behind_is_owed_what_the_page_shows_in_order() {
        let mut f = Follow::default();
        // The first announcement starts the stream: nothing before it is owed.
        assert!(!f.announced(40, || 500));
        assert!(!f.announced(41, || 500));
        assert_eq!(drain(&mut f), Vec::<u64>::new());
        // 42..=44 were lost: they are owed, then 45 itself.
        assert!(f.announced(45, || 500));
        assert_eq!(drain(&mut f), vec![42, 43, 44, 45]);
        assert!(!f.announced(46, || 500));
        // Further behind than the log reaches: only what it still holds.
        assert!(f.announced(1_000, || 3));
        assert_eq!(drain(&mut f), vec![998, 999, 1_000]);
        // Further behind than the page shows: its newest hundred rows.
        assert!(f.announced(2_000, || 500));
        assert_eq!(drain(&mut f), (1_901..=2_000).collect::<Vec<u64>>());
        // A repeat or an older number owes nothing and does not move the stream back.
        assert!(!f.announced(1_990, || 500));
        assert!(f.announced(2_002, || 500));
        assert_eq!(drain(&mut f), vec![2_001, 2_002]);
    }
}
