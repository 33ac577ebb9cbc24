//! Every setting of the server: one clap struct whose fields are flags and environment
//! variables (SPEC.md "Command line and settings"). Flags win over the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::allow::AllowList;

/// meshdeck: a multi-user web dashboard for Meshtastic radios on their TCP API (port 4403).
#[derive(Parser, Debug, Clone)]
#[command(name = "meshdeck", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub server: Config,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Run simulated radios on loopback until interrupted.
    Sim(crate::sim::SimArgs),
    /// Manage the users of an installation with login (any user turns login on).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand, Debug, Clone)]
pub enum UserCommand {
    /// Add a user, or change an existing user's role and password. The password is read
    /// from the first line of standard input.
    Add {
        name: String,
        #[arg(long, default_value = "operator")]
        role: String,
    },
    /// Remove a user.
    Remove { name: String },
    /// List users and their roles.
    List,
}

/// Settings of the web server.
#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// Listen address of the web server.
    #[arg(long, env = "MESHDECK_BIND", default_value = "127.0.0.1:5000")]
    pub bind: SocketAddr,
    /// Data directory (holds the SQLite file).
    #[arg(long, env = "MESHDECK_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Idle timeout of a session, in seconds.
    #[arg(long, env = "SESSION_TIMEOUT", default_value_t = 3600)]
    pub session_timeout: u64,
    /// Most sessions (holding a radio link) at once; the least recently used is evicted.
    #[arg(long, env = "MAX_SESSIONS", default_value_t = 10)]
    pub max_sessions: u64,
    /// Packets kept in each session's packet log.
    #[arg(long, env = "PACKET_LOG_MAX", default_value_t = 500)]
    pub packet_log_max: usize,
    /// Radios a session may connect to: comma-separated hosts, addresses and CIDRs.
    /// Default: loopback and private ranges.
    #[arg(long, env = "ALLOWED_RADIOS", default_value = "")]
    pub allowed_radios: AllowList,
    /// Start simulated radios in-process (this many, default 3) and list them on the connect page.
    #[arg(long, num_args = 0..=1, default_missing_value = "3", value_name = "RADIOS")]
    pub demo: Option<u32>,
    /// Seconds to wait for a radio's config handshake.
    #[arg(long, env = "MESHDECK_CONNECT_TIMEOUT", default_value_t = 15)]
    pub connect_timeout: u64,
    /// Seconds without any traffic from a radio before its link is considered dead.
    #[arg(long, env = "MESHDECK_STALE_AFTER", default_value_t = 900)]
    pub stale_after: u64,
    /// Milliseconds between two texts sent to a radio (the firmware accepts one per 2 s).
    #[arg(long, env = "MESHDECK_TEXT_INTERVAL_MS", default_value_t = 2100)]
    pub text_interval_ms: u64,
    /// Milliseconds between two traceroutes sent to a radio (the firmware accepts one per 30 s).
    #[arg(
        long,
        env = "MESHDECK_TRACEROUTE_INTERVAL_MS",
        default_value_t = 30_250
    )]
    pub traceroute_interval_ms: u64,
    /// Milliseconds a traceroute waits for its reply before it counts as timed out.
    #[arg(long, env = "MESHDECK_TRACEROUTE_TIMEOUT_MS", default_value_t = 60_000)]
    pub traceroute_timeout_ms: u64,
    /// Milliseconds a sweep waits for each node's reply.
    #[arg(long, env = "MESHDECK_SWEEP_NODE_TIMEOUT_MS", default_value_t = 30_000)]
    pub sweep_node_timeout_ms: u64,
    /// Seconds to wait for a sent text's acknowledgement before marking it "timeout".
    #[arg(long, env = "MESHDECK_ACK_TIMEOUT", default_value_t = 60)]
    pub ack_timeout: u64,
    /// Milliseconds of silence from a radio before the link sends it a heartbeat (firmware
    /// 2.7.4 and later answers one).
    #[arg(long, env = "MESHDECK_HEARTBEAT_AFTER_MS", default_value_t = 30_000)]
    pub heartbeat_after_ms: u64,
    /// Milliseconds a heartbeat waits for its answer before the radio counts as hung.
    #[arg(long, env = "MESHDECK_HEARTBEAT_TIMEOUT_MS", default_value_t = 15_000)]
    pub heartbeat_timeout_ms: u64,
    /// Milliseconds to wait before taking a radio back from another app that took it (the
    /// firmware serves one client); doubles each time.
    #[arg(long, env = "MESHDECK_TAKEN_BACKOFF_MS", default_value_t = 60_000)]
    pub taken_backoff_ms: u64,
    /// Longest such wait, in milliseconds.
    #[arg(long, env = "MESHDECK_TAKEN_BACKOFF_MAX_MS", default_value_t = 900_000)]
    pub taken_backoff_max_ms: u64,
    /// Mark cookies `Secure` (set when users reach meshdeck over HTTPS through a proxy; a
    /// local proxy's `X-Forwarded-Proto: https` does the same per request).
    #[arg(long, env = "MESHDECK_COOKIE_SECURE", default_value_t = false)]
    pub cookie_secure: bool,
    /// How long one minute of a beacon interval lasts, in ms (a test knob; keep 60000).
    #[arg(
        long,
        env = "MESHDECK_BEACON_MINUTE_MS",
        default_value_t = 60_000,
        hide = true
    )]
    pub beacon_minute_ms: u64,
    /// Milliseconds between two checks of the alert rules that watch silences and batteries.
    #[arg(long, env = "MESHDECK_ALERT_CHECK_MS", default_value_t = 5_000)]
    pub alert_check_ms: u64,
    /// How long one minute of an alert rule lasts, in ms (a test knob; keep 60000).
    #[arg(
        long,
        env = "MESHDECK_ALERT_MINUTE_MS",
        default_value_t = 60_000,
        hide = true
    )]
    pub alert_minute_ms: u64,
    /// Messages kept per radio in the history.
    #[arg(long, env = "MESHDECK_MESSAGE_RETENTION", default_value_t = 10_000)]
    pub message_retention: u32,
    /// Names this server is reached by besides its own (e.g. a reverse proxy's name),
    /// comma-separated. Requests for any other name are refused (DNS rebinding).
    #[arg(
        long,
        env = "MESHDECK_PUBLIC_HOST",
        value_delimiter = ',',
        default_value = ""
    )]
    pub public_host: Vec<String>,
    /// Most HTTP connections at once (held back beyond; at most the open-file limit less
    /// a reserve). A connection that takes over 10 s to send a request's headers is closed.
    #[arg(long, env = "MESHDECK_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Most live streams (open tabs) at once, over all sessions; one session has at most 16.
    #[arg(long, env = "MESHDECK_MAX_STREAMS", default_value_t = 2048)]
    pub max_streams: usize,
    /// Days raw node samples (one per packet heard) are kept before only their hourly
    /// roll-up remains.
    #[arg(long, env = "MESHDECK_HISTORY_RAW_DAYS", default_value_t = 7)]
    pub history_raw_days: u32,
    /// Days hourly roll-ups (min, mean, max) are kept before only their daily roll-up remains.
    #[arg(long, env = "MESHDECK_HISTORY_HOURLY_DAYS", default_value_t = 90)]
    pub history_hourly_days: u32,
    /// Most megabytes the database may use; past this the oldest day of history goes.
    #[arg(long, env = "MESHDECK_HISTORY_MAX_MB", default_value_t = 1024)]
    pub history_max_mb: u64,
    /// Most kept radios (radios the server keeps connected with no browser open).
    #[arg(long, env = "MAX_RADIOS", default_value_t = 32)]
    pub max_radios: usize,
    /// A file holding the cookie key, read when `SECRET_KEY` is not set; made (64 random
    /// bytes in hex, readable by its owner only) when missing, so sessions survive restarts
    /// with nothing to configure.
    #[arg(long, env = "SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Background tiles for the map from a tile server on the LAN: an http(s) URL template
    /// with `{z}`, `{x}` and `{y}` (e.g. `http://tiles.lan:8080/{z}/{x}/{y}.png`). Empty: no
    /// tiles, and the map loads nothing from anywhere.
    #[arg(long, env = "MESHDECK_MAP_TILES", default_value = "")]
    pub map_tiles: MapTiles,
    /// Browser sessions are stored and survive a restart; set when `SECRET_KEY` is (the
    /// cookies of a random key die with the process anyway).
    #[arg(skip)]
    pub persist_sessions: bool,
}

