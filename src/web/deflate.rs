//! A small gzip encoder for live streams: each event is compressed against the last 4 KiB of
//! the stream and flushed to a byte boundary, so a browser decodes it as soon as it arrives,
//! and the markup a packet row repeats from the rows before it costs a few bits.
//!
//! Why not `flate2`'s encoder: its state is about 300 KB per stream (a 32 KiB window and its
//! hash tables, kept for the stream's life), more than a whole session may cost. Here a
//! stream keeps 4 KiB of history between events; the hash tables live only while one event
//! is compressed. The blocks use deflate's fixed Huffman codes (RFC 1951, 3.2.6): events are
//! a few hundred bytes, too short for their own code tables to pay.

/// How much of the stream a match may reach back into.
const WINDOW: usize = 4096;
/// Candidates looked at per position: enough for markup that repeats row after row.
const CHAIN: usize = 32;
const HASH_BITS: u32 = 12;
pub(super) const MIN_MATCH: usize = 3;
pub(super) const MAX_MATCH: usize = 258;
/// Deflate's longest distance.
pub(super) const MAX_DIST: usize = 32768;

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// A gzip member's header: magic, deflate, no flags, no time, no extra flags, unknown OS.
pub(super) const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Bits written least significant first, as deflate packs them.
#[derive(Default)]
pub(super) struct Bits {
    pub(super) out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    #[inline]
    pub(super) fn put(&mut self, value: u32, n: u32) {
        debug_assert!(n <= 32);
        self.acc |= u64::from(value) << self.n;
        self.n += n;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, which deflate stores most significant bit first.
    #[inline]
    pub(super) fn code(&mut self, code: u32, len: u32) {
        self.put(code.reverse_bits() >> (32 - len), len);
    }

    pub(super) fn align(&mut self) {
        if self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc = 0;
            self.n = 0;
        }
    }
}

/// The fixed code of a literal/length symbol (0..=287).
pub(super) fn symbol(bits: &mut Bits, s: u16) {
    let s = u32::from(s);
    match s {
        0..=143 => bits.code(0x30 + s, 8),
        144..=255 => bits.code(0x190 + s - 144, 9),
        256..=279 => bits.code(s - 256, 7),
        _ => bits.code(0xc0 + s - 280, 8),
    }
}

/// A match in the fixed codes: its length's symbol and extra bits, its distance's code and
/// extra bits.
pub(super) fn copy(bits: &mut Bits, len: usize, dist: usize) {
    let (l, lv, lb) = len_code(len);
    symbol(bits, 257 + l as u16);
    bits.put(lv, lb);
    let (d, dv, db) = dist_code(dist);
    bits.code(d as u32, 5);
    bits.put(dv, db);
}

/// The length symbol (less 257) of each length − 3.
const LEN_SYM: [u8; 256] = {
    let mut t = [0u8; 256];
    let (mut l, mut s) = (0, 0);
    while l < 256 {
        while s + 1 < LEN_BASE.len() && LEN_BASE[s + 1] as usize <= l + 3 {
            s += 1;
        }
        t[l] = s as u8;
        l += 1;
    }
    t
};

/// The distance code of each distance − 1 under 256, then of each (distance − 1) / 128
/// (zlib's table: above 256 every code covers whole multiples of 128).
const DIST_SYM: [u8; 512] = {
    let mut t = [0u8; 512];
    let mut i = 0;
    while i < 512 {
        let d = if i < 256 { i + 1 } else { ((i - 256) << 7) + 1 };
        let mut c = 0;
        while c + 1 < DIST_BASE.len() && DIST_BASE[c + 1] as usize <= d {
            c += 1;
        }
        t[i] = c as u8;
        i += 1;
    }
    t
};

/// A length's symbol index (257 + it), extra value and extra bits.
#[inline]
pub(super) fn len_code(len: usize) -> (usize, u32, u32) {
    let l = usize::from(LEN_SYM[(len - MIN_MATCH) & 0xff]);
    (
        l,
        (len - usize::from(LEN_BASE[l])) as u32,
        u32::from(LEN_EXTRA[l]),
    )
}

