//! Load benchmark (issue 8): N simulated radios and N browser-like clients against a meshdeck
//! server, on loopback only. Each client gets a cookie, connects its own radio, opens a packet
//! log tab's live stream (`/events?port=all`: the status bar and the packet rows; one stream
//! per tab) and then browses for the duration (the full nodes page, the packet log page and
//! `/api/status`, then a think time). Prints one table of figures plus the one-off figures
//! (start-up, idle RSS, connect → full nodes page, first page on the wire, bytes per packet).
//! Bounded in time and count; stops by itself (a watchdog aborts a run that overruns).
//!
//! The server is, by default, the release binary as a child process, so its RSS
//! (`/proc/PID/status` VmRSS) and CPU (`/proc/PID/stat` utime + stime) are its own:
//!
//! ```text
//! cargo build --release && cargo build --release --examples
//! ./target/release/examples/load --sessions 100 --duration-secs 30
//! ./target/release/examples/load --sessions 1 --in-process              # server in this process
//! ./target/release/examples/load --sessions 10 --server-url http://127.0.0.1:5000 --server-pid PID
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use meshdeck::sim::{SimConfig, SimRadio};
use tokio::sync::Semaphore;

#[derive(Parser, Debug)]
#[command(about = "meshdeck load benchmark: N simulated radios, N browser-like clients")]
struct Args {
    /// Sessions: simulated radios and browser-like clients, one each.
    #[arg(long, default_value_t = 10)]
    sessions: usize,
    /// Seconds of steady state (after every session is connected and streaming).
    #[arg(long, default_value_t = 30)]
    duration_secs: u64,
    /// Node DB size of each simulated radio.
    #[arg(long, default_value_t = 250)]
    nodes: usize,
    /// Packets per second per radio.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// Seconds each client waits between two rounds of page loads.
    #[arg(long, default_value_t = 5.0)]
    think_secs: f64,
    /// Run the server inside this process (RSS and CPU then include the radios and clients).
    #[arg(long, conflicts_with = "server_url")]
    in_process: bool,
    /// Use a server that is already running on loopback (its MAX_SESSIONS must be ≥ N).
    #[arg(long)]
    server_url: Option<String>,
    /// With --server-url: the server's process id, to measure its RSS and CPU.
    #[arg(long, requires = "server_url")]
    server_pid: Option<u32>,
    /// The server binary started as a child process (the default mode).
    #[arg(long, default_value = "target/release/meshdeck")]
    bin: String,
    /// The server's session cap (default N + 10); must be ≥ N.
    #[arg(long, env = "MAX_SESSIONS")]
    max_sessions: Option<u64>,
    /// Connects in flight at once (each one is a 250-node config handshake).
    #[arg(long, default_value_t = 32)]
    connect_concurrency: usize,
    /// Connects measured alone (connect → full nodes page) before the concurrent ones.
    #[arg(long, default_value_t = 5)]
    connect_samples: usize,
    /// Open tabs per session; each tab opens every --stream-path.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// The live streams one tab opens (repeat the flag for several). Default: a packet-log
    /// tab's one stream, `/events?port=all` (status bar and packet rows). Other pages open
    /// `/events` (status bar only) or `/events?convo=ch:0` (the messages page).
    #[arg(long)]
    stream_path: Vec<String>,
    /// The nodes-list hammer alone: this many connections fetch `/nodes` and then
    /// `/api/nodes` of one session without think time, each for --duration-secs (same as
    /// --saturate-conns N --saturate-secs DURATION with a 1-second steady state).
    #[arg(long)]
    hammer: Option<usize>,
    /// No page loads, only live streams (to measure the link → ring → SSE path).
    #[arg(long)]
    no_browse: bool,
    /// Ask for pages without gzip (browsers ask for it; by default so does this tool).
    #[arg(long)]
    no_gzip: bool,
    /// First wait up to this many seconds for the machine to be quiet (other processes
    /// below 15% of one core over 5 s); the run says how busy it was either way.
    #[arg(long, default_value_t = 0)]
    wait_quiet_secs: u64,
    /// After the steady state: seconds of GET /nodes and then GET /api/nodes from
    /// --saturate-conns concurrent connections without think time (0 = skip).
    #[arg(long, default_value_t = 0)]
    saturate_secs: u64,
    #[arg(long, default_value_t = 16)]
    saturate_conns: usize,
}

