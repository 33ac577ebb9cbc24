//! meshdeck side by side with the original dashboard (issue 19), in one run, on the same
//! simulated radios (`meshdeck sim`, 200 nodes, 5 packets/s each, seed 1: radio i has the
//! same mesh for every server), loopback only, a fresh server and fresh radios per phase.
//!
//! ```text
//! G=/path/to/lordachoo+meshtastic-control.git
//! git --git-dir=$G archive ac66c76 | tar -x -C /tmp/orig-old     # never inside this repo
//! git --git-dir=$G archive 129568b | tar -x -C /tmp/orig-new
//! cargo build --release --bins --example sidebyside
//! ./target/release/examples/sidebyside --meshdeck target/release/meshdeck \
//!     --original /tmp/orig-old --original /tmp/orig-new
//! ```
//!
//! Phases, each server in turn, each with a fresh server process and fresh radios:
//! - `rss`: idle RSS, then `--sessions` browser sessions, each on its own radio (the
//!   original opens one TCP client per session, and a radio serves one client at a time, so
//!   sharing one would make them kick each other off), each doing for `--session-secs` what
//!   its page does (see `pages`), then RSS again: per session = (after − idle) / sessions.
//! - `hammer`: `GET /api/nodes?filter=all` (what both pages ask) from `--hammer-conns`
//!   connections with `Accept-Encoding: gzip` for `--hammer-secs`; again revalidating with the
//!   ETag when the server sends one; then `GET /api/status` the same way.
//! - `tabs`: one packet-log tab, then one nodes tab, each for `--tab-secs` after
//!   `--tab-warmup-secs`: every byte read from the sockets (headers included), with
//!   Chromium's `Accept-Encoding: gzip, deflate, br, zstd`.
//! - `rest`: start-up, the first page on the wire, connect times; then `--sessions` + 1
//!   sessions at the cap (each server's default cap, 10) and how many stay connected.
//!
//! Prints one markdown table (figure | each server | ratio) and the command line. Any phase
//! that fails (a server that does not start, a session that does not connect, a stream
//! that ends, too many failed requests) ends the run with a message and exit status 1;
//! a watchdog ends a run that overruns (exit 2); children die with the tool.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "sidebyside/hammer.rs"]
mod hammer;
#[path = "sidebyside/http.rs"]
mod http;
#[path = "sidebyside/pages.rs"]
mod pages;
#[path = "sidebyside/procs.rs"]
mod procs;
#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;

use hammer::Hammered;
use http::{Browser, Kind};
use pages::TabKind;
use procs::{ServerKind, Spec};
use support::proc;

#[derive(Parser, Debug, Clone)]
#[command(about = "meshdeck side by side with the original dashboard, same radios, same run")]
struct Args {
    /// meshdeck's server binary (its `sim` subcommand runs the radios too).
    #[arg(long)]
    meshdeck: PathBuf,
    /// A directory holding one exported revision of the original (app_multiuser.py and
    /// templates/); repeat for each revision.
    #[arg(long)]
    original: Vec<PathBuf>,
    /// The Python that has meshtastic, flask, pypubsub and watchdog.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Node DB size of each simulated radio.
    #[arg(long, default_value_t = 200)]
    nodes: usize,
    /// Packets per second per radio.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Sessions of the memory phase (and one more at the cap).
    #[arg(long, default_value_t = 10)]
    sessions: usize,
    #[arg(long, default_value_t = 120)]
    session_secs: u64,
    #[arg(long, default_value_t = 16)]
    hammer_conns: usize,
    #[arg(long, default_value_t = 20)]
    hammer_secs: u64,
    #[arg(long, default_value_t = 60)]
    tab_secs: u64,
    #[arg(long, default_value_t = 10)]
    tab_warmup_secs: u64,
    /// Sessions that arrive at the cap phase (both servers' default cap is 10).
    #[arg(long, default_value_t = 11)]
    cap_sessions: usize,
    /// Seconds the sessions at the cap keep polling after the last one connected.
    #[arg(long, default_value_t = 30)]
    cap_secs: u64,
    /// Connects timed alone (fresh session, fresh radio each).
    #[arg(long, default_value_t = 3)]
    connect_samples: usize,
    /// Before each phase, wait up to this many seconds for the machine to be quiet (other
    /// processes below 15 % of one core over 5 s); every figure says how busy it was anyway.
    #[arg(long, default_value_t = 0)]
    wait_quiet_secs: u64,
    /// Where to write each server's `/proc/PID/smaps` at idle and at the end of the memory
    /// phase (`LABEL-idle.smaps`, `LABEL-after.smaps`), for a breakdown by mapping.
    #[arg(long)]
    smaps_dir: Option<PathBuf>,
    /// Phases to run (comma-separated): rss, hammer, tabs, rest.
    #[arg(long, default_value = "rss,hammer,tabs,rest", value_delimiter = ',')]
    phases: Vec<String>,
}

