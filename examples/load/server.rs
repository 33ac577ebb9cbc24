//! The server under test: the release binary as a child process (its log drained and
//! tallied), the app inside this process, or one already running on loopback; and the
//! few requests the tool makes of it as a whole (`/metrics`, bytes on the wire).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::Args;

/// The server under test.
pub struct Server {
    pub base: String,
    pub pid: Option<u32>,
    pub mode: &'static str,
    pub startup: Option<Duration>,
    pub child: Option<Child>,
    pub app: Option<meshdeck::App>,
    pub data: Option<PathBuf>,
    /// Lines the child wrote (stdout and stderr): count, warnings/errors, the last few.
    pub log: Arc<Mutex<ServerLog>>,
}

#[derive(Default)]
pub struct ServerLog {
    pub lines: u64,
    pub warn: u64,
    pub error: u64,
    pub panics: u64,
    pub last: Vec<String>,
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

pub async fn start_server(
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
    pub async fn metrics(&self, probe: &reqwest::Client) -> String {
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

    pub async fn stop(mut self) {
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
pub async fn wire(http: &reqwest::Client, url: &str) -> (usize, String) {
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