impl Config {
    /// A configuration with every default, for tests and embedding.
    pub fn defaults() -> Config {
        Cli::parse_from(["meshdeck"]).server
    }

    /// How long node history is kept in each tier, and the size cap.
    pub fn history_policy(&self) -> crate::store::retention::Policy {
        crate::store::retention::Policy {
            raw_days: self.history_raw_days.max(1),
            hourly_days: self.history_hourly_days.max(1),
            max_bytes: self.history_max_mb.saturating_mul(1 << 20),
        }
    }
}

/// A tile server's URL template for the map, or none (the default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapTiles(Option<TileServer>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct TileServer {
    template: String,
    /// `scheme://host[:port]`, what the content security policy lets images come from.
    origin: String,
}

impl std::str::FromStr for MapTiles {
    type Err = String;

    /// Empty: none. Otherwise an `http://` or `https://` URL with `{z}`, `{x}` and `{y}`,
    /// nothing in it that could end a header value or a policy's source list.
    fn from_str(s: &str) -> Result<MapTiles, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(MapTiles(None));
        }
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("https://"))
            .ok_or("the map tile URL must start with http:// or https://")?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host_ok = !host.is_empty()
            && !host.contains('@')
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c));
        if !host_ok {
            return Err(format!("the map tile URL has no usable host: {host:?}"));
        }
        let bad = |c: char| c.is_whitespace() || c.is_control() || "\"'<>;,`\\".contains(c);
        if s.chars().any(bad) {
            return Err("the map tile URL may not hold spaces, quotes, ';', ',' or '<>'".into());
        }
        for part in ["{z}", "{x}", "{y}"] {
            if !s.contains(part) {
                return Err(format!(
                    "the map tile URL needs {part} (as in …/{{z}}/{{x}}/{{y}}.png)"
                ));
            }
        }
        let origin = format!("{}{host}", &s[..s.len() - rest.len()]);
        Ok(MapTiles(Some(TileServer {
            template: s.to_string(),
            origin,
        })))
    }
}