// ---- /proc ----

fn proc_status_kb(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn rss_kb(pid: Option<u32>) -> Option<u64> {
    pid.and_then(|p| proc_status_kb(p, "VmRSS:"))
}

/// CPU seconds (user + system) of a process; clock ticks are 1/100 s on Linux.
fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    let after = s.rsplit(')').next()?;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

fn fds(pid: Option<u32>) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{}/fd", pid?))
        .ok()
        .map(|d| d.count())
}

/// Busy and total CPU seconds of the whole machine (all cores), from `/proc/stat`.
fn machine_cpu() -> Option<(f64, f64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<f64> = s
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = f.iter().take(8).sum();
    let idle = f.get(3)? + f.get(4)?;
    Some(((total - idle) / 100.0, total / 100.0))
}

/// Busy CPU of the whole machine over `d`, in % of one core.
async fn machine_busy(d: Duration) -> f64 {
    let a = machine_cpu();
    tokio::time::sleep(d).await;
    match a.zip(machine_cpu()) {
        Some((a, b)) if b.1 > a.1 => (b.0 - a.0) / d.as_secs_f64() * 100.0,
        _ => f64::NAN,
    }
}

fn threads(pid: Option<u32>) -> Option<u64> {
    pid.and_then(|p| proc_status_kb(p, "Threads:"))
}