/// A distance's code, extra value and extra bits.
#[inline]
pub(super) fn dist_code(dist: usize) -> (usize, u32, u32) {
    let i = dist - 1;
    let d = usize::from(if i < 256 {
        DIST_SYM[i]
    } else {
        DIST_SYM[(256 + (i >> 7)) & 0x1ff]
    });
    (
        d,
        (dist - usize::from(DIST_BASE[d])) as u32,
        u32::from(DIST_EXTRA[d]),
    )
}

fn hash(b: &[u8]) -> usize {
    let v = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
    (v.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize
}

/// One gzip member written an event at a time.
pub struct Gzip {
    /// The last bytes of the stream: what the next event's matches may point into.
    history: Vec<u8>,
    crc: flate2::Crc,
    started: bool,
}

impl Default for Gzip {
    fn default() -> Self {
        Gzip {
            history: Vec::new(),
            crc: flate2::Crc::new(),
            started: false,
        }
    }
}

impl Gzip {
    /// `data` compressed: whole bytes that, after the ones before, decode to all of it.
    pub fn event(&mut self, data: &[u8]) -> Vec<u8> {
        let mut bits = Bits::default();
        if !self.started {
            self.started = true;
            bits.out.extend_from_slice(&GZIP_HEADER);
        }
        self.crc.update(data);
        // A fixed-code block, not the last.
        bits.put(0, 1);
        bits.put(1, 2);
        self.compress(&mut bits, data);
        symbol(&mut bits, 256);
        // A sync flush: an empty stored block ends on a byte boundary.
        bits.put(0, 3);
        bits.align();
        bits.out.extend_from_slice(&[0, 0, 0xff, 0xff]);
        bits.out
    }

    /// The end of the member: a last, empty block and the trailer.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut bits = Bits::default();
        if !self.started {
            self.started = true;
            bits.out.extend_from_slice(&GZIP_HEADER);
        }
        bits.put(1, 1);
        bits.put(1, 2);
        symbol(&mut bits, 256);
        bits.align();
        bits.out.extend_from_slice(&self.crc.sum().to_le_bytes());
        bits.out.extend_from_slice(&self.crc.amount().to_le_bytes());
        bits.out
    }

    fn compress(&mut self, bits: &mut Bits, data: &[u8]) {
        let start = self.history.len();
        let mut buf = std::mem::take(&mut self.history);
        buf.extend_from_slice(data);
        let mut head = vec![u32::MAX; 1 << HASH_BITS];
        let mut prev = vec![u32::MAX; buf.len()];
        let insert = |i: usize, head: &mut [u32], prev: &mut [u32]| {
            if i + MIN_MATCH <= buf.len() {
                let h = hash(&buf[i..]);
                prev[i] = head[h];
                head[h] = i as u32;
            }
        };
        for i in 0..start {
            insert(i, &mut head, &mut prev);
        }
        let mut i = start;
        while i < buf.len() {
            let (len, dist) = best_match(&buf, i, &head, &prev);
            if len >= MIN_MATCH {
                copy(bits, len, dist);
                for j in i..i + len {
                    insert(j, &mut head, &mut prev);
                }
                i += len;
            } else {
                symbol(bits, u16::from(buf[i]));
                insert(i, &mut head, &mut prev);
                i += 1;
            }
        }
        let keep = buf.len().saturating_sub(WINDOW);
        buf.drain(..keep);
        // Between events a stream holds its window and no more (the buffer grew to window
        // plus event, 8 KB a stream).
        buf.shrink_to_fit();
        self.history = buf;
    }
}