/// What was measured of one server.
#[derive(Default)]
struct Figures {
    idle_kb: Option<u64>,
    after_kb: Option<u64>,
    /// (after − idle) / sessions, kB.
    per_session_kb: Option<f64>,
    sessions_cpu: Option<f64>,
    nodes: Option<Hammered>,
    nodes_reval: Option<Hammered>,
    status: Option<Hammered>,
    packet_tab: Option<TabBytes>,
    nodes_tab: Option<TabBytes>,
    startup_s: Option<f64>,
    first_page: Option<(u64, String)>,
    connect_ms: Vec<f64>,
    kept: Option<(usize, usize)>,
    /// Other processes' CPU (% of one core) during each measurement.
    others: Vec<(&'static str, f64)>,
}

struct TabBytes {
    per_min: f64,
    stream: f64,
    polls: f64,
    reload: f64,
    requests: usize,
    encoding: String,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    // Children start in their own working directories.
    args.meshdeck = args.meshdeck.canonicalize().with_context(|| {
        format!(
            "{} not found (cargo build --release)",
            args.meshdeck.display()
        )
    })?;
    let mut specs = Vec::new();
    for d in &args.original {
        specs.push(Spec::original(d)?);
    }
    anyhow::ensure!(
        args.meshdeck.exists(),
        "{} not found (cargo build --release)",
        args.meshdeck.display()
    );
    specs.push(Spec {
        label: "meshdeck".into(),
        kind: ServerKind::Meshdeck(args.meshdeck.clone()),
    });
    for p in &args.phases {
        anyhow::ensure!(
            ["rss", "hammer", "tabs", "rest"].contains(&p.as_str()),
            "unknown phase {p}"
        );
    }
    let n = specs.len() as u64;
    let per_server = args.session_secs
        + 60
        + 3 * args.hammer_secs
        + 30
        + 2 * (args.tab_secs + args.tab_warmup_secs)
        + 40
        + args.cap_secs
        + 40
        + (args.sessions + args.cap_sessions + args.connect_samples) as u64 * 6;
    let budget = Duration::from_secs(per_server * n + 120);
    procs::run_guarded("sidebyside", budget, run(&args, &specs))
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run(args: &Args, specs: &[Spec]) -> anyhow::Result<()> {
    let started = Instant::now();
    let load_before = load_avg();
    let mut figs: Vec<Figures> = specs.iter().map(|_| Figures::default()).collect();
    for phase in &args.phases {
        for (spec, f) in specs.iter().zip(figs.iter_mut()) {
            if args.wait_quiet_secs > 0 {
                wait_quiet(args.wait_quiet_secs).await;
            }
            eprintln!("== {phase}: {}", spec.label);
            let r = match phase.as_str() {
                "rss" => rss(args, spec, f).await,
                "hammer" => hammer_phase(args, spec, f).await,
                "tabs" => tabs(args, spec, f).await,
                _ => rest(args, spec, f).await,
            };
            r.with_context(|| format!("phase {phase}, {}", spec.label))?;
        }
    }
    print_table(args, specs, &figs, &load_before, started.elapsed());
    Ok(())
}

/// Waits up to `secs` for the machine to be quiet (below 15 % of one core over 5 s).
async fn wait_quiet(secs: u64) {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let busy = proc::machine_busy(Duration::from_secs(5)).await;
        if busy < 15.0 || Instant::now() > until {
            eprintln!("machine busy {busy:.0} % of one core before the phase");
            return;
        }
        eprintln!("machine busy {busy:.0} % of one core (other processes); waiting");
    }
}

/// Copies the server's `/proc/PID/smaps` into `--smaps-dir`, if given.
fn keep_smaps(args: &Args, spec: &Spec, pid: u32, when: &str) -> anyhow::Result<()> {
    let Some(dir) = &args.smaps_dir else {
        return Ok(());
    };
    std::fs::create_dir_all(dir)?;
    let label: String = spec
        .label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let to = dir.join(format!("{label}-{when}.smaps"));
    std::fs::copy(format!("/proc/{pid}/smaps"), &to)
        .with_context(|| format!("copying smaps to {}", to.display()))?;
    Ok(())
}

/// Settles, then reads the server's RSS.
async fn rss_after(pid: u32, settle: Duration) -> anyhow::Result<u64> {
    tokio::time::sleep(settle).await;
    proc::rss_kb(pid).context("the server's /proc/PID/status is gone")
}

async fn rss(args: &Args, spec: &Spec, f: &mut Figures) -> anyhow::Result<()> {
    let (sims, ports) = procs::sims(&args.meshdeck, args.sessions, args.nodes, args.rate).await?;
    let (mut srv, _) =
        procs::server(spec, &args.python, Some(args.sessions as u64 + 10), &[]).await?;
    let idle = rss_after(srv.pid, Duration::from_secs(2)).await?;
    eprintln!(
        "idle RSS {idle} kB ({}); connecting {} sessions",
        proc::rss_parts(srv.pid),
        args.sessions
    );
    keep_smaps(args, spec, srv.pid, "idle")?;
    let mut joins = Vec::new();
    for &port in &ports {
        let (spec, addr) = (spec.clone(), srv.addr);
        joins.push(tokio::spawn(async move {
            let b = Browser::new(addr);
            pages::connect(&spec, &b, port).await?;
            let tab = pages::open(&spec, &b, TabKind::Nodes).await?;
            anyhow::Ok(tab)
        }));
    }
    let mut tabs = Vec::new();
    for j in joins {
        tabs.push(j.await??);
    }
    let c0 = proc::cpu_secs(srv.pid);
    let others = proc::Others::start(vec![srv.pid, sims.pid]);
    eprintln!(
        "{} sessions browsing for {} s",
        tabs.len(),
        args.session_secs
    );
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(args.session_secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        srv.check()?;
        sims.dir.exists().then_some(()).context("sims gone")?;
    }
    let cpu = c0.zip(proc::cpu_secs(srv.pid)).map(|(a, b)| b - a);
    let after = proc::rss_kb(srv.pid).context("server gone")?;
    eprintln!("RSS at the end: {}", proc::rss_parts(srv.pid));
    keep_smaps(args, spec, srv.pid, "after")?;
    f.others.push(("sessions", others.pct()));
    for (i, tab) in tabs.iter().enumerate() {
        if let Some(s) = &tab.stream {
            if s.ended() {
                bail!("session {i}: its live stream ended");
            }
        }
        if !pages::connected(&tab.b).await? {
            bail!("session {i} is not connected at the end");
        }
        let errs = tab.b.errors.load(std::sync::atomic::Ordering::Relaxed);
        if errs > 0 {
            bail!("session {i}: {errs} failed requests");
        }
    }
    let tabs_n = tabs.len();
    for t in tabs {
        t.close();
    }
    eprintln!("RSS {idle} → {after} kB");
    f.idle_kb = Some(idle);
    f.after_kb = Some(after);
    f.per_session_kb = Some((after as f64 - idle as f64) / tabs_n as f64);
    f.sessions_cpu = cpu.map(|c| c / t.elapsed().as_secs_f64() * 100.0);
    drop(srv);
    drop(sims);
    Ok(())
}

/// A session connected to a fresh radio whose node list is complete.
async fn ready_session(
    args: &Args,
    spec: &Spec,
    srv: &procs::Proc,
    port: u16,
) -> anyhow::Result<Arc<Browser>> {
    let b = Browser::new(srv.addr);
    pages::connect(spec, &b, port).await?;
    let t = Instant::now();
    loop {
        let r = b.get("/api/nodes?filter=all", Kind::Fetch, "/").await?;
        let n = r.json()?.as_array().map_or(0, |a| a.len());
        if n + 1 >= args.nodes {
            return Ok(b);
        }
        if t.elapsed() > Duration::from_secs(30) {
            bail!("/api/nodes lists {n} of {} nodes after 30 s", args.nodes);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn hammer_phase(args: &Args, spec: &Spec, f: &mut Figures) -> anyhow::Result<()> {
    let (sims, ports) = procs::sims(&args.meshdeck, 1, args.nodes, args.rate).await?;
    let (srv, _) = procs::server(spec, &args.python, None, &[]).await?;
    let b = ready_session(args, spec, &srv, ports[0]).await?;
    let (c, s) = (args.hammer_conns, args.hammer_secs);
    let path = "/api/nodes?filter=all";
    let o = proc::Others::start(vec![srv.pid, sims.pid]);
    let h = hammer::run(&b, srv.addr, srv.pid, path, c, s, None).await?;
    f.others.push(("/api/nodes", o.pct()));
    eprintln!(
        "{path}: {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, {:.0} B ({}), etag {:?}",
        h.rps, h.p50, h.p99, h.wire, h.encoding, h.etag
    );
    if let Some(tag) = h.etag.clone() {
        let o = proc::Others::start(vec![srv.pid, sims.pid]);
        let r = hammer::run(&b, srv.addr, srv.pid, path, c, s, Some(tag)).await?;
        f.others.push(("revalidating", o.pct()));
        eprintln!(
            "revalidating: {:.0} req/s, p99 {:.1} ms, {:.0} B, {:.0} % 304",
            r.rps,
            r.p99,
            r.wire,
            r.not_modified * 100.0
        );
        f.nodes_reval = Some(r);
    }
    f.nodes = Some(h);
    let o = proc::Others::start(vec![srv.pid, sims.pid]);
    let st = hammer::run(&b, srv.addr, srv.pid, "/api/status", c, s, None).await?;
    f.others.push(("/api/status", o.pct()));
    eprintln!("/api/status: {:.0} req/s, p99 {:.1} ms", st.rps, st.p99);
    f.status = Some(st);
    anyhow::ensure!(pages::connected(&b).await?, "the session lost its radio");
    Ok(())
}

/// One tab for the window; every byte it read then, per minute.
async fn one_tab(
    args: &Args,
    spec: &Spec,
    b: &Arc<Browser>,
    kind: TabKind,
) -> anyhow::Result<TabBytes> {
    let tab = pages::open(spec, b, kind).await?;
    tokio::time::sleep(Duration::from_secs(args.tab_warmup_secs)).await;
    let (t0, s0) = (Instant::now(), tab.stream_bytes());
    tokio::time::sleep(Duration::from_secs(args.tab_secs)).await;
    let (t1, s1) = (Instant::now(), tab.stream_bytes());
    let polls = b.rx_between(t0, t1) as f64;
    let requests = b
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _, _)| *t >= t0 && *t < t1)
        .count();
    let stream = (s1 - s0) as f64;
    let per = 60.0 / (t1 - t0).as_secs_f64();
    // meshdeck's packet log reloads its table every 120 s: inside a shorter window it does
    // not fire, so its share of a minute is added.
    let reload = if kind == TabKind::PacketLog && !tab.original && args.tab_secs < 120 {
        tab.reload().await? as f64 * 60.0 / 120.0
    } else {
        0.0
    };
    if let Some(s) = &tab.stream {
        anyhow::ensure!(!s.ended(), "the tab's live stream ended");
        anyhow::ensure!(
            stream > 0.0,
            "the tab's live stream sent nothing in {} s",
            args.tab_secs
        );
    }
    if tab.original {
        anyhow::ensure!(
            requests >= (args.tab_secs / 3) as usize,
            "the page polled only {requests} times"
        );
        anyhow::ensure!(
            !tab.stopped.load(std::sync::atomic::Ordering::Relaxed),
            "the page stopped polling (disconnected)"
        );
    }
    let encoding = tab
        .stream
        .as_ref()
        .map_or("(polls)".into(), |s| s.encoding.clone());
    tab.close();
    Ok(TabBytes {
        per_min: (stream + polls) * per + reload,
        stream: stream * per,
        polls: polls * per,
        reload,
        requests,
        encoding,
    })
}

async fn tabs(args: &Args, spec: &Spec, f: &mut Figures) -> anyhow::Result<()> {
    let (sims, ports) = procs::sims(&args.meshdeck, 1, args.nodes, args.rate).await?;
    let (mut srv, _) = procs::server(spec, &args.python, None, &[]).await?;
    let b = ready_session(args, spec, &srv, ports[0]).await?;
    let o = proc::Others::start(vec![srv.pid, sims.pid]);
    let p = one_tab(args, spec, &b, TabKind::PacketLog).await?;
    f.others.push(("packet-log tab", o.pct()));
    eprintln!(
        "packet-log tab: {:.1} kB/min (stream {:.1}, polls {:.1}, reload {:.1}; {} requests)",
        p.per_min / 1000.0,
        p.stream / 1000.0,
        p.polls / 1000.0,
        p.reload / 1000.0,
        p.requests
    );
    f.packet_tab = Some(p);
    let o = proc::Others::start(vec![srv.pid, sims.pid]);
    let n = one_tab(args, spec, &b, TabKind::Nodes).await?;
    f.others.push(("nodes tab", o.pct()));
    eprintln!("nodes tab: {:.1} kB/min", n.per_min / 1000.0);
    f.nodes_tab = Some(n);
    srv.check()?;
    Ok(())
}

/// The assets a page loads from its own server (`href="/…"` of stylesheets and icons,
/// `src="/…"` of scripts).
fn assets(html: &str) -> Vec<String> {
    let mut v = Vec::new();
    for tag in html.split('<').skip(1) {
        let name = tag.split_whitespace().next().unwrap_or("");
        let attr = match name {
            "script" => "src=\"",
            "link" if tag.contains("stylesheet") || tag.contains("icon") => "href=\"",
            _ => continue,
        };
        if let Some(i) = tag.find(attr) {
            let rest = &tag[i + attr.len()..];
            if let Some(url) = rest.split('"').next() {
                if url.starts_with('/') && !url.starts_with("//") && !v.iter().any(|u| u == url) {
                    v.push(url.to_string());
                }
            }
        }
    }
    v
}

async fn rest(args: &Args, spec: &Spec, f: &mut Figures) -> anyhow::Result<()> {
    {
        let (_sims, ports) =
            procs::sims(&args.meshdeck, args.connect_samples, args.nodes, args.rate).await?;
        let (srv, startup) = procs::server(spec, &args.python, None, &[]).await?;
        f.startup_s = Some(startup);
        // A new visitor's first page: `/` and what it loads from this server.
        let v = Browser::new(srv.addr);
        let page = v.get("/", Kind::Navigate, "/").await?;
        let mut total = page.wire;
        let mut parts = vec![format!("/ {} B", page.wire)];
        for a in assets(&page.text()?) {
            let r = v.get(&a, Kind::Asset, "/").await?;
            anyhow::ensure!(r.status == 200, "{a}: HTTP {}", r.status);
            total += r.wire;
            parts.push(format!("{a} {} B", r.wire));
        }
        f.first_page = Some((total, parts.join(", ")));
        for &port in &ports {
            let b = Browser::new(srv.addr);
            let took = pages::connect(spec, &b, port).await?;
            f.connect_ms.push(took.as_secs_f64() * 1000.0);
        }
        eprintln!("first page {total} B; connects {:?} ms", f.connect_ms);
    }
    // At the cap: one session more than the default cap, arriving one after another, each
    // with its page's polls running.
    let n = args.cap_sessions;
    let (_sims, ports) = procs::sims(&args.meshdeck, n, args.nodes, args.rate).await?;
    let (mut srv, _) = procs::server(spec, &args.python, None, &[]).await?;
    let mut tabs = Vec::new();
    for &port in &ports {
        let b = Browser::new(srv.addr);
        pages::connect(spec, &b, port).await?;
        tabs.push(pages::open(spec, &b, TabKind::Nodes).await?);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(args.cap_secs)).await;
    srv.check()?;
    let mut kept = 0;
    for t in &tabs {
        kept += usize::from(pages::connected(&t.b).await?);
    }
    eprintln!("at the cap: {kept} of {n} sessions connected");
    f.kept = Some((kept, n));
    for t in tabs {
        t.close();
    }
    Ok(())
}

fn kb(b: f64) -> String {
    if b >= 10_000.0 {
        format!("{:.0} kB", b / 1000.0)
    } else {
        format!("{:.1} kB", b / 1000.0)
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    hammer::pct(&mut v, 0.5)
}

/// `x` = the original's figure over meshdeck's (or the reverse when larger is better).
fn ratio(orig: Option<f64>, ours: Option<f64>, larger_better: bool) -> String {
    match (orig, ours) {
        (Some(o), Some(m)) if o > 0.0 && m > 0.0 => {
            let r = if larger_better { m / o } else { o / m };
            if r >= 10.0 {
                format!("{r:.0}×")
            } else {
                format!("{r:.1}×")
            }
        }
        (Some(o), Some(m)) if larger_better && o == 0.0 && m > 0.0 => "∞".into(),
        _ => "–".into(),
    }
}

type Cell = fn(&Figures) -> Option<(f64, String)>;

fn print_table(args: &Args, specs: &[Spec], figs: &[Figures], load_before: &str, took: Duration) {
    let s = args.sessions;
    let rows: Vec<(String, bool, Cell)> = vec![
        (
            format!(
                "RSS per session, {s} sessions, after {} s",
                args.session_secs
            ),
            false,
            |f| {
                let (i, a, per) = (f.idle_kb?, f.after_kb?, f.per_session_kb?);
                Some((
                    per,
                    format!(
                        "{per:.0} kB ({:.1} → {:.1} MB)",
                        i as f64 / 1024.0,
                        a as f64 / 1024.0
                    ),
                ))
            },
        ),
        (
            format!(
                "GET /api/nodes ({} nodes), {} connections, gzip: req/s",
                args.nodes, args.hammer_conns
            ),
            true,
            |f| {
                let h = f.nodes.as_ref()?;
                Some((
                    h.rps,
                    format!(
                        "{:.0} req/s, p50 {:.1} / p99 {:.1} ms, {} per answer ({})",
                        h.rps,
                        h.p50,
                        h.p99,
                        kb(h.wire),
                        h.encoding
                    ),
                ))
            },
        ),
        ("the same, p99 (ms)".into(), false, |f| {
            f.nodes
                .as_ref()
                .map(|h| (h.p99, format!("{:.1} ms", h.p99)))
        }),
        ("the same, server CPU per answer".into(), false, |f| {
            let h = f.nodes.as_ref()?;
            let c = h.cpu_ms?;
            Some((
                c,
                format!("{c:.2} ms ({} answers, body {} each)", h.count, kb(h.body)),
            ))
        }),
        (
            "the same, revalidating with the ETag (If-None-Match)".into(),
            true,
            |f| {
                let h = f.nodes_reval.as_ref()?;
                Some((
                    h.rps,
                    format!(
                        "{:.0} req/s, p99 {:.1} ms, {} per answer, {:.0} % 304",
                        h.rps,
                        h.p99,
                        kb(h.wire),
                        h.not_modified * 100.0
                    ),
                ))
            },
        ),
        ("one packet-log tab, bytes per minute".into(), false, |f| {
            let t = f.packet_tab.as_ref()?;
            let detail = if t.stream > 0.0 {
                format!(
                    " (stream {} {}, polls {}, reload {})",
                    kb(t.stream),
                    t.encoding,
                    kb(t.polls),
                    kb(t.reload)
                )
            } else {
                format!(" ({} polls)", t.requests)
            };
            Some((t.per_min, format!("{}{detail}", kb(t.per_min))))
        }),
        ("idle RSS".into(), false, |f| {
            f.idle_kb
                .map(|k| (k as f64, format!("{:.1} MB", k as f64 / 1024.0)))
        }),
        (
            "connect (POST /api/connect → answer), median".into(),
            false,
            |f| {
                if f.connect_ms.is_empty() {
                    return None;
                }
                let m = median(&f.connect_ms);
                Some((
                    m,
                    if m >= 1000.0 {
                        format!("{:.2} s", m / 1000.0)
                    } else {
                        format!("{m:.1} ms")
                    },
                ))
            },
        ),
        (
            format!("GET /api/status, {} connections: req/s", args.hammer_conns),
            true,
            |f| {
                f.status
                    .as_ref()
                    .map(|h| (h.rps, format!("{:.0} req/s, p99 {:.1} ms", h.rps, h.p99)))
            },
        ),
        ("one nodes tab, bytes per minute".into(), false, |f| {
            f.nodes_tab.as_ref().map(|t| (t.per_min, kb(t.per_min)))
        }),
        (
            "first page on the wire (`/` and its assets from this server)".into(),
            false,
            |f| {
                f.first_page
                    .as_ref()
                    .map(|(b, _)| (*b as f64, kb(*b as f64)))
            },
        ),
        (
            format!(
                "sessions kept at the cap ({} arrive, cap 10)",
                args.cap_sessions
            ),
            true,
            |f| f.kept.map(|(k, n)| (k as f64, format!("{k} of {n}"))),
        ),
        (
            format!("server CPU, {s} sessions (% of one core)"),
            false,
            |f| f.sessions_cpu.map(|c| (c, format!("{c:.1} %"))),
        ),
    ];
    let originals: Vec<usize> = (0..specs.len())
        .filter(|&i| specs[i].is_original())
        .collect();
    let ours = specs.len() - 1;
    println!();
    print!("| figure |");
    for s in specs {
        print!(" {} |", s.label);
    }
    println!(
        " ratio{} |",
        if originals.len() > 1 {
            " (each revision)"
        } else {
            ""
        }
    );
    print!("| --- |");
    for _ in specs {
        print!(" --- |");
    }
    println!(" --- |");
    for (name, larger, cell) in &rows {
        let cells: Vec<Option<(f64, String)>> = figs.iter().map(cell).collect();
        if cells.iter().all(Option::is_none) {
            continue;
        }
        print!("| {name} |");
        for c in &cells {
            print!(" {} |", c.as_ref().map_or("–", |c| c.1.as_str()));
        }
        let m = cells[ours].as_ref().map(|c| c.0);
        let rs: Vec<String> = originals
            .iter()
            .map(|&i| ratio(cells[i].as_ref().map(|c| c.0), m, *larger))
            .collect();
        println!(" {} |", rs.join(" / "));
    }
    println!();
    for (spec, f) in specs.iter().zip(figs) {
        let o: Vec<String> = f
            .others
            .iter()
            .map(|(k, v)| format!("{k} {v:.0} %"))
            .collect();
        if !o.is_empty() {
            println!(
                "other processes' CPU during {}'s measurements (% of one core): {}",
                spec.label,
                o.join(", ")
            );
        }
    }
    if let Some((_, parts)) = &figs[ours].first_page {
        println!("meshdeck's first page: {parts}");
    }
    println!(
        "radios: `meshdeck sim`, {} nodes, {} packets/s each, seed 1, one radio per session; \
         load average before {load_before}, after {} (2 shared cores: figures are noisy); \
         run took {:.0} s",
        args.nodes,
        args.rate,
        load_avg(),
        took.as_secs_f64()
    );
    println!(
        "command: {}",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
}
