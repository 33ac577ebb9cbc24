//! `spawn_app`, `spawn_radio` and a `Browser` (an HTTP client with its own cookie jar) with
//! one method per endpoint.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use meshdeck::config::Config;
use meshdeck::sim::{SimConfig, SimRadio};
use meshdeck::App;
use serde_json::{json, Value};

pub struct TestApp {
    pub app: App,
    pub base: String,
    pub dir: TempDir,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "meshdeck-it-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) * 1_000_003 + u64::from(std::process::id())
}

/// The default test configuration: port 0, a fresh data dir, short timeouts.
pub fn test_config(dir: &TempDir) -> Config {
    let mut c = Config::defaults();
    c.bind = "127.0.0.1:0".parse().unwrap();
    c.data_dir = dir.0.clone();
    c.connect_timeout = 3;
    c
}

pub async fn spawn_app_with(f: impl FnOnce(&mut Config)) -> TestApp {
    let dir = TempDir::new();
    let mut config = test_config(&dir);
    f(&mut config);
    spawn_app_in(dir, config).await
}

pub async fn spawn_app_in(dir: TempDir, config: Config) -> TestApp {
    let key = meshdeck::cookie_key(Some(&"ab".repeat(64))).unwrap();
    let app = App::start(config, key).await.unwrap();
    let base = format!("http://{}", app.addr);
    TestApp { app, base, dir }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A simulated radio on an ephemeral loopback port, quiet unless `rate` is set.
pub async fn spawn_radio(index: u32, nodes: usize) -> SimRadio {
    spawn_radio_with(SimConfig {
        index,
        nodes,
        rate: 0.0,
        ..SimConfig::default()
    })
    .await
}

pub async fn spawn_radio_with(cfg: SimConfig) -> SimRadio {
    SimRadio::bind("127.0.0.1:0", cfg).await.unwrap()
}

/// Polls `f` until it is true or `secs` pass.
pub async fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A browser-like client: its own cookie jar.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl TestApp {
    pub fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.base.clone(),
        }
    }
}

impl Browser {
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_html(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn connect(&self, radio: &SimRadio) -> (u16, Value) {
        self.post_json(
            "/api/connect",
            json!({"host": "127.0.0.1", "port": radio.addr().port()}),
        )
        .await
    }

    pub async fn status(&self) -> Value {
        self.get_json("/api/status").await.1
    }

    pub async fn nodes(&self, filter: &str) -> Vec<Value> {
        let (s, v) = self.get_json(&format!("/api/nodes?filter={filter}")).await;
        assert_eq!(s, 200, "{v}");
        v.as_array().unwrap().clone()
    }
}
