//! The report: one table of the steady state's figures (the row BENCHMARKS.md collects),
//! then the one-off figures as a list, on stdout.

use crate::connect::Connects;
use crate::figures::{mb, metric, ms, pct, ppp, Errors};
use crate::saturate::Saturated;
use crate::server::Server;
use crate::steady::Steady;
use crate::support::proc::cpu_secs;
use crate::{Args, FirstPage, Idle};

#[allow(clippy::too_many_arguments)]
pub fn print(
    args: &Args,
    server: &Server,
    idle: &Idle,
    links_rss: Option<u64>,
    connects: &mut Connects,
    first_page: &FirstPage,
    paths: &[String],
    steady: &mut Steady,
    saturate: &[Saturated],
    errors: &Errors,
) {
    let n = args.sessions;
    let n_ok = connects.ok();
    let (idle_rss, idle_threads, idle_fds, idle_cpu) = (idle.rss, idle.threads, idle.fds, idle.cpu);
    let (alone, concurrent) = (&mut connects.alone, &mut connects.concurrent);
    let (rows_seen, connect_secs) = (connects.rows_seen, connects.secs);
    let (first, nodes_plain) = (&first_page.assets, first_page.nodes_plain);
    let (m0, m1, s0, s1) = (&steady.m0, &steady.m1, &steady.s0, &steady.s1);
    let (secs, cpu, self_cpu) = (steady.secs, steady.cpu, steady.self_cpu);
    let (connected_rss, end_rss) = (steady.connected_rss, steady.end_rss);
    let (busy_fds, busy_threads) = (steady.busy_fds, steady.busy_threads);
    let (streams_open, cpu_windows) = (steady.streams_open, &steady.cpu_windows);
    let lat = &mut steady.lat;
    let packets_in =
        metric(m1, "meshdeck_packets_in_total") - metric(m0, "meshdeck_packets_in_total");
    let lagged = metric(m1, "meshdeck_sse_lagged_total") - metric(m0, "meshdeck_sse_lagged_total");
    let lagged_total = metric(m1, "meshdeck_sse_lagged_total");
    // Per stream path: bytes, events, packet rows during the steady state.
    let per_path: Vec<[u64; 3]> = s1
        .iter()
        .zip(s0)
        .map(|(b, a)| [b[0] - a[0], b[1] - a[1], b[2] - a[2]])
        .collect();
    let sse_events: u64 = per_path.iter().map(|c| c[1]).sum();
    let packet_rows: u64 = per_path.iter().map(|c| c[2]).sum();
    // Bytes of the streams that carry packet rows, per row.
    let (row_bytes, rows) = per_path
        .iter()
        .filter(|c| c[2] > 0)
        .fold((0, 0), |(b, r), c| (b + c[0], r + c[2]));
    let per_session_kb = connected_rss
        .zip(idle_rss)
        .map(|(c, i)| c.saturating_sub(i) as f64 / n_ok.max(1) as f64);
    let cpu_per_k = cpu
        .filter(|_| packets_in > 0.0)
        .map(|c| c / packets_in * 1000.0);
    println!();
    let sharing = match args.radios {
        Some(r) => format!("{r} radios shared by {n} sessions"),
        None => format!("{n} radios"),
    };
    println!("server: {} · {sharing} of {} nodes at {} packets/s · {} packet-log tab(s) per session · think {} s", server.mode, args.nodes, args.rate, args.streams, args.think_secs);
    println!();
    println!("| sessions | packets/s in | SSE events/s out | nodes page p50/p95/p99 ms | packet log p50/p95/p99 ms | /api/status p50/p95/p99 ms | RSS idle → connected → end (MB) | RSS per session (KB) | CPU s per 1,000 packets | lagged | errors |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {n_ok}{} | {:.0} | {:.0} | {} | {} | {} | {} → {} → {} | {} | {} | {lagged:.0} | {} |",
        if n_ok < n {
            format!(" of {n}")
        } else {
            String::new()
        },
        packets_in / secs,
        sse_events as f64 / secs,
        ppp(&mut lat.nodes),
        ppp(&mut lat.packets),
        ppp(&mut lat.status),
        mb(idle_rss),
        mb(connected_rss),
        mb(end_rss),
        per_session_kb.map_or("n/a".into(), |k| format!("{k:.0}")),
        cpu_per_k.map_or("n/a".into(), |c| format!("{c:.3}")),
        errors.count(),
    );
    println!();
    let first_total: usize = first.iter().map(|f| f.1).sum();
    let sessions_tabs = (n_ok * args.streams).max(1) as f64;
    println!(
        "- start-up (spawn → first /healthz 200): {}",
        server
            .startup
            .map_or("n/a".into(), |d| format!("{:.1} ms", ms(d)))
    );
    println!(
        "- idle RSS: {} MB ({} threads, {} fds)",
        mb(idle_rss),
        idle_threads.map_or("n/a".into(), |t| t.to_string()),
        idle_fds.map_or("n/a".into(), |t| t.to_string())
    );
    let per = |a: Option<u64>, b: Option<u64>| {
        a.zip(b).map_or("n/a".into(), |(a, b)| {
            format!("{:.0}", b.saturating_sub(a) as f64 / n_ok.max(1) as f64)
        })
    };
    println!(
        "- RSS per session, KB: links connected, no stream yet {} (RSS {} MB); + live streams open {}; + steady state (packet logs filling, about {:.0} packets each) {} → total {}",
        per(idle_rss, links_rss),
        mb(links_rss),
        per(links_rss, connected_rss),
        // A packet log is the radio's: sessions on one radio share it.
        packets_in / args.radios.unwrap_or(n_ok).max(1) as f64 + args.rate * 2.0,
        per(connected_rss, end_rss),
        per(idle_rss, end_rss),
    );
    if let Some(r) = args.radios {
        print_radios(r, n_ok, idle_rss, connects.radios_rss, links_rss, end_rss);
    }
    println!(
        "- connect → full nodes page ({} rows): alone median {:.1} ms (min {:.1}, max {:.1}, {} samples); {} in flight p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms ({} connects in {:.1} s)",
        rows_seen,
        pct(alone, 0.5),
        alone.iter().copied().fold(f64::INFINITY, f64::min),
        alone.iter().copied().fold(0.0, f64::max),
        alone.len(),
        args.connect_concurrency,
        pct(concurrent, 0.5),
        pct(concurrent, 0.95),
        pct(concurrent, 0.99),
        concurrent.len(),
        connect_secs,
    );
    println!(
        "- first page on the wire (gzip requested, body bytes as received): {:.1} KB = {}; /nodes uncompressed {nodes_plain} B",
        first_total as f64 / 1024.0,
        first
            .iter()
            .map(|(p, b, how)| format!("{p} {b} B ({how})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let per_min = |b: u64| b as f64 / 1024.0 / sessions_tabs / (secs / 60.0);
    println!(
        "- SSE: {:.0} bytes per pushed packet ({row_bytes} bytes of packet streams / {rows} packet rows); per tab per minute at {} packets/s: {} = {:.1} KB",
        if rows > 0 { row_bytes as f64 / rows as f64 } else { f64::NAN },
        args.rate,
        paths
            .iter()
            .zip(&per_path)
            .map(|(p, c)| format!("{p} {:.1} KB", per_min(c[0])))
            .collect::<Vec<_>>()
            .join(" + "),
        per_min(per_path.iter().map(|c| c[0]).sum()),
    );
    println!(
        "- steady state {:.1} s: {:.0} packets in, {} SSE events ({} packet rows), {} page loads ({:.0}/s; average body {} B nodes, {} B packet log, {} B status{}), streams open at the end {}",
        secs,
        packets_in,
        sse_events,
        packet_rows,
        lat.loads(),
        lat.loads() as f64 / secs,
        lat.bytes[0] / lat.nodes.len().max(1) as u64,
        lat.bytes[1] / lat.packets.len().max(1) as u64,
        lat.bytes[2] / lat.status.len().max(1) as u64,
        if args.no_gzip { "" } else { "; pages gzip" },
        streams_open,
    );
    println!(
        "- server CPU {} s over {:.0} s ({}% of one core); load tool (radios + clients) CPU {} s; RSS peak {} MB; fds idle {} → busy {}; threads {} → {}",
        cpu.map_or("n/a".into(), |c| format!("{c:.1}")),
        secs,
        cpu.map_or("n/a".into(), |c| format!("{:.0}", c / secs * 100.0)),
        self_cpu.map_or("n/a".into(), |c| format!("{c:.1}")),
        mb(Some(steady.peak_rss).filter(|p| *p > 0)),
        idle_fds.map_or("n/a".into(), |t| t.to_string()),
        busy_fds.map_or("n/a".into(), |t| t.to_string()),
        idle_threads.map_or("n/a".into(), |t| t.to_string()),
        busy_threads.map_or("n/a".into(), |t| t.to_string()),
    );
    println!(
        "- metrics at the end: sessions {:.0}, links {:.0}, SSE clients {:.0}, lagged total {lagged_total:.0}, send queue {:.0}; idle → end CPU {}",
        metric(m1, "meshdeck_sessions"),
        metric(m1, "meshdeck_links_open"),
        metric(m1, "meshdeck_sse_clients"),
        metric(m1, "meshdeck_send_queue_depth"),
        idle_cpu.zip(server.pid.and_then(cpu_secs)).map_or("n/a".into(), |(a, b)| format!("{:.1} s", b - a)),
    );
    for s in saturate {
        let (path, rps, p, c, count, bytes) = (s.path, s.rps, &s.ppp, s.cpu, s.count, s.bytes);
        println!(
            "- {path} at {} connections, no think time, {} s: {rps:.0} req/s, p50/p95/p99 {p} ms, {bytes} B per answer, server CPU {} ms per request ({}% of one core)",
            args.saturate_conns,
            args.saturate_secs,
            c.map_or("n/a".into(), |c| format!("{:.2}", c * 1000.0 / count.max(1.0))),
            c.map_or("n/a".into(), |c| format!("{:.0}", c * 100.0 / args.saturate_secs as f64)),
        );
    }
    if !lat.when.is_empty() {
        // Where the slow requests fall in time: every request, by 5-second window.
        let windows = (args.duration_secs as usize).div_ceil(5).max(1) + 1;
        let mut by: Vec<Vec<f64>> = vec![Vec::new(); windows];
        for &(at, d) in &lat.when {
            by[((at / 5.0) as usize).min(windows - 1)].push(d);
        }
        println!(
            "- every request by 5 s window (p99 / max ms): {}",
            by.iter_mut()
                .enumerate()
                .filter(|(_, v)| !v.is_empty())
                .map(|(i, v)| format!(
                    "{}s {:.0}/{:.0}",
                    i * 5,
                    pct(v, 0.99),
                    v.iter().copied().fold(0.0, f64::max)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !cpu_windows.is_empty() {
        println!(
            "- CPU by 5 s window, % of one core (server / load tool / other processes): {}",
            cpu_windows
                .iter()
                .enumerate()
                .map(|(i, (a, b, c))| format!("{}s {a:.0}/{b:.0}/{c:.0}", i * 5))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let other: Vec<f64> = cpu_windows.iter().map(|w| w.2).collect();
        let avg = other.iter().sum::<f64>() / other.len() as f64;
        let max = other.iter().copied().fold(0.0, f64::max);
        println!(
            "- other processes on the machine during the steady state: {avg:.0}% of one core on average, {max:.0}% at most{}",
            if max > 20.0 {
                " (NOT QUIET: latencies include that competition)"
            } else {
                ""
            }
        );
    }
    let kinds = errors.kinds.lock().unwrap().clone();
    if !kinds.is_empty() {
        println!("- errors by kind: {kinds:?}");
    }
    {
        let l = server.log.lock().unwrap();
        if server.child.is_some() {
            println!(
                "- server log: {} lines, {} WARN, {} ERROR, {} panics",
                l.lines, l.warn, l.error, l.panics
            );
            for line in &l.last {
                println!("    {line}");
            }
        }
    }
}

/// With `--radios`: the RSS a radio costs apart from what each session attached to it costs.
fn print_radios(
    r: usize,
    n_ok: usize,
    idle: Option<u64>,
    radios: Option<u64>,
    links: Option<u64>,
    end: Option<u64>,
) {
    let per = |a: Option<u64>, b: Option<u64>, k: usize| {
        a.zip(b).map_or("n/a".into(), |(a, b)| {
            format!("{:.0}", b.saturating_sub(a) as f64 / k.max(1) as f64)
        })
    };
    let attached = n_ok.saturating_sub(r);
    println!(
        "- RSS per radio and per attached session, KB: each radio with its first session (link, node DB, no stream yet) {} (RSS {} MB); each of the {attached} sessions attached to a radio already connected (no stream yet) {}; idle → end per radio {} and per session {}",
        if radios.is_some() { per(idle, radios, r) } else { per(idle, links, r) },
        mb(radios.or(links)),
        if radios.is_some() { per(radios, links, attached) } else { "n/a".into() },
        per(idle, end, r),
        per(idle, end, n_ok),
    );
}
