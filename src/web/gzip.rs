//! A gzip encoder for whole response bodies (pages, fragments, API answers) whose working
//! memory is a few dozen kilobytes and lives only while one body is compressed.
//!
//! Why not `flate2` (`miniz_oxide`): its encoder sets up about 300 KB of tables for every
//! body (a 32 KiB window, two 64 KiB hash arrays, a 64 KiB token buffer), zeroed each time.
//! Ten page loads at once made the heap megabytes larger, and the allocator kept what they
//! left (BENCHMARKS.md, issue 19). Here matches reach back 8 KiB, which is many rows of any
//! table the pages render, the chain of earlier positions is 16-bit distances, and blocks of
//! 8,192 tokens each get their own Huffman codes (RFC 1951, 3.2.7), or the fixed ones, or
//! none, whichever is smallest.

use super::deflate::{copy, dist_code, len_code, symbol, Bits, GZIP_HEADER, MAX_MATCH, MIN_MATCH};
use super::huffman::{canonical, code_lengths, Header};

/// How far back a match may reach (a power of two, at most 65,536).
const WINDOW: usize = 8192;
/// The most hash bits: 8,192 heads for bodies of 8 KiB and more.
const HASH_BITS: u32 = 13;
/// How hard to look for matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// For what is made per request (pages, fragments): about zlib's level 2 in time, in
    /// size between its levels 2 and 6.
    Fast,
    /// For what is made once and sent many times (the cached node lists): about level 6.
    Thorough,
}

impl Effort {
    /// Earlier positions tried per position; the length that stops the search; a match at
    /// least this long is taken without looking one byte further for a longer one.
    fn limits(self) -> (usize, usize, usize) {
        match self {
            Effort::Fast => (8, 32, 8),
            Effort::Thorough => (128, 258, 258),
        }
    }
}
/// Tokens per block: each block's codes fit the part of the body it covers.
const BLOCK: usize = 8192;
/// A token with this bit is a match: length − 3 in bits 16..24, distance − 1 below.
const MATCH: u32 = 1 << 31;

/// `data` as one gzip member.
pub fn gzip(data: &[u8], effort: Effort) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.out.reserve_exact(data.len() / 4 + 64);
    bits.out.extend_from_slice(&GZIP_HEADER);
    deflate(data, effort, &mut bits);
    bits.align();
    let mut crc = flate2::Crc::new();
    crc.update(data);
    bits.out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32.
    bits.out
        .extend_from_slice(&(data.len() as u32).to_le_bytes());
    bits.out
}

/// Where earlier copies of each 3-byte prefix start.
struct Matcher {
    /// The latest position + 1 of each hash (0: none).
    head: Vec<u32>,
    /// For each position in the window, the distance back to the previous one with the same
    /// hash (0: none).
    prev: Vec<u16>,
    mask: usize,
    shift: u32,
    chain: usize,
    nice: usize,
}

impl Matcher {
    fn new(len: usize, chain: usize, nice: usize) -> Matcher {
        let bits = usize::BITS - len.max(2).next_power_of_two().leading_zeros() - 1;
        let bits = bits.clamp(8, HASH_BITS);
        let ring = len.next_power_of_two().clamp(256, WINDOW);
        Matcher {
            head: vec![0; 1 << bits],
            prev: vec![0; ring],
            mask: ring - 1,
            shift: 32 - bits,
            chain,
            nice,
        }
    }

    #[inline]
    fn hash(&self, b: &[u8]) -> usize {
        let v = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
        (v.wrapping_mul(0x9e37_79b1) >> self.shift) as usize
    }

    #[inline]
    fn insert(&mut self, data: &[u8], i: usize) {
        if i + MIN_MATCH > data.len() {
            return;
        }
        let h = self.hash(&data[i..]);
        let last = self.head[h] as usize;
        self.prev[i & self.mask] = match last {
            0 => 0,
            p if i - (p - 1) <= self.mask => (i - (p - 1)) as u16,
            _ => 0,
        };
        self.head[h] = (i + 1) as u32;
    }

    /// The longest earlier copy of what starts at `i` (positions before `i` inserted, and
    /// none at or past it): (length, distance), length 0 for none.
    fn longest(&self, data: &[u8], i: usize) -> (usize, usize) {
        if i + MIN_MATCH > data.len() {
            return (0, 0);
        }
        let most = (data.len() - i).min(MAX_MATCH);
        let want = &data[i..i + most];
        let mut best = (0, 0);
        let mut cand = match self.head[self.hash(want)] as usize {
            0 => return best,
            p => p - 1,
        };
        for _ in 0..self.chain {
            // Positions a window back have had their chain entry overwritten.
            if cand >= i || i - cand > self.mask {
                break;
            }
            let here = &data[cand..];
            if best.0 == 0 || here.get(best.0) == want.get(best.0) {
                let len = common(here, want);
                if len > best.0 {
                    best = (len, i - cand);
                    if len >= self.nice.min(most) {
                        break;
                    }
                }
            }
            match self.prev[cand & self.mask] as usize {
                0 => break,
                d => match cand.checked_sub(d) {
                    Some(c) => cand = c,
                    None => break,
                },
            }
        }
        if best.0 < MIN_MATCH {
            (0, 0)
        } else {
            best
        }
    }
}