/// The longest earlier copy of what starts at `i`: (length, distance), length 0 for none.
fn best_match(buf: &[u8], i: usize, head: &[u32], prev: &[u32]) -> (usize, usize) {
    if i + MIN_MATCH > buf.len() {
        return (0, 0);
    }
    let most = (buf.len() - i).min(MAX_MATCH);
    let mut best = (0, 0);
    let mut cand = head[hash(&buf[i..])];
    for _ in 0..CHAIN {
        let Ok(c) = usize::try_from(cand) else { break };
        if cand == u32::MAX || c >= i || i - c > MAX_DIST {
            break;
        }
        let len = buf[c..]
            .iter()
            .zip(&buf[i..i + most])
            .take_while(|(a, b)| a == b)
            .count();
        if len > best.0 {
            best = (len, i - c);
            if len == most {
                break;
            }
        }
        cand = prev[c];
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decodes `chunks` one after the other, as a browser gets them: after each, everything
    /// written so far must come out.
    fn decode_each(chunks: &[Vec<u8>], inputs: &[Vec<u8>]) {
        let mut d = flate2::Decompress::new(false);
        let mut header_left = 10usize;
        let mut got = Vec::new();
        let mut want = Vec::new();
        for (chunk, input) in chunks.iter().zip(inputs) {
            let body = if header_left > 0 {
                assert_eq!(&chunk[..2], &[0x1f, 0x8b]);
                header_left = 0;
                &chunk[10..]
            } else {
                &chunk[..]
            };
            let mut out = vec![0; input.len() + 64];
            let before = d.total_out();
            d.decompress(body, &mut out, flate2::FlushDecompress::Sync)
                .unwrap();
            got.extend_from_slice(&out[..(d.total_out() - before) as usize]);
            want.extend_from_slice(input);
            assert_eq!(got, want, "an event did not decode when it arrived");
        }
    }

    fn whole(chunks: &[Vec<u8>]) -> Vec<u8> {
        use std::io::Read;
        let all: Vec<u8> = chunks.concat();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&all[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn repeated_rows_cost_a_fraction_and_decode_as_they_come() {
        let mut g = Gzip::default();
        let rows: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("event: packet\ndata: <tr data-port=\"TELEMETRY_APP\"><td>14:20:{i:02}</td><td>T0{i}</td><td>^all</td><td><code>TELEMETRY_APP</code></td><td>-1{i}.8</td></tr>\n\n").into_bytes())
            .collect();
        let chunks: Vec<Vec<u8>> = rows.iter().map(|r| g.event(r)).collect();
        decode_each(&chunks, &rows);
        let tail: usize = chunks[10..].iter().map(Vec::len).sum::<usize>() / 40;
        assert!(
            tail * 4 < rows[20].len(),
            "{tail} bytes per row of {}",
            rows[20].len()
        );
        let mut all = chunks.clone();
        all.push(g.finish());
        assert_eq!(whole(&all), rows.concat());
    }

    #[test]
    fn long_events_and_long_matches() {
        let mut g = Gzip::default();
        let inputs = vec![
            vec![b'a'; 100_000],
            (0..70_000u32).map(|i| (i % 251) as u8).collect(),
            Vec::new(),
            b"x".to_vec(),
        ];
        let mut chunks: Vec<Vec<u8>> = inputs.iter().map(|i| g.event(i)).collect();
        decode_each(&chunks, &inputs);
        // A long event leaves the window behind, not its own length.
        assert!(g.history.capacity() <= WINDOW, "{}", g.history.capacity());
        chunks.push(g.finish());
        assert_eq!(whole(&chunks), inputs.concat());
    }

    #[test]
    fn an_empty_stream_is_a_valid_member() {
        let mut g = Gzip::default();
        assert!(whole(&[g.finish()]).is_empty());
    }

    proptest! {
        #[test]
        fn any_events_round_trip(events in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..600), 1..20)) {
            let mut g = Gzip::default();
            let mut chunks: Vec<Vec<u8>> = events.iter().map(|e| g.event(e)).collect();
            decode_each(&chunks, &events);
            chunks.push(g.finish());
            prop_assert_eq!(whole(&chunks), events.concat());
        }
    }
}