// ---- figures ----

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ppp(v: &mut [f64]) -> String {
    format!(
        "{:.1} / {:.1} / {:.1}",
        pct(v, 0.5),
        pct(v, 0.95),
        pct(v, 0.99)
    )
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or("n/a".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Errors, counted by kind, with the first few printed as they happen.
#[derive(Default)]
struct Errors {
    n: AtomicU64,
    kinds: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Errors {
    fn add(&self, kind: impl Into<String>) {
        let kind = kind.into();
        if self.n.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("error: {kind}");
        }
        *self.kinds.lock().unwrap().entry(kind).or_default() += 1;
    }
    fn count(&self) -> u64 {
        self.n.load(Ordering::Relaxed)
    }
}

/// What the live streams received, per stream path (`--stream-path`, in order): bytes,
/// `event:` lines and `event: packet` lines.
struct Sse {
    counts: Vec<[AtomicU64; 3]>,
    open: AtomicU64,
}

impl Sse {
    fn new(paths: usize) -> Sse {
        Sse {
            counts: (0..paths).map(|_| Default::default()).collect(),
            open: AtomicU64::new(0),
        }
    }

    fn snapshot(&self) -> Vec<[u64; 3]> {
        self.counts
            .iter()
            .map(|c| {
                [
                    c[0].load(Ordering::Relaxed),
                    c[1].load(Ordering::Relaxed),
                    c[2].load(Ordering::Relaxed),
                ]
            })
            .collect()
    }

    fn events(&self) -> u64 {
        self.counts
            .iter()
            .map(|c| c[1].load(Ordering::Relaxed))
            .sum()
    }
}

/// One live stream until `stop` turns true (or `limit` passes): counts bytes and `event:`
/// lines.
async fn stream(
    http: reqwest::Client,
    url: String,
    which: usize,
    mut stop: tokio::sync::watch::Receiver<bool>,
    limit: Duration,
    sse: Arc<Sse>,
    errors: Arc<Errors>,
) {
    let req = http
        .get(&url)
        .header("accept-encoding", "gzip")
        .timeout(limit)
        .send();
    let mut r = tokio::select! {
        r = req => match r {
            Ok(r) if r.status() == 200 => r,
            Ok(r) => return errors.add(format!("sse open: HTTP {}", r.status())),
            Err(e) => return errors.add(format!("sse open: {e}")),
        },
        _ = stop.changed() => return errors.add("sse open: no answer before the end"),
    };
    if r.headers().contains_key("content-encoding") {
        errors.add("sse stream compressed: its byte counts are compressed bytes");
    }
    sse.open.fetch_add(1, Ordering::Relaxed);
    let mut line = Vec::with_capacity(32);
    loop {
        let chunk = tokio::select! {
            c = r.chunk() => Some(c),
            _ = stop.changed() => None,
        };
        match chunk {
            None => break,
            Some(Ok(Some(chunk))) => {
                let (mut events, mut packets) = (0, 0);
                for &b in chunk.iter() {
                    if b == b'\n' {
                        if line.starts_with(b"event:") {
                            events += 1;
                            if line.starts_with(b"event: packet") {
                                packets += 1;
                            }
                        }
                        line.clear();
                    } else if line.len() < 32 {
                        line.push(b);
                    }
                }
                let c = &sse.counts[which];
                c[0].fetch_add(chunk.len() as u64, Ordering::Relaxed);
                c[1].fetch_add(events, Ordering::Relaxed);
                c[2].fetch_add(packets, Ordering::Relaxed);
            }
            Some(Ok(None)) => {
                errors.add("sse stream ended by the server");
                break;
            }
            Some(Err(e)) => {
                errors.add(format!("sse stream: {e}"));
                break;
            }
        }
    }
    sse.open.fetch_sub(1, Ordering::Relaxed);
}

/// Connects a client to its radio and loads the nodes page until it lists every node.
/// Returns the time from the connect POST to that page, and the rows it had.
async fn connect(
    http: &reqwest::Client,
    base: &str,
    port: u16,
    want_rows: usize,
) -> Result<(Duration, usize), String> {
    let t = Instant::now();
    let r = http
        .post(format!("{base}/api/connect"))
        .timeout(Duration::from_secs(60))
        .json(&serde_json::json!({"host": "127.0.0.1", "port": port}))
        .send()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let status = r.status();
    let body: serde_json::Value = r.json().await.map_err(|e| format!("connect body: {e}"))?;
    if status != 200 || body["status"] != "connected" {
        return Err(format!("connect: HTTP {status} {body}"));
    }
    // The page must list the whole node DB (the connect returns after the handshake).
    loop {
        let page = http
            .get(format!("{base}/nodes"))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("nodes page: {e}"))?
            .text()
            .await
            .map_err(|e| format!("nodes page body: {e}"))?;
        let rows = page.matches("data-node=").count();
        if rows >= want_rows {
            return Ok((t.elapsed(), rows));
        }
        if t.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "nodes page shows {rows} of {want_rows} nodes after 30 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The server under test.
struct Server {
    base: String,
    pid: Option<u32>,
    mode: &'static str,
    startup: Option<Duration>,
    child: Option<Child>,
    app: Option<meshdeck::App>,
    data: Option<PathBuf>,
    /// Lines the child wrote (stdout and stderr): count, warnings/errors, the last few.
    log: Arc<Mutex<ServerLog>>,
}

#[derive(Default)]
struct ServerLog {
    lines: u64,
    warn: u64,
    error: u64,
    panics: u64,
    last: Vec<String>,
}

fn drain(r: impl std::io::Read + Send + 'static, log: Arc<Mutex<ServerLog>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            let mut l = log.lock().unwrap();
            l.lines += 1;
            l.warn += u64::from(line.contains(" WARN "));
            l.error += u64::from(line.contains(" ERROR "));
            l.panics += u64::from(line.contains("panicked"));
            if l.last.len() < 20
                && (line.contains(" WARN ")
                    || line.contains(" ERROR ")
                    || line.contains("panicked"))
            {
                l.last.push(line);
            }
        }
    });
}

