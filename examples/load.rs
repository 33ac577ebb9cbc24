//! Load benchmark (issue 8): N simulated radios and N browser-like clients against a meshdeck
//! server, on loopback only (`--radios R`: R radios shared round-robin by the N sessions, the
//! server's one link per radio). Each client gets a cookie, connects its radio, opens a packet
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
//! ./target/release/examples/load --sessions 100 --radios 10             # 10 sessions per radio
//! ./target/release/examples/load --sessions 10 --server-url http://127.0.0.1:5000 --server-pid PID
//! ```
//!
//! Where things live: `server` (the server under test), `connect` (the sessions connect),
//! `streams` (their live streams), `steady` (the steady state: browsing and the monitor),
//! `saturate` (the nodes list without think time), `report` (what is printed), `figures`;
//! the `/proc` readers and the stream client are shared with the soak tool (`support`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "load/connect.rs"]
mod connect;
#[path = "load/figures.rs"]
mod figures;
#[path = "load/report.rs"]
mod report;
#[path = "load/saturate.rs"]
mod saturate;
#[path = "load/server.rs"]
mod server;
#[path = "load/steady.rs"]
mod steady;
#[path = "load/streams.rs"]
mod streams;
#[path = "support/mod.rs"]
mod support;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use meshdeck::sim::{SimConfig, SimRadio};

