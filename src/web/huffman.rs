//! Deflate's Huffman codes for `gzip.rs` (RFC 1951, 3.2.2 and 3.2.7): code lengths from
//! symbol counts, none longer than the format allows; the canonical codes of those lengths;
//! and a dynamic block's header, the lengths run-length encoded in a code of their own.

use super::deflate::Bits;

/// The order the code-length code's lengths are written in.
const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// A dynamic block's header: how many codes of each alphabet it sends, their lengths run-
/// length encoded (symbols 16, 17, 18), and the code those symbols are written in.
pub(super) struct Header {
    hlit: usize,
    hdist: usize,
    hclen: usize,
    /// Code-length symbols with their extra bits' value.
    runs: Vec<(u8, u8)>,
    cl: [u8; 19],
    /// The header's size in bits, the 3 block bits included.
    pub(super) bits: u64,
}

impl Header {
    pub(super) fn new(ll: &[u8; 286], dl: &[u8; 30]) -> Header {
        let used = |l: &[u8]| l.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
        let hlit = used(ll).max(257);
        let hdist = used(dl).max(1);
        let seq: Vec<u8> = ll[..hlit].iter().chain(&dl[..hdist]).copied().collect();
        let mut runs = Vec::new();
        let mut i = 0;
        while i < seq.len() {
            let l = seq[i];
            let run = seq[i..].iter().take_while(|&&x| x == l).count();
            let mut left = run;
            if l == 0 {
                while left >= 11 {
                    let r = left.min(138);
                    runs.push((18, (r - 11) as u8));
                    left -= r;
                }
                if left >= 3 {
                    runs.push((17, (left - 3) as u8));
                    left = 0;
                }
            } else {
                runs.push((l, 0));
                left -= 1;
                while left >= 3 {
                    let r = left.min(6);
                    runs.push((16, (r - 3) as u8));
                    left -= r;
                }
            }
            runs.extend(std::iter::repeat_n((l, 0), left));
            i += run;
        }
        let mut freq = [0u32; 19];
        for (s, _) in &runs {
            freq[usize::from(*s)] += 1;
        }
        let mut cl = [0u8; 19];
        code_lengths(&freq, 7, &mut cl);
        let hclen = CL_ORDER
            .iter()
            .rposition(|&s| cl[s] != 0)
            .map_or(4, |i| i + 1)
            .max(4);
        let body: u64 = runs
            .iter()
            .map(|&(s, _)| u64::from(cl[usize::from(s)]) + u64::from(run_extra(s)))
            .sum();
        Header {
            hlit,
            hdist,
            hclen,
            bits: 3 + 5 + 5 + 4 + 3 * hclen as u64 + body,
            runs,
            cl,
        }
    }

    pub(super) fn write(&self, bits: &mut Bits) {
        bits.put((self.hlit - 257) as u32, 5);
        bits.put((self.hdist - 1) as u32, 5);
        bits.put((self.hclen - 4) as u32, 4);
        for &s in &CL_ORDER[..self.hclen] {
            bits.put(u32::from(self.cl[s]), 3);
        }
        let mut codes = [0u16; 19];
        canonical(&self.cl, &mut codes);
        for &(s, v) in &self.runs {
            let s = usize::from(s);
            bits.code(u32::from(codes[s]), u32::from(self.cl[s]));
            bits.put(u32::from(v), run_extra(s as u8));
        }
    }
}

