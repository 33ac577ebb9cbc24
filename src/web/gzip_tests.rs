use super::*;

fn gzip_fast(data: &[u8]) -> Vec<u8> {
    gzip(data, Effort::Fast)
}
use proptest::prelude::*;
use std::io::{Read, Write};

fn gunzip(z: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(z)
        .read_to_end(&mut out)
        .expect("a valid gzip member");
    out
}

fn flate2_at(data: &[u8], level: u32) -> usize {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap().len()
}

/// A deterministic stand-in for a node table: rows of the same markup with names, numbers
/// and times that differ row to row.
fn table(rows: usize) -> Vec<u8> {
    let mut s = String::from("<table class=\"nodes\"><thead><tr><th>Name</th><th>ID</th><th>SNR</th><th>Battery</th><th>Heard</th></tr></thead><tbody>");
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..rows {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!(
            "<tr id=\"node-{:08x}\" class=\"{}\"><td class=\"name\"><a href=\"/nodes/!{:08x}\" hx-get=\"/nodes/!{:08x}\">Node {} {}</a></td><td><code>!{:08x}</code></td><td class=\"num\">{}.{} dB</td><td class=\"num\">{}%</td><td><time datetime=\"2026-12-02T03:{:02}:{:02}Z\">{} s ago</time></td></tr>\n",
            x as u32,
            if x.is_multiple_of(3) { "mqtt" } else { "rf" },
            x as u32,
            x as u32,
            i,
            ["Alpha", "Bravo", "Relay", "Base", "Hill"][(x % 5) as usize],
            x as u32,
            (x >> 8) % 20,
            (x >> 12) % 10,
            (x >> 16) % 101,
            (x >> 20) % 60,
            (x >> 26) % 60,
            (x >> 32) % 900,
        ));
    }
    s.push_str("</tbody></table>");
    s.into_bytes()
}

#[test]
fn bodies_of_every_kind_round_trip() {
    let mut random = vec![0u8; 100_000];
    let mut x: u32 = 1;
    for b in &mut random {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *b = (x >> 16) as u8;
    }
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"x".to_vec(),
        b"abcabcabcabc".to_vec(),
        vec![b'a'; 100_000],
        random.clone(),
        table(400),
        // A copy exactly a window back, and one just past it.
        [&random[..WINDOW], &random[..WINDOW], &random[..WINDOW + 1]].concat(),
        (0..70_000u32).map(|i| (i % 251) as u8).collect(),
    ];
    for c in &cases {
        for effort in [Effort::Fast, Effort::Thorough] {
            let z = gzip(c, effort);
            assert_eq!(&gunzip(&z), c, "{} bytes, {effort:?}", c.len());
        }
    }
    // Random bytes go stored: the output is hardly longer than the input.
    assert!(gzip_fast(&random).len() < random.len() + random.len() / 100 + 64);
}

#[test]
fn a_table_is_about_as_small_as_zlib_level_two_makes_it() {
    let page = table(400);
    let ours = gzip_fast(&page).len();
    let theirs = flate2_at(&page, 2);
    let thorough = gzip(&page, Effort::Thorough).len();
    assert!(thorough <= ours, "{thorough} thorough against {ours} fast");
    assert!(
        thorough * 100 <= flate2_at(&page, 6) * 106,
        "{thorough} against level 6"
    );
    let fixed_only = {
        let mut g = super::super::deflate::Gzip::default();
        let mut v = g.event(&page);
        v.extend(g.finish());
        v.len()
    };
    // Dynamic codes pay: well under what fixed codes make of the same body.
    assert!(
        ours * 10 < fixed_only * 9,
        "{ours} against {fixed_only} fixed"
    );
    eprintln!(
        "table {} bytes: ours {ours}, level 2 {theirs}, level 6 {}, fixed {fixed_only}",
        page.len(),
        flate2_at(&page, 6)
    );
    assert!(
        ours * 100 <= theirs * 105,
        "{ours} against {theirs} at level 2"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_body_round_trips(body in proptest::collection::vec(prop_oneof![Just(b'<'), Just(b'a'), Just(b'b'), any::<u8>()], 0..20_000), thorough: bool) {
        let effort = if thorough { Effort::Thorough } else { Effort::Fast };
        prop_assert_eq!(gunzip(&gzip(&body, effort)), body);
    }

}
