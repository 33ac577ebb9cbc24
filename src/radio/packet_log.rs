//! The packet log of a link: the last packets heard or sent, each as a small fixed entry in a
//! ring with its summary (or, when shorter, the payload it is made from) in one buffer beside
//! it, numbered in the link's stream.

use std::collections::VecDeque;
use std::time::SystemTime;

use crate::proto::pb;
use crate::radio::packet::{payload_form, Kept, PacketEntry, PacketHead};

/// The packet log: the last `max` packets, each inline in a ring ([`Kept`], 32 bytes) and its
/// summary in one buffer with the others, end to end, oldest first; and how many there have
/// been. A summary longer than its payload (a position's or a telemetry's words) is kept as
/// the payload and made again when read. A full log of 500 packets of the simulated radio's
/// mix is about 29 KB (36 with every summary in words, 60 with a heap block per summary).
#[derive(Debug)]
pub struct PacketLog {
    kept: VecDeque<Kept>,
    /// The summaries (or payloads) of `kept`, in its order.
    text: VecDeque<u8>,
    max: usize,
    seen: u64,
}

impl PacketLog {
    pub fn new(max: usize) -> PacketLog {
        PacketLog {
            kept: VecDeque::new(),
            text: VecDeque::new(),
            max: max.max(1),
            seen: 0,
        }
    }

    /// Numbers the packet, keeps it (dropping the oldest when full) and returns what its
    /// event says of it.
    pub(super) fn record(
        &mut self,
        p: &pb::MeshPacket,
        now: SystemTime,
        outgoing: bool,
    ) -> PacketHead {
        self.seen += 1;
        let entry = PacketEntry::new(p, now, outgoing);
        let head = entry.head(self.seen);
        if self.kept.len() >= self.max {
            if let Some(old) = self.kept.pop_front() {
                self.text.drain(..old.stored_len().min(self.text.len()));
            }
        }
        let mut kept = entry.kept();
        let summary = &entry.summary().as_bytes()[..kept.stored_len()];
        // The summary, or what it is made from when that is shorter.
        let form = payload_form(p)
            .filter(|(id, payload)| id.map_or(0, |i| i.len()) + payload.len() < summary.len());
        let (id, payload): (&[u8], &[u8]) = match &form {
            Some((id, payload)) => (id.as_ref().map_or(&[], |i| &i[..]), payload),
            None => (&[], summary),
        };
        let len = id.len() + payload.len();
        if form.is_some() {
            kept = kept.with_payload(len);
        }
        // Grown by a quarter at a time, not doubled: the buffer stays near its use.
        let spare = self.text.capacity() - self.text.len();
        if spare < len {
            self.text.reserve_exact(len.max(self.text.len() / 4));
        }
        self.text.extend(id);
        self.text.extend(payload);
        // Doubled up to `max` and no further: a full ring is exactly `max` long.
        let len = self.kept.len();
        if len == self.kept.capacity() && len < self.max {
            self.kept.reserve_exact(len.max(8).min(self.max - len));
        }
        self.kept.push_back(kept);
        head
    }

    /// The packet numbered `seq`, while it is kept. Packets are numbered without gaps, so
    /// the newest is `seen` and the oldest kept is `seen - len + 1`.
    pub fn get(&self, seq: u64) -> Option<PacketEntry> {
        let oldest = (self.seen + 1).checked_sub(self.kept.len() as u64)?;
        let i = usize::try_from(seq.checked_sub(oldest)?).ok()?;
        let k = self.kept.get(i)?;
        // Where its summary starts, counted from the nearer end.
        let at = if i < self.kept.len() / 2 {
            self.kept.range(..i).map(Kept::stored_len).sum()
        } else {
            let after: usize = self.kept.range(i..).map(Kept::stored_len).sum();
            self.text.len().checked_sub(after)?
        };
        Some(self.entry(k, at))
    }

    fn entry(&self, k: &Kept, at: usize) -> PacketEntry {
        let end = (at + k.stored_len()).min(self.text.len());
        let bytes: Vec<u8> = self.text.range(at.min(end)..end).copied().collect();
        PacketEntry::from_kept(k, bytes)
    }

    /// Oldest first; [`Logged::entry`] makes an entry of one.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            log: self,
            front: 0,
            back: self.kept.len(),
            front_at: 0,
            back_at: self.text.len(),
        }
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Packets recorded since the link started, kept or not.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

/// A packet in the log, as [`PacketLog::iter`] walks it.
pub struct Logged<'a> {
    log: &'a PacketLog,
    kept: &'a Kept,
    at: usize,
}

impl std::ops::Deref for Logged<'_> {
    type Target = Kept;

    fn deref(&self) -> &Kept {
        self.kept
    }
}

impl Logged<'_> {
    /// The whole entry, its summary copied out.
    pub fn entry(&self) -> PacketEntry {
        self.log.entry(self.kept, self.at)
    }
}

/// Walks a [`PacketLog`] from either end, keeping where each end's summaries start.
pub struct Iter<'a> {
    log: &'a PacketLog,
    /// The next index from the front, and one past the next from the back.
    front: usize,
    back: usize,
    /// Where the front's summary starts, and where the back's ends.
    front_at: usize,
    back_at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Logged<'a>;

    fn next(&mut self) -> Option<Logged<'a>> {
        if self.front >= self.back {
            return None;
        }
        let kept = self.log.kept.get(self.front)?;
        let at = self.front_at;
        self.front += 1;
        self.front_at += kept.stored_len();
        Some(Logged {
            log: self.log,
            kept,
            at,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let kept = self.log.kept.get(self.back - 1)?;
        self.back -= 1;
        self.back_at = self.back_at.saturating_sub(kept.stored_len());
        Some(Logged {
            log: self.log,
            kept,
            at: self.back_at,
        })
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
#[path = "packet_log_tests.rs"]
mod tests;