/// How many extra bits follow a code-length symbol.
fn run_extra(s: u8) -> u32 {
    match s {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// Huffman code lengths for `freq`, none longer than `max`, written to `out`. At least two
/// symbols get a code (the first unused ones stand in when fewer are used), so that every
/// code is complete, as strict decoders want.
pub(super) fn code_lengths(freq: &[u32], max: u32, out: &mut [u8]) {
    out.fill(0);
    let mut leaves: Vec<(u32, usize)> = freq
        .iter()
        .enumerate()
        .filter(|(_, f)| **f > 0)
        .map(|(s, f)| (*f, s))
        .collect();
    let stand_ins: Vec<usize> = (0..freq.len())
        .filter(|&s| freq[s] == 0)
        .take(2usize.saturating_sub(leaves.len()))
        .collect();
    leaves.extend(stand_ins.into_iter().map(|s| (1, s)));
    leaves.sort_unstable();
    let n = leaves.len();
    // Huffman's tree with two queues: the sorted leaves, and the joined nodes (made in
    // increasing weight).
    let mut weight: Vec<u64> = leaves.iter().map(|l| u64::from(l.0)).collect();
    let mut parent = vec![0usize; 2 * n - 1];
    let (mut leaf, mut joined) = (0, n);
    for k in n..2 * n - 1 {
        let mut take = || {
            if leaf < n && (joined >= k || weight[leaf] <= weight[joined]) {
                leaf += 1;
                leaf - 1
            } else {
                joined += 1;
                joined - 1
            }
        };
        let (a, b) = (take(), take());
        weight.push(weight[a] + weight[b]);
        parent[a] = k;
        parent[b] = k;
    }
    let mut depth = vec![0u32; 2 * n - 1];
    for k in (0..2 * n - 2).rev() {
        depth[k] = depth[parent[k]] + 1;
    }
    // How many codes of each length, the too long ones made `max` long; then codes are
    // moved down a level until the lengths fit (Kraft's sum is exactly one).
    let max = max as usize;
    let mut count = vec![0u32; max + 1];
    for d in &depth[..n] {
        count[(*d as usize).min(max)] += 1;
    }
    let mut total: u64 = (1..=max).map(|l| u64::from(count[l]) << (max - l)).sum();
    while total > 1 << max {
        count[max] -= 1;
        if let Some(l) = (1..max).rev().find(|&l| count[l] > 0) {
            count[l] -= 1;
            count[l + 1] += 2;
        }
        total -= 1;
    }
    // The rarest symbols get the longest codes.
    let mut rare = leaves.iter();
    for l in (1..=max).rev() {
        for _ in 0..count[l] {
            if let Some(&(_, s)) = rare.next() {
                out[s] = l as u8;
            }
        }
    }
}

/// Canonical codes for `lengths` (RFC 1951, 3.2.2).
pub(super) fn canonical(lengths: &[u8], out: &mut [u16]) {
    let mut count = [0u16; 16];
    for &l in lengths {
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for b in 1..16 {
        code = (code + count[b - 1]) << 1;
        next[b] = code;
    }
    for (s, &l) in lengths.iter().enumerate() {
        if l > 0 {
            out[s] = next[usize::from(l)];
            next[usize::from(l)] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn code_lengths_are_complete_and_bounded_for_skewed_counts() {
        // Fibonacci counts make the deepest trees.
        let mut freq = vec![0u32; 286];
        let (mut a, mut b) = (1u32, 1u32);
        for f in freq.iter_mut().take(40) {
            *f = a;
            let c = a.saturating_add(b);
            a = b;
            b = c;
        }
        let mut out = vec![0u8; 286];
        code_lengths(&freq, 15, &mut out);
        assert!(out.iter().all(|&l| l <= 15));
        let kraft: f64 = out
            .iter()
            .filter(|&&l| l > 0)
            .map(|&l| 0.5f64.powi(i32::from(l)))
            .sum();
        assert!((kraft - 1.0).abs() < 1e-12, "{kraft}");
        assert_eq!(out.iter().filter(|&&l| l > 0).count(), 40);
    }

    #[test]
    fn one_symbol_or_none_still_makes_a_complete_code() {
        let mut out = [0u8; 30];
        code_lengths(&[0; 30], 15, &mut out);
        assert_eq!(out.iter().filter(|&&l| l == 1).count(), 2);
        let mut freq = [0u32; 30];
        freq[7] = 9;
        code_lengths(&freq, 15, &mut out);
        assert_eq!(out[7], 1);
        assert_eq!(out.iter().filter(|&&l| l == 1).count(), 2);
    }

    proptest! {
        #[test]
        fn any_counts_make_a_complete_bounded_code(freq in proptest::collection::vec(prop_oneof![Just(0u32), 1u32..5, 1u32..100_000], 19..300), max in 7u32..=15) {
            // More than 2^max symbols cannot all have codes that short.
            let max = if freq.len() <= 1 << max { max } else { 15 };
            let mut out = vec![0u8; freq.len()];
            code_lengths(&freq, max, &mut out);
            let kraft: f64 = out.iter().filter(|&&l| l > 0).map(|&l| 0.5f64.powi(i32::from(l))).sum();
            prop_assert!(out.iter().all(|&l| u32::from(l) <= max));
            prop_assert!((kraft - 1.0).abs() < 1e-12);
            for (f, l) in freq.iter().zip(&out) {
                prop_assert!(*f == 0 || *l > 0);
            }
        }

    }
}