impl MapTiles {
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The origin the tiles come from (`http://tiles.lan:8080`).
    pub fn origin(&self) -> Option<&str> {
        self.0.as_ref().map(|t| t.origin.as_str())
    }

    /// The URL of one tile.
    pub fn url(&self, z: u32, x: u32, y: u32) -> Option<String> {
        self.0.as_ref().map(|t| {
            t.template
                .replace("{z}", &z.to_string())
                .replace("{x}", &x.to_string())
                .replace("{y}", &y.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn a_map_tile_template_is_http_with_its_three_parts_and_an_origin() {
        use super::MapTiles;
        let none: MapTiles = "".parse().unwrap();
        assert!(!none.is_set() && none.url(1, 2, 3).is_none());
        let t: MapTiles = "http://tiles.lan:8080/osm/{z}/{x}/{y}.png".parse().unwrap();
        assert_eq!(t.origin(), Some("http://tiles.lan:8080"));
        assert_eq!(
            t.url(5, 17, 11).unwrap(),
            "http://tiles.lan:8080/osm/5/17/11.png"
        );
        let v6: MapTiles = "https://[::1]:9/{z}/{x}/{y}".parse().unwrap();
        assert_eq!(v6.origin(), Some("https://[::1]:9"));
        for bad in [
            "ftp://x/{z}/{x}/{y}",
            "javascript:alert(1)//{z}{x}{y}",
            "http:///{z}/{x}/{y}",
            "http://a b/{z}/{x}/{y}",
            "http://x/{z}/{x}",
            "http://x; script-src */{z}/{x}/{y}",
            "http://x/{z}/{x}/{y}'",
            "http://user@x/{z}/{x}/{y}",
        ] {
            assert!(bad.parse::<MapTiles>().is_err(), "{bad}");
        }
    }

    /// The package's defaults file names every setting, and a commented-out line shows the
    /// setting's real default (the unit's own values aside).
    #[test]
    fn defaults_file_lists_every_setting_with_its_default() {
        let file = include_str!("../deploy/meshdeck.default");
        let set_by_unit = ["MESHDECK_DATA_DIR", "SECRET_KEY_FILE", "MESHDECK_BIND"];
        let mut seen = 0;
        for arg in super::Cli::command().get_arguments() {
            let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
                continue;
            };
            seen += 1;
            let line = file
                .lines()
                .find(|l| l.trim_start_matches('#').starts_with(&format!("{env}=")))
                .unwrap_or_else(|| panic!("{env} is not in deploy/meshdeck.default"));
            if set_by_unit.contains(&env) {
                continue;
            }
            let value = line.trim_start_matches('#')[env.len() + 1..].to_string();
            let default: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            assert_eq!(vec![value], default, "{env}'s default in the defaults file");
        }
        assert!(seen >= 18, "only {seen} settings found");
        assert!(file.contains("#SECRET_KEY="));
    }
}