/// How many bytes `a` and `want` have in common from the start (`a` is the longer one),
/// compared eight at a time.
#[inline]
fn common(a: &[u8], want: &[u8]) -> usize {
    let mut n = 0;
    while n + 8 <= want.len() {
        let (Ok(x), Ok(y)) = (
            <[u8; 8]>::try_from(&a[n..n + 8]),
            <[u8; 8]>::try_from(&want[n..n + 8]),
        ) else {
            break;
        };
        let diff = u64::from_le_bytes(x) ^ u64::from_le_bytes(y);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + a[n..]
        .iter()
        .zip(&want[n..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// The deflate stream of `data`, in blocks, the last one marked final.
fn deflate(data: &[u8], effort: Effort, bits: &mut Bits) {
    let (chain, nice, lazy_enough) = effort.limits();
    let mut m = Matcher::new(data.len(), chain, nice);
    let mut tokens: Vec<u32> = Vec::with_capacity(BLOCK.min(data.len() + 1));
    let mut block_start = 0;
    let mut i = 0;
    let mut pending = m.longest(data, 0);
    while i < data.len() {
        let (len, dist) = pending;
        m.insert(data, i);
        let long_enough = len >= MIN_MATCH.max(lazy_enough);
        // One byte further may start a longer copy: then this byte goes as a literal.
        let next = if i + 1 < data.len() && !long_enough {
            m.longest(data, i + 1)
        } else {
            (0, 0)
        };
        if long_enough || (len >= MIN_MATCH && next.0 <= len) {
            tokens.push(MATCH | ((len - MIN_MATCH) as u32) << 16 | (dist - 1) as u32);
            for j in i + 1..i + len {
                m.insert(data, j);
            }
            i += len;
            pending = m.longest(data, i);
        } else {
            tokens.push(u32::from(data[i]));
            i += 1;
            pending = next;
        }
        if tokens.len() >= BLOCK {
            block(bits, &tokens, &data[block_start..i], false);
            tokens.clear();
            block_start = i;
        }
    }
    block(bits, &tokens, &data[block_start..], true);
}

#[inline]
fn split(t: u32) -> (usize, usize) {
    (
        ((t >> 16) & 0xff) as usize + MIN_MATCH,
        (t & 0xffff) as usize + 1,
    )
}

/// The fixed code's length of a literal/length symbol.
fn fixed_len(s: usize) -> u64 {
    match s {
        0..=143 => 8,
        144..=255 => 9,
        256..=279 => 7,
        _ => 8,
    }
}

/// One block of `tokens` (which encode `raw`): dynamic codes, fixed codes or stored,
/// whichever is shortest.
fn block(bits: &mut Bits, tokens: &[u32], raw: &[u8], last: bool) {
    let mut lit = [0u32; 286];
    let mut dist = [0u32; 30];
    let mut extra: u64 = 0;
    for &t in tokens {
        if t & MATCH != 0 {
            let (len, d) = split(t);
            let (l, _, le) = len_code(len);
            let (dc, _, de) = dist_code(d);
            lit[257 + l] += 1;
            dist[dc] += 1;
            extra += u64::from(le + de);
        } else {
            lit[t as usize] += 1;
        }
    }
    lit[256] = 1;
    let mut ll = [0u8; 286];
    let mut dl = [0u8; 30];
    code_lengths(&lit, 15, &mut ll);
    code_lengths(&dist, 15, &mut dl);
    let header = Header::new(&ll, &dl);
    let cost = |lens: &[u8], freq: &[u32]| -> u64 {
        lens.iter()
            .zip(freq)
            .map(|(l, f)| u64::from(*l) * u64::from(*f))
            .sum()
    };
    let dynamic = header.bits + cost(&ll, &lit) + cost(&dl, &dist) + extra;
    let fixed = 3
        + lit
            .iter()
            .enumerate()
            .map(|(s, f)| fixed_len(s) * u64::from(*f))
            .sum::<u64>()
        + 5 * dist.iter().map(|f| u64::from(*f)).sum::<u64>()
        + extra;
    // Block bits, up to 7 to the byte boundary, LEN and NLEN, the bytes.
    let stored = 3 + 7 + (raw.len() as u64 + 4) * 8;
    bits.put(u32::from(last), 1);
    if raw.len() <= usize::from(u16::MAX) && stored < dynamic.min(fixed) {
        bits.put(0, 2);
        bits.align();
        let n = raw.len() as u16;
        bits.out.extend_from_slice(&n.to_le_bytes());
        bits.out.extend_from_slice(&(!n).to_le_bytes());
        bits.out.extend_from_slice(raw);
    } else if fixed <= dynamic {
        bits.put(1, 2);
        for &t in tokens {
            if t & MATCH != 0 {
                let (len, d) = split(t);
                copy(bits, len, d);
            } else {
                symbol(bits, t as u16);
            }
        }
        symbol(bits, 256);
    } else {
        bits.put(2, 2);
        header.write(bits);
        let mut lc = [0u16; 286];
        let mut dcodes = [0u16; 30];
        canonical(&ll, &mut lc);
        canonical(&dl, &mut dcodes);
        for &t in tokens {
            if t & MATCH != 0 {
                let (len, d) = split(t);
                let (l, lv, lb) = len_code(len);
                bits.code(u32::from(lc[257 + l]), u32::from(ll[257 + l]));
                bits.put(lv, lb);
                let (dc, dv, db) = dist_code(d);
                bits.code(u32::from(dcodes[dc]), u32::from(dl[dc]));
                bits.put(dv, db);
            } else {
                let s = t as usize;
                bits.code(u32::from(lc[s]), u32::from(ll[s]));
            }
        }
        bits.code(u32::from(lc[256]), u32::from(ll[256]));
    }
}

#[cfg(test)]
#[path = "gzip_tests.rs"]
mod tests;
