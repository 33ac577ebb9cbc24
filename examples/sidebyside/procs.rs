//! The processes a phase starts: a server under test (meshdeck's release binary, or one
//! revision of the original Flask app run by python3 on loopback with its debugger and
//! reloader off) and the simulated radios (`meshdeck sim`). Every child is registered, so
//! whatever ends the tool (an error, a panic, Ctrl-C, the watchdog) ends its children; each
//! phase starts fresh ones in a fresh working directory.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::http::{Browser, Kind};

/// Every child alive, by pid.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// Kills every registered child (SIGKILL) and waits for nothing: for the exit paths that do
/// not unwind (signals, the watchdog).
pub fn kill_all() {
    let pids = std::mem::take(&mut *CHILDREN.lock().unwrap());
    for pid in pids {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
}

/// The original's `__main__` block minus the debugger, the reloader and 0.0.0.0: the
/// database, the configuration files and (newer revision) the persistent sessions and the
/// auto-responder file watcher, then Flask's threaded server on 127.0.0.1.
const LAUNCHER: &str = r#"
import sys, os
d, port = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, d)
import app_multiuser as m
if hasattr(m, "init_database"):
    m.init_database()
m.load_autoresponder_config()
m.load_beacon_config()
if hasattr(m, "load_persistent_sessions"):
    m.load_persistent_sessions()
if hasattr(m, "AutoresponderConfigHandler"):
    from watchdog.observers import Observer
    o = Observer()
    o.schedule(m.AutoresponderConfigHandler(), path=os.path.dirname(os.path.abspath(m.AUTORESPONDER_FILE)) or ".", recursive=False)
    o.start()
m.app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False, threaded=True)
"#;

/// Which server.
#[derive(Clone, Debug)]
pub enum ServerKind {
    Meshdeck(PathBuf),
    /// An exported revision of the original; `newer` when it has persistent sessions.
    Original {
        dir: PathBuf,
        newer: bool,
    },
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub label: String,
    pub kind: ServerKind,
}

impl Spec {
    pub fn original(dir: &Path) -> anyhow::Result<Spec> {
        let app = std::fs::read_to_string(dir.join("app_multiuser.py")).with_context(|| {
            format!(
                "{} has no app_multiuser.py (export a revision of the original there)",
                dir.display()
            )
        })?;
        anyhow::ensure!(
            dir.join("templates/index.html").exists(),
            "{} has no templates/index.html",
            dir.display()
        );
        let newer = app.contains("/api/sessions");
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Ok(Spec {
            label: format!(
                "original {} ({})",
                name,
                if newer { "newer" } else { "older" }
            ),
            kind: ServerKind::Original {
                dir: dir.to_path_buf(),
                newer,
            },
        })
    }

    pub fn is_original(&self) -> bool {
        matches!(self.kind, ServerKind::Original { .. })
    }

    pub fn newer(&self) -> bool {
        matches!(self.kind, ServerKind::Original { newer: true, .. })
    }
}

/// A child process, killed when dropped; its working directory is removed.
pub struct Proc {
    child: Child,
    pub pid: u32,
    pub dir: PathBuf,
    pub addr: SocketAddr,
    pub what: String,
}

impl Proc {
    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Fails when the process has exited.
    pub fn check(&mut self) -> anyhow::Result<()> {
        if let Some(st) = self.child.try_wait()? {
            bail!(
                "{} exited ({st}); its log ends:\n{}",
                self.what,
                self.log_tail()
            );
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        CHILDREN.lock().unwrap().retain(|p| *p != self.pid);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn work_dir(tag: &str) -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "meshdeck-sbs-{}-{}-{tag}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

fn spawn(mut cmd: Command, dir: PathBuf, what: String) -> anyhow::Result<Proc> {
    let log = std::fs::File::create(dir.join("log"))?;
    cmd.stdout(Stdio::piped())
        .stderr(log)
        .stdin(Stdio::null())
        .current_dir(&dir);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(anyhow::Error::new(e).context(format!("starting {what}")));
        }
    };
    let pid = child.id();
    CHILDREN.lock().unwrap().push(pid);
    Ok(Proc {
        child,
        pid,
        dir,
        addr: ([127, 0, 0, 1], 0).into(),
        what,
    })
}

/// Reads the child's stdout on a thread until `want` lines matched `pick` (each gives an
/// address), then copies the rest to its log file.
async fn addresses(
    p: &mut Proc,
    want: usize,
    pick: fn(&str) -> Option<SocketAddr>,
) -> anyhow::Result<Vec<SocketAddr>> {
    let out = p.child.stdout.take().context("child stdout")?;
    let logpath = p.dir.join("stdout");
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(out);
        let mut found = Vec::new();
        let mut line = String::new();
        let mut tx = Some(tx);
        let mut rest = std::fs::File::create(logpath).ok();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if tx.is_some() {
                if let Some(a) = pick(line.trim()) {
                    found.push(a);
                    if found.len() == want {
                        let _ = tx.take().map(|t| t.send(std::mem::take(&mut found)));
                    }
                }
            } else if let Some(f) = rest.as_mut() {
                use std::io::Write;
                let _ = f.write_all(line.as_bytes());
            }
        }
    });
    match tokio::time::timeout(Duration::from_secs(60), rx).await {
        Ok(Ok(a)) => Ok(a),
        _ => {
            p.check()?;
            bail!("{} did not say where it listens within 60 s", p.what)
        }
    }
}