use figures::Errors;
use support::proc;
#[derive(Parser, Debug)]
#[command(about = "meshdeck load benchmark: N simulated radios, N browser-like clients")]
struct Args {
    /// Sessions: simulated radios and browser-like clients, one each.
    #[arg(long, default_value_t = 10)]
    sessions: usize,
    /// Simulated radios the sessions share, round-robin (session i on radio i mod N); the
    /// server holds one link per radio. Default: one radio per session.
    #[arg(long)]
    radios: Option<usize>,
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

/// The server at rest, before any radio or session.
pub struct Idle {
    pub rss: Option<u64>,
    pub threads: Option<u64>,
    pub fds: Option<usize>,
    pub cpu: Option<f64>,
}

impl Idle {
    fn take(pid: Option<u32>) -> Idle {
        Idle {
            rss: pid.and_then(proc::rss_kb),
            threads: pid.and_then(proc::threads),
            fds: pid.and_then(proc::fds),
            cpu: pid.and_then(proc::cpu_secs),
        }
    }
}

/// The first page on the wire: each path's body bytes as received and how it came, and the
/// nodes page without gzip.
pub struct FirstPage {
    pub assets: Vec<(&'static str, usize, String)>,
    pub nodes_plain: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    let (n, max_sessions) = settle(&mut args)?;
    let budget = budget(&args, n);
    let watched = watchdog(budget);
    if args.wait_quiet_secs > 0 {
        wait_quiet(args.wait_quiet_secs).await;
    }
    let probe = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let server = server::start_server(&args, max_sessions, &probe).await?;
    if server.child.is_some() {
        *watched.lock().unwrap() = server.pid;
    }
    let base = server.base.clone();
    eprintln!("server: {} at {base}", server.mode);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = Idle::take(server.pid);

    let r = args.radios.unwrap_or(n);
    let radios = spawn_radios(&args, r).await?;
    let ports: Vec<u16> = (0..n).map(|i| radios[i % r].addr().port()).collect();
    let errors = Arc::new(Errors::default());
    let clients = clients(n);
    let mut connects =
        connect_sessions(&args, r, &clients, &base, &ports, &errors, &server).await?;
    // Links and node DBs only: no live stream is open yet (one pooled connection each).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let links_rss = server.pid.and_then(proc::rss_kb);
    let first = first_page(&probe, &clients[0], &base).await;

    let streams = streams::open(&args, &clients, &connects.connected, &base, budget, &errors).await;
    let paths = streams.paths.clone();
    let mut steady = steady::run(
        &args,
        &server,
        &probe,
        &clients,
        &connects.connected,
        streams,
        &errors,
    )
    .await?;
    let saturated = saturate::run(&args, server.pid, &clients[0], &base, &errors).await?;

    report::print(
        &args,
        &server,
        &idle,
        links_rss,
        &mut connects,
        &first,
        &paths,
        &mut steady,
        &saturated,
        &errors,
    );
    server.stop().await;
    for r in &radios {
        r.shutdown();
    }
    Ok(())
}

/// Applies `--hammer` and checks the session count and cap; gives both.
fn settle(args: &mut Args) -> anyhow::Result<(usize, u64)> {
    if let Some(conns) = args.hammer {
        args.saturate_conns = conns;
        args.saturate_secs = args.duration_secs;
        args.duration_secs = 1;
    }
    let n = args.sessions;
    anyhow::ensure!(n >= 1, "--sessions must be at least 1");
    if let Some(r) = args.radios {
        anyhow::ensure!(
            (1..=n).contains(&r),
            "--radios must be 1 to --sessions ({n}), not {r}"
        );
    }
    let max_sessions = args.max_sessions.unwrap_or(n as u64 + 10);
    anyhow::ensure!(
        max_sessions >= n as u64,
        "MAX_SESSIONS / --max-sessions is {max_sessions}, below --sessions {n}: the cap would evict"
    );
    Ok((n, max_sessions))
}

/// Whatever happens, the run ends: connects get 1 s each spread over the concurrency,
/// plus two minutes of slack.
fn budget(args: &Args, n: usize) -> Duration {
    Duration::from_secs(
        args.duration_secs
            + 2 * args.saturate_secs
            + 120
            + (n as u64 * 2) / args.connect_concurrency.max(1) as u64
            + args.connect_samples as u64 * 2,
    )
}

/// Aborts the run (and kills the child server, once it is set) after `budget`.
fn watchdog(budget: Duration) -> Arc<Mutex<Option<u32>>> {
    let watched: Arc<Mutex<Option<u32>>> = Arc::new(Mutex::new(None));
    let w = watched.clone();
    std::thread::spawn(move || {
        std::thread::sleep(budget);
        eprintln!(
            "watchdog: the run took more than {} s; aborting",
            budget.as_secs()
        );
        if let Some(pid) = *w.lock().unwrap() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
        std::process::exit(2);
    });
    watched
}

/// Waits up to `secs` for the machine to be quiet (below 15% of one core over 5 s).
async fn wait_quiet(secs: u64) {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let busy = proc::machine_busy(Duration::from_secs(5)).await;
        if busy < 15.0 || Instant::now() > until {
            eprintln!("machine busy {busy:.0}% of one core before the run");
            break;
        }
        eprintln!("machine busy {busy:.0}% of one core (other processes); waiting");
    }
}

async fn spawn_radios(args: &Args, n: usize) -> anyhow::Result<Vec<SimRadio>> {
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
    Ok(radios)
}

/// Connects every session. With `--radios` fewer than the sessions, first one session per
/// radio (each opens a link), then the RSS, then the rest, which attach to those links: the
/// two RSS steps are the cost of a radio and of an attached session.
async fn connect_sessions(
    args: &Args,
    r: usize,
    clients: &[reqwest::Client],
    base: &str,
    ports: &[u16],
    errors: &Arc<Errors>,
    server: &server::Server,
) -> anyhow::Result<connect::Connects> {
    let samples = args.connect_samples;
    if r == clients.len() {
        return connect::connect_all(args, samples, clients, base, ports, errors).await;
    }
    let mut first =
        connect::connect_all(args, samples, &clients[..r], base, &ports[..r], errors).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.radios_rss = server.pid.and_then(proc::rss_kb);
    let rest = connect::connect_all(args, 0, &clients[r..], base, &ports[r..], errors).await?;
    Ok(first.then(rest))
}

/// Every client: its own cookie jar.
fn clients(n: usize) -> Vec<reqwest::Client> {
    (0..n)
        .map(|_| {
            reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
        })
        .collect()
}

/// First page on the wire: a new visitor's `/` (the connect page), a connected session's
/// `/nodes` (250 rows), and every asset those pages load; gzip as a browser asks for it.
async fn first_page(probe: &reqwest::Client, session: &reqwest::Client, base: &str) -> FirstPage {
    let mut assets = Vec::new();
    for (who, path) in [
        (probe, "/"),
        (session, "/nodes"),
        (probe, "/assets/app.css"),
        (probe, "/assets/vendor/htmx-2.0.8.min.js"),
        (probe, "/assets/vendor/htmx-ext-sse-2.2.4.js"),
        (probe, "/assets/icon.svg"),
    ] {
        let (bytes, how) = server::wire(who, &format!("{base}{path}")).await;
        assets.push((path, bytes, how));
    }
    let nodes_plain = match session
        .get(format!("{base}/nodes"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
    {
        Ok(r) => r.bytes().await.map(|b| b.len()).unwrap_or(0),
        Err(_) => 0,
    };
    FirstPage {
        assets,
        nodes_plain,
    }
}