async fn start_server(
    args: &Args,
    max_sessions: u64,
    probe: &reqwest::Client,
) -> anyhow::Result<Server> {
    let log = Arc::new(Mutex::new(ServerLog::default()));
    let data = std::env::temp_dir().join(format!("meshdeck-load-{}", std::process::id()));
    if args.server_url.is_none() {
        std::fs::create_dir_all(&data)?;
    }
    let t0 = Instant::now();
    let mut server = if let Some(url) = &args.server_url {
        let host = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        if !(host.starts_with("127.")
            || host.starts_with("localhost:")
            || host.starts_with("[::1]"))
        {
            bail!("--server-url must be on loopback (http://127.0.0.1:PORT), not {url}");
        }
        Server {
            base: url.trim_end_matches('/').to_string(),
            pid: args.server_pid,
            mode: "external server",
            startup: None,
            child: None,
            app: None,
            data: None,
            log,
        }
    } else if args.in_process {
        let mut c = meshdeck::config::Config::defaults();
        c.bind = "127.0.0.1:0".parse()?;
        c.data_dir = data.clone();
        c.max_sessions = max_sessions;
        let key = meshdeck::cookie_key(Some(&"ab".repeat(64)))?;
        let app = meshdeck::App::start(c, key).await?;
        Server {
            base: format!("http://{}", app.addr),
            pid: Some(std::process::id()),
            mode: "in-process (RSS and CPU include the radios and clients)",
            startup: None,
            child: None,
            app: Some(app),
            data: Some(data),
            log,
        }
    } else {
        let mut child = Command::new(&args.bin)
            .args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(["--max-sessions", &max_sessions.to_string()])
            .env("SECRET_KEY", "ab".repeat(64))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| {
                format!("starting {} (run `cargo build --release` first)", args.bin)
            })?;
        let pid = child.id();
        let mut out = BufReader::new(child.stdout.take().context("child stdout")?);
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            (line, out)
        });
        let (line, out) = tokio::time::timeout(Duration::from_secs(10), line)
            .await
            .context("the server printed no address within 10 s")??;
        drain(out, log.clone());
        drain(child.stderr.take().context("child stderr")?, log.clone());
        let addr = line
            .trim()
            .strip_prefix("meshdeck on ")
            .with_context(|| format!("unexpected first line from the server: {line:?}"))?
            .to_string();
        Server {
            base: addr,
            pid: Some(pid),
            mode: "child process (release binary)",
            startup: None,
            child: Some(child),
            app: None,
            data: Some(data),
            log,
        }
    };
    loop {
        let ok = probe
            .get(format!("{}/healthz", server.base))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            bail!("no /healthz 200 from {} within 10 s", server.base);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    if server.mode != "external server" {
        server.startup = Some(t0.elapsed());
    }
    Ok(server)
}