/// `meshdeck sim` with `n` radios (seed 1, so radio i has the same mesh in every phase and
/// for every server).
pub async fn sims(
    bin: &Path,
    n: usize,
    nodes: usize,
    rate: f64,
) -> anyhow::Result<(Proc, Vec<u16>)> {
    let dir = work_dir("sim")?;
    let mut cmd = Command::new(bin);
    cmd.arg("sim");
    for _ in 0..n {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    cmd.args([
        "--nodes",
        &nodes.to_string(),
        "--rate",
        &rate.to_string(),
        "--seed",
        "1",
    ]);
    let mut p = spawn(cmd, dir, format!("meshdeck sim ({n} radios)"))?;
    let addrs = addresses(&mut p, n, |l| {
        l.split(" listening on ")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
    .await?;
    Ok((p, addrs.iter().map(|a| a.port()).collect()))
}

/// Starts a server and waits until `/` answers 200 (a request without a cookie, which
/// creates no session in either server).
pub async fn server(
    spec: &Spec,
    python: &str,
    max_sessions: Option<u64>,
    extra: &[String],
) -> anyhow::Result<(Proc, f64)> {
    let t0 = Instant::now();
    let mut p = match &spec.kind {
        ServerKind::Meshdeck(bin) => {
            let dir = work_dir("meshdeck")?;
            let mut cmd = Command::new(bin);
            cmd.args(["--bind", "127.0.0.1:0", "--data-dir"])
                .arg(dir.join("data"))
                .env("SECRET_KEY", "ab".repeat(64))
                .env("RUST_LOG", "warn");
            if let Some(m) = max_sessions {
                cmd.args(["--max-sessions", &m.to_string()]);
            }
            cmd.args(extra);
            let mut p = spawn(cmd, dir, spec.label.clone())?;
            let a = addresses(&mut p, 1, |l| {
                l.strip_prefix("meshdeck on ")?
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .parse()
                    .ok()
            })
            .await?;
            p.addr = a[0];
            p
        }
        ServerKind::Original { dir: src, .. } => {
            let dir = work_dir("original")?;
            // As it ships: its own JSON files (auto-responder rules) in the working directory.
            for e in std::fs::read_dir(src)?.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "json") {
                    std::fs::copy(&path, dir.join(e.file_name()))?;
                }
            }
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let mut cmd = Command::new(python);
            cmd.args(["-u", "-c", LAUNCHER])
                .arg(src.canonicalize()?)
                .arg(port.to_string())
                .env("PYTHONDONTWRITEBYTECODE", "1");
            let mut p = spawn(cmd, dir.clone(), spec.label.clone())?;
            p.addr = ([127, 0, 0, 1], port).into();
            // Its stdout (prints) goes to a file nobody reads, so the pipe never fills.
            let out = p.child.stdout.take().context("stdout")?;
            std::thread::spawn(move || {
                let mut out = out;
                if let Ok(mut f) = std::fs::File::create(dir.join("stdout")) {
                    let _ = std::io::copy(&mut out, &mut f);
                }
            });
            p
        }
    };
    let probe = Browser::new(p.addr);
    loop {
        if let Ok(r) = probe.get("/", Kind::Navigate, "/").await {
            if r.status == 200 {
                break;
            }
        }
        p.check()?;
        if t0.elapsed() > Duration::from_secs(60) {
            bail!(
                "{}: no 200 from / within 60 s:\n{}",
                spec.label,
                p.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok((p, t0.elapsed().as_secs_f64()))
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Runs `run` on two worker threads until it ends, a stop signal comes, or `budget` passes
/// (then exit 2); every child is killed either way, and a failure is exit 1 with `tool`'s name.
pub fn run_guarded(
    tool: &str,
    budget: Duration,
    run: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    std::thread::spawn(move || {
        std::thread::sleep(budget);
        eprintln!(
            "watchdog: the run took more than {} s; aborting",
            budget.as_secs()
        );
        kill_all();
        std::process::exit(2);
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        tokio::select! {
            r = run => r,
            _ = stop_signal() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    kill_all();
    if let Err(e) = result {
        eprintln!("{tool} FAILED: {e:#}");
        std::process::exit(1);
    }
    Ok(())
}
