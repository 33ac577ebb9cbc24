//! The harness: `spawn_app` starts the real server on port 0 in a fresh data directory; the
//! `TestApp` owns that directory and the simulated radios it spawns, and hands out
//! `Browser`s (an HTTP client with its own cookie jar, one method per endpoint).
//!
//! `radio` has the simulated radios' configs, what reached a radio (its request log) and
//! packets to inject; `poll` has `eventually`; `process` runs the binary itself.

mod browser;
mod poll;
mod process;
mod radio;

use std::path::PathBuf;
use std::sync::Mutex;

use meshdeck::config::Config;
use meshdeck::sim::{SimConfig, SimRadio};
use meshdeck::App;

pub use browser::{read_for, read_until, read_until_all, Browser};
pub use poll::{eventually, ms, secs, within};
pub use process::{listening, meshdeck, run_with_input, terminate};
pub use radio::*;

pub struct TestApp {
    pub app: App,
    pub base: String,
    pub dir: TempDir,
    /// What the app was started with (a restart starts it so again).
    pub config: Config,
    radios: Radios,
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

/// The simulated radios of a test app; shut down with it.
#[derive(Default)]
struct Radios(Mutex<Vec<SimRadio>>);

impl Drop for Radios {
    fn drop(&mut self) {
        let radios = self.0.get_mut().unwrap_or_else(|e| e.into_inner());
        for r in radios.iter() {
            r.shutdown();
        }
    }
}

/// The default test configuration: port 0, a fresh data dir, short timeouts.
pub fn test_config(dir: &TempDir) -> Config {
    let mut c = Config::defaults();
    c.bind = "127.0.0.1:0".parse().unwrap();
    c.data_dir = dir.0.clone();
    c.connect_timeout = 3;
    c
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(f: impl FnOnce(&mut Config)) -> TestApp {
    let dir = TempDir::new();
    let mut config = test_config(&dir);
    f(&mut config);
    spawn_app_in(dir, config).await
}

pub async fn spawn_app_in(dir: TempDir, config: Config) -> TestApp {
    start(dir, config, Radios::default()).await
}

async fn start(dir: TempDir, config: Config, radios: Radios) -> TestApp {
    let key = meshdeck::cookie_key(Some(&"ab".repeat(64))).unwrap();
    let app = App::start(config.clone(), key).await.unwrap();
    let base = format!("http://{}", app.addr);
    TestApp {
        app,
        base,
        dir,
        config,
        radios,
    }
}

/// A fresh app, a radio of `cfg` and a browser connected to it.
pub async fn spawn_connected(cfg: SimConfig) -> (TestApp, SimRadio, Browser) {
    let app = spawn_app().await;
    let (radio, browser) = app.connected(cfg).await;
    (app, radio, browser)
}

impl TestApp {
    /// A browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// A simulated radio on an ephemeral loopback port, kept until the app is dropped.
    pub async fn radio(&self, cfg: SimConfig) -> SimRadio {
        let r = spawn_radio_with(cfg).await;
        self.radios
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(r.clone());
        r
    }

    /// A radio of `cfg` and a new browser connected to it.
    pub async fn connected(&self, cfg: SimConfig) -> (SimRadio, Browser) {
        let radio = self.radio(cfg).await;
        let browser = self.connected_to(&radio).await;
        (radio, browser)
    }

    /// A new browser connected to `radio`.
    pub async fn connected_to(&self, radio: &SimRadio) -> Browser {
        let b = self.browser();
        assert_eq!(b.connect(radio).await.0, 200);
        b
    }

    /// Stops the server and starts it again on the same data directory and config; the
    /// radios stay up.
    pub async fn restart(self) -> TestApp {
        let TestApp {
            app,
            dir,
            config,
            radios,
            ..
        } = self;
        app.stop().await;
        start(dir, config, radios).await
    }
}

/// A simulated radio on an ephemeral loopback port.
pub async fn spawn_radio_with(cfg: SimConfig) -> SimRadio {
    SimRadio::bind("127.0.0.1:0", cfg).await.unwrap()
}