impl Server {
    async fn metrics(&self, probe: &reqwest::Client) -> String {
        match probe
            .get(format!("{}/metrics", self.base))
            .timeout(Duration::from_secs(30))
            .send()
            .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => {
                eprintln!("metrics: {e}");
                String::new()
            }
        }
    }

    async fn stop(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
        if let Some(d) = &self.data {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Body bytes of one response as received (compressed when the server compressed it).
async fn wire(http: &reqwest::Client, url: &str) -> (usize, String) {
    match http
        .get(url)
        .header("accept-encoding", "gzip")
        .timeout(Duration::from_secs(30))
        .send()
        .await
    {
        Ok(r) => {
            let enc = r
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("identity")
                .to_string();
            let status = r.status();
            let n = r.bytes().await.map(|b| b.len()).unwrap_or(0);
            (n, format!("{status} {enc}"))
        }
        Err(e) => (0, format!("error {e}")),
    }
}

#[derive(Default)]
struct Lat {
    nodes: Vec<f64>,
    packets: Vec<f64>,
    status: Vec<f64>,
    /// Body bytes received per kind.
    bytes: [u64; 3],
    /// (seconds into the steady state, ms) of every request, for the slowest windows.
    when: Vec<(f64, f64)>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if let Some(conns) = args.hammer {
        args.saturate_conns = conns;
        args.saturate_secs = args.duration_secs;
        args.duration_secs = 1;
    }
    let n = args.sessions;
    anyhow::ensure!(n >= 1, "--sessions must be at least 1");
    let max_sessions = args.max_sessions.unwrap_or(n as u64 + 10);
    anyhow::ensure!(
        max_sessions >= n as u64,
        "MAX_SESSIONS / --max-sessions is {max_sessions}, below --sessions {n}: the cap would evict"
    );
    // Whatever happens, the run ends: connects get 1 s each spread over the concurrency,
    // plus two minutes of slack.
    let budget = Duration::from_secs(
        args.duration_secs
            + 2 * args.saturate_secs
            + 120
            + (n as u64 * 2) / args.connect_concurrency.max(1) as u64
            + args.connect_samples as u64 * 2,
    );
    let watched: Arc<Mutex<Option<u32>>> = Arc::new(Mutex::new(None));
    {
        let watched = watched.clone();
        std::thread::spawn(move || {
            std::thread::sleep(budget);
            eprintln!(
                "watchdog: the run took more than {} s; aborting",
                budget.as_secs()
            );
            if let Some(pid) = *watched.lock().unwrap() {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
            std::process::exit(2);
        });
    }

    if args.wait_quiet_secs > 0 {
        let until = Instant::now() + Duration::from_secs(args.wait_quiet_secs);
        loop {
            let busy = machine_busy(Duration::from_secs(5)).await;
            if busy < 15.0 || Instant::now() > until {
                eprintln!("machine busy {busy:.0}% of one core before the run");
                break;
            }
            eprintln!("machine busy {busy:.0}% of one core (other processes); waiting");
        }
    }
    let probe = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let server = start_server(&args, max_sessions, &probe).await?;
    if server.child.is_some() {
        *watched.lock().unwrap() = server.pid;
    }
    let base = server.base.clone();
    eprintln!("server: {} at {base}", server.mode);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = rss_kb(server.pid);
    let idle_threads = threads(server.pid);
    let idle_fds = fds(server.pid);
    let idle_cpu = cpu_secs(server.pid);

    eprintln!(
        "starting {n} simulated radios ({} nodes, {} packets/s each)",
        args.nodes, args.rate
    );
    let mut radios = Vec::with_capacity(n);
    for i in 0..n {
        let cfg = SimConfig {
            index: i as u32,
            nodes: args.nodes,
            rate: args.rate,
            ..SimConfig::default()
        };
        radios.push(SimRadio::bind("127.0.0.1:0", cfg).await?);
    }
    let ports: Vec<u16> = radios.iter().map(|r| r.addr().port()).collect();

    // Every client: its own cookie jar.
    let errors = Arc::new(Errors::default());
    let clients: Vec<reqwest::Client> = (0..n)
        .map(|_| {
            reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
        })
        .collect();

    // Connect → full nodes page: first a few alone, then the rest with bounded concurrency.
    let samples = args.connect_samples.min(n);
    let want_rows = args.nodes.saturating_sub(1).max(1);
    eprintln!(
        "connecting {samples} sessions one at a time, then {} with {} in flight",
        n - samples,
        args.connect_concurrency
    );
    let mut alone = Vec::new();
    let mut rows_seen = 0;
    let mut connected = vec![false; n];
    for i in 0..samples {
        match connect(&clients[i], &base, ports[i], want_rows).await {
            Ok((d, rows)) => {
                alone.push(ms(d));
                rows_seen = rows;
                connected[i] = true;
            }
            Err(e) => errors.add(e),
        }
    }
    let t_connect = Instant::now();
    let sem = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let done = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for i in samples..n {
        let (http, base, sem, port, errors, done) = (
            clients[i].clone(),
            base.clone(),
            sem.clone(),
            ports[i],
            errors.clone(),
            done.clone(),
        );
        handles.push(tokio::spawn(async move {
            let _p = sem.acquire().await.unwrap();
            let r = connect(&http, &base, port, want_rows).await;
            let k = done.fetch_add(1, Ordering::Relaxed) + 1;
            if k.is_multiple_of(100) {
                eprintln!("  {k} connected");
            }
            match r {
                Ok((d, _)) => Some(ms(d)),
                Err(e) => {
                    errors.add(e);
                    None
                }
            }
        }));
    }
    let mut concurrent = Vec::new();
    for (i, h) in (samples..n).zip(handles) {
        if let Some(d) = h.await? {
            concurrent.push(d);
            connected[i] = true;
        }
    }
    let connect_secs = t_connect.elapsed().as_secs_f64();
    let n_ok = connected.iter().filter(|c| **c).count();
    eprintln!("{n_ok} of {n} sessions connected ({connect_secs:.1} s for the concurrent ones)");
    // Links and node DBs only: no live stream is open yet (one pooled connection each).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let links_rss = rss_kb(server.pid);

    // First page on the wire: a new visitor's `/` (the connect page), a connected session's
    // `/nodes` (250 rows), and every asset those pages load; gzip as a browser asks for it.
    let mut first = Vec::new();
    for (who, path) in [
        (&probe, "/"),
        (&clients[0], "/nodes"),
        (&probe, "/assets/app.css"),
        (&probe, "/assets/vendor/htmx-2.0.8.min.js"),
        (&probe, "/assets/vendor/htmx-ext-sse-2.2.4.js"),
        (&probe, "/assets/icon.svg"),
    ] {
        let (bytes, how) = wire(who, &format!("{base}{path}")).await;
        first.push((path, bytes, how));
    }
    let nodes_plain = match clients[0]
        .get(format!("{base}/nodes"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
    {
        Ok(r) => r.bytes().await.map(|b| b.len()).unwrap_or(0),
        Err(_) => 0,
    };

    // Live streams: each session opens its packet-log tab(s).
    eprintln!(
        "opening live streams; then {} s of steady state",
        args.duration_secs
    );
    let paths = if args.stream_path.is_empty() {
        vec!["/events?port=all".to_string()]
    } else {
        args.stream_path.clone()
    };
    let sse = Arc::new(Sse::new(paths.len()));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut stream_tasks = Vec::new();
    for (i, http) in clients.iter().enumerate() {
        if !connected[i] {
            continue;
        }
        for _ in 0..args.streams {
            for (which, path) in paths.iter().enumerate() {
                stream_tasks.push(tokio::spawn(stream(
                    http.clone(),
                    format!("{base}{path}"),
                    which,
                    stop.clone(),
                    budget,
                    sse.clone(),
                    errors.clone(),
                )));
            }
        }
    }
    let want_streams = (n_ok * args.streams * paths.len()) as u64;
    let open_by = Instant::now() + Duration::from_secs(30);
    while sse.open.load(Ordering::Relaxed) < want_streams && Instant::now() < open_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let connected_rss = rss_kb(server.pid);
    let m0 = server.metrics(&probe).await;
    let cpu0 = cpu_secs(server.pid);
    let self_cpu0 = cpu_secs(Some(std::process::id()));
    let s0 = sse.snapshot();
    let t_start = Instant::now();
    let end = t_start + Duration::from_secs(args.duration_secs);

    // Progress, and the peak RSS.
    let peak = Arc::new(AtomicU64::new(connected_rss.unwrap_or(0)));
    let monitor = {
        let (peak, pid, sse, probe, base) = (
            peak.clone(),
            server.pid,
            sse.clone(),
            probe.clone(),
            base.clone(),
        );
        tokio::spawn(async move {
            // CPU (% of one core) of the server and of this tool, per 5-second window.
            let mut cpu_windows = Vec::new();
            let me = Some(std::process::id());
            let mut last = (cpu_secs(pid), cpu_secs(me), Instant::now(), machine_cpu());
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut k = 0u64;
            while Instant::now() < end {
                tick.tick().await;
                if let Some(r) = rss_kb(pid) {
                    peak.fetch_max(r, Ordering::Relaxed);
                }
                k += 1;
                if k.is_multiple_of(5) {
                    let now = (cpu_secs(pid), cpu_secs(me), Instant::now(), machine_cpu());
                    let el = now.2.duration_since(last.2).as_secs_f64();
                    let pc = |a: Option<f64>, b: Option<f64>| {
                        a.zip(b).map_or(f64::NAN, |(a, b)| (b - a) / el * 100.0)
                    };
                    let server = pc(last.0, now.0);
                    let tool = pc(last.1, now.1);
                    let machine = pc(last.3.map(|m| m.0), now.3.map(|m| m.0));
                    // In-process, the server is this process: do not count it twice.
                    let ours = if pid == me { tool } else { server + tool };
                    cpu_windows.push((server, tool, (machine - ours).max(0.0)));
                    last = now;
                }
                if k.is_multiple_of(10) {
                    let m = probe.get(format!("{base}/metrics")).send().await;
                    let m = match m {
                        Ok(r) => r.text().await.unwrap_or_default(),
                        Err(_) => String::new(),
                    };
                    eprintln!(
                        "  {k} s: RSS {} MB, packets in {:.0}, streams open {}, SSE events {}, lagged {:.0}",
                        mb(rss_kb(pid)),
                        metric(&m, "meshdeck_packets_in_total"),
                        sse.open.load(Ordering::Relaxed),
                        sse.events(),
                        metric(&m, "meshdeck_sse_lagged_total"),
                    );
                }
            }
            cpu_windows
        })
    };

    let mut workers = Vec::new();
    for (i, http) in clients.iter().enumerate() {
        if !connected[i] || args.no_browse {
            continue;
        }
        let (http, base, errors, think, gzip) = (
            http.clone(),
            base.clone(),
            errors.clone(),
            args.think_secs,
            !args.no_gzip,
        );
        workers.push(tokio::spawn(async move {
            let mut lat = Lat::default();
            // Spread the clients over the think time.
            tokio::time::sleep(Duration::from_secs_f64(think * (i as f64 / n as f64))).await;
            while Instant::now() < end {
                for (path, which) in [("/nodes", 0), ("/packets", 1), ("/api/status", 2)] {
                    let t = Instant::now();
                    let mut req = http
                        .get(format!("{base}{path}"))
                        .timeout(Duration::from_secs(30));
                    // Pages as a browser asks for them (gzip); the JSON as a script does.
                    if which < 2 && gzip {
                        req = req.header("accept-encoding", "gzip");
                    }
                    let r = match req.send().await {
                        Ok(r) if r.status() == 200 => r,
                        Ok(r) => {
                            errors.add(format!("{path}: HTTP {}", r.status()));
                            continue;
                        }
                        Err(e) => {
                            errors.add(format!("{path}: {e}"));
                            continue;
                        }
                    };
                    let body = match r.bytes().await {
                        Ok(b) => b,
                        Err(e) => {
                            errors.add(format!("{path} body: {e}"));
                            continue;
                        }
                    };
                    let d = ms(t.elapsed());
                    // A session that lost its link gets a 200 too: check the status.
                    if which == 2 && !memfind(&body, b"\"connected\":true") {
                        errors.add(format!("{path}: not connected any more"));
                    }
                    lat.bytes[which] += body.len() as u64;
                    lat.when
                        .push((t.saturating_duration_since(t_start).as_secs_f64(), d));
                    match which {
                        0 => lat.nodes.push(d),
                        1 => lat.packets.push(d),
                        _ => lat.status.push(d),
                    }
                }
                let next = Instant::now() + Duration::from_secs_f64(think);
                tokio::time::sleep_until(next.min(end).into()).await;
            }
            lat
        }));
    }
    // The steady state's figures are taken at its end; the requests in flight then finish.
    tokio::time::sleep_until(end.into()).await;
    let secs = t_start.elapsed().as_secs_f64();
    let cpu = cpu0.zip(cpu_secs(server.pid)).map(|(a, b)| b - a);
    let self_cpu = self_cpu0
        .zip(cpu_secs(Some(std::process::id())))
        .map(|(a, b)| b - a);
    let s1 = sse.snapshot();
    let m1 = server.metrics(&probe).await;
    let end_rss = rss_kb(server.pid);
    let busy_fds = fds(server.pid);
    let busy_threads = threads(server.pid);
    let streams_open = sse.open.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    let mut lat = Lat::default();
    for w in workers {
        let l = w.await?;
        lat.nodes.extend(l.nodes);
        lat.when.extend(l.when);
        lat.packets.extend(l.packets);
        lat.status.extend(l.status);
        for k in 0..3 {
            lat.bytes[k] += l.bytes[k];
        }
    }
    let cpu_windows = monitor.await.unwrap_or_default();
    for t in stream_tasks {
        let _ = t.await;
    }

    // Optional: the nodes list without think time from a few connections.
    let mut saturate = Vec::new();
    if args.saturate_secs > 0 {
        for path in ["/nodes", "/api/nodes"] {
            eprintln!(
                "saturating {path} from {} connections for {} s",
                args.saturate_conns, args.saturate_secs
            );
            let until = Instant::now() + Duration::from_secs(args.saturate_secs);
            let t = Instant::now();
            let c0 = cpu_secs(server.pid);
            let mut hs = Vec::new();
            for _ in 0..args.saturate_conns {
                // One client per connection, sharing session 0's cookie.
                let (http, base, errors, gzip) = (
                    clients[0].clone(),
                    base.clone(),
                    errors.clone(),
                    !args.no_gzip,
                );
                hs.push(tokio::spawn(async move {
                    let mut v = Vec::new();
                    let mut bytes = 0;
                    while Instant::now() < until {
                        let t = Instant::now();
                        let mut req = http
                            .get(format!("{base}{path}"))
                            .timeout(Duration::from_secs(30));
                        if gzip {
                            req = req.header("accept-encoding", "gzip");
                        }
                        match req.send().await {
                            Ok(r) if r.status() == 200 => match r.bytes().await {
                                Ok(b) => {
                                    bytes = b.len();
                                    v.push(ms(t.elapsed()));
                                }
                                Err(e) => errors.add(format!("saturate {path} body: {e}")),
                            },
                            Ok(r) => errors.add(format!("saturate {path}: HTTP {}", r.status())),
                            Err(e) => errors.add(format!("saturate {path}: {e}")),
                        }
                    }
                    (v, bytes)
                }));
            }
            let mut v = Vec::new();
            let mut bytes = 0;
            for h in hs {
                let (l, b) = h.await?;
                v.extend(l);
                bytes = b;
            }
            let el = t.elapsed().as_secs_f64();
            let c = c0.zip(cpu_secs(server.pid)).map(|(a, b)| b - a);
            let count = v.len() as f64;
            saturate.push((path, count / el, ppp(&mut v), c, count, bytes));
        }
    }

    // ---- the table ----
    let packets_in =
        metric(&m1, "meshdeck_packets_in_total") - metric(&m0, "meshdeck_packets_in_total");
    let lagged =
        metric(&m1, "meshdeck_sse_lagged_total") - metric(&m0, "meshdeck_sse_lagged_total");
    let lagged_total = metric(&m1, "meshdeck_sse_lagged_total");
    // Per stream path: bytes, events, packet rows during the steady state.
    let per_path: Vec<[u64; 3]> = s1
        .iter()
        .zip(&s0)
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
    println!("server: {} · {} radios of {} nodes at {} packets/s · {} packet-log tab(s) per session · think {} s", server.mode, n, args.nodes, args.rate, args.streams, args.think_secs);
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
        packets_in / n_ok.max(1) as f64 + args.rate * 2.0,
        per(connected_rss, end_rss),
        per(idle_rss, end_rss),
    );
    println!(
        "- connect → full nodes page ({} rows): alone median {:.1} ms (min {:.1}, max {:.1}, {} samples); {} in flight p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms ({} connects in {:.1} s)",
        rows_seen,
        pct(&mut alone, 0.5),
        alone.iter().copied().fold(f64::INFINITY, f64::min),
        alone.iter().copied().fold(0.0, f64::max),
        alone.len(),
        args.connect_concurrency,
        pct(&mut concurrent, 0.5),
        pct(&mut concurrent, 0.95),
        pct(&mut concurrent, 0.99),
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
        lat.nodes.len() + lat.packets.len() + lat.status.len(),
        (lat.nodes.len() + lat.packets.len() + lat.status.len()) as f64 / secs,
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
        mb(Some(peak.load(Ordering::Relaxed)).filter(|p| *p > 0)),
        idle_fds.map_or("n/a".into(), |t| t.to_string()),
        busy_fds.map_or("n/a".into(), |t| t.to_string()),
        idle_threads.map_or("n/a".into(), |t| t.to_string()),
        busy_threads.map_or("n/a".into(), |t| t.to_string()),
    );
    println!(
        "- metrics at the end: sessions {:.0}, links {:.0}, SSE clients {:.0}, lagged total {lagged_total:.0}, send queue {:.0}; idle → end CPU {}",
        metric(&m1, "meshdeck_sessions"),
        metric(&m1, "meshdeck_links_open"),
        metric(&m1, "meshdeck_sse_clients"),
        metric(&m1, "meshdeck_send_queue_depth"),
        idle_cpu.zip(cpu_secs(server.pid)).map_or("n/a".into(), |(a, b)| format!("{:.1} s", b - a)),
    );
    for (path, rps, p, c, count, bytes) in &saturate {
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
    server.stop().await;
    for r in &radios {
        r.shutdown();
    }
    Ok(())
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
