//! Which `Host` this server answers to, against DNS rebinding: a page on `attacker.example`
//! whose name is made to point at this machine sends `Host: attacker.example`, and is
//! refused before anything is done. Answered: loopback names and addresses; the bind
//! address; with a wildcard bind, any address of this machine's interfaces; this machine's
//! host name (and `NAME.local`); and the names of `--public-host`.

use std::net::{IpAddr, SocketAddr};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::AppState;

/// How often the interfaces' addresses may be read again (an unknown address asks).
const REREAD: Duration = Duration::from_secs(5);

pub struct Hosts {
    bind: SocketAddr,
    names: Vec<String>,
    /// This machine's addresses, read from `/proc`, and when.
    local: RwLock<(Option<Instant>, Vec<IpAddr>)>,
}

impl Hosts {
    pub fn new(bind: SocketAddr, public: &[String]) -> Hosts {
        let mut names: Vec<String> = public
            .iter()
            .map(|n| normal(n))
            .filter(|n| !n.is_empty())
            .collect();
        if let Some(h) = crate::install::host_name() {
            let h = normal(&h);
            if !h.is_empty() {
                let short = h.split('.').next().unwrap_or(&h).to_string();
                names.push(format!("{short}.local"));
                names.push(short);
                names.push(h);
            }
        }
        Hosts {
            bind,
            names,
            local: RwLock::new((None, Vec::new())),
        }
    }

    /// Whether a request's `Host` header (with or without a port) is one of ours.
    pub fn answers(&self, host: &str) -> bool {
        let name = normal(strip_port(host));
        match name.parse::<IpAddr>() {
            Ok(ip) => self.answers_ip(ip),
            Err(_) => {
                name == "localhost" || name.ends_with(".localhost") || self.names.contains(&name)
            }
        }
    }

    fn answers_ip(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if ip.is_loopback() || ip == self.bind.ip() {
            return true;
        }
        if !self.bind.ip().is_unspecified() {
            return false;
        }
        if self.local_has(ip, false) {
            return true;
        }
        // An address seen for the first time may be new (DHCP): read them again, not often.
        self.local_has(ip, true)
    }

    fn local_has(&self, ip: IpAddr, reread: bool) -> bool {
        if reread {
            let mut local = self.local.write().unwrap_or_else(|e| e.into_inner());
            if local.0.is_none_or(|at| at.elapsed() > REREAD) {
                *local = (Some(Instant::now()), machine_addresses());
            }
            return local.1.contains(&ip);
        }
        let local = self.local.read().unwrap_or_else(|e| e.into_inner());
        local.1.contains(&ip)
    }

    #[cfg(test)]
    fn with_local(bind: SocketAddr, public: &[String], local: Vec<IpAddr>) -> Hosts {
        let h = Hosts::new(bind, public);
        *h.local.write().unwrap_or_else(|e| e.into_inner()) = (Some(Instant::now()), local);
        h
    }
}

fn normal(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `name:port` → `name`, `[v6]:port` → `v6`.
fn strip_port(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        // `[v6]` or `[v6]:port`; anything else after the bracket is no host of ours.
        return match rest.split_once(']') {
            Some((v6, "")) => v6,
            Some((v6, port))
                if port
                    .strip_prefix(':')
                    .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                v6
            }
            _ => "",
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

/// The addresses of this machine's interfaces (Linux: `fib_trie` has the local IPv4 ones,
/// `if_inet6` the IPv6 ones; read under `/proc/self/net`, which the service's
/// `ProcSubset=pid` leaves visible).
fn machine_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(trie) = std::fs::read_to_string("/proc/self/net/fib_trie") {
        let mut last: Option<IpAddr> = None;
        for line in trie.lines() {
            let line = line.trim_start_matches([' ', '|', '+', '-']);
            if let Ok(ip) = line.trim().parse::<IpAddr>() {
                last = Some(ip);
            } else if line.contains("/32 host LOCAL") {
                out.extend(last.take());
            }
        }
    }
    if let Ok(v6) = std::fs::read_to_string("/proc/self/net/if_inet6") {
        for line in v6.lines() {
            let Some(hex) = line.split_whitespace().next() else {
                continue;
            };
            if let Ok(n) = u128::from_str_radix(hex, 16) {
                out.push(IpAddr::V6(n.into()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Refuses a request whose `Host` is not one of ours, before sessions or handlers see it.
/// A request without `Host` (not a browser: HTTP/1.0 tools) passes.
pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned());
    match host {
        Some(h) if !state.hosts.answers(&h) => misdirected(&h, req.uri().path()),
        _ => next.run(req).await,
    }
}

fn misdirected(host: &str, path: &str) -> Response {
    let shown: String = strip_port(host)
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let message = format!(
        "This server does not answer to the name {shown:?}. If that is its name on your network \
         (a reverse proxy's, say), add it to MESHDECK_PUBLIC_HOST (--public-host) and restart."
    );
    tracing::info!(host = ?shown, "refused a request for another host name");
    if path.starts_with("/api/") {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            Json(json!({"error": message})),
        )
            .into_response();
    }
    let page = maud::html! {
        (maud::DOCTYPE)
        html { head { title { "Wrong host name" } } body { h1 { "Wrong host name" } p { (message) } } }
    };
    (StatusCode::MISDIRECTED_REQUEST, page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Every name of `ok` is answered by `h`, none of `no`.
    fn answers_only(h: &Hosts, ok: &[&str], no: &[&str]) {
        let wrong: Vec<&&str> = ok
            .iter()
            .filter(|n| !h.answers(n))
            .chain(no.iter().filter(|n| h.answers(n)))
            .collect();
        assert!(wrong.is_empty(), "answered wrongly: {wrong:?}");
    }

    #[test]
    fn loopback_and_the_bind_address_are_answered_other_names_not() {
        let h = Hosts::with_local("127.0.0.1:5000".parse().unwrap(), &[], vec![]);
        let ok = [
            "127.0.0.1:5000",
            "localhost:5000",
            "LOCALHOST",
            "[::1]:5000",
            "a.localhost",
        ];
        let no = [
            "attacker.example:5000",
            "attacker.example",
            "192.168.1.20:5000",
            "[fe80::1]",
            "",
            "[::1]evil",
            "[::1]:80x",
        ];
        answers_only(&h, &ok, &no);
    }

    #[test]
    fn a_wildcard_bind_answers_the_machines_addresses_and_public_names() {
        let public = vec!["Dash.Example.lan.".to_string()];
        let local = vec![ip("192.168.1.20"), ip("fd00::20")];
        let h = Hosts::with_local("0.0.0.0:5000".parse().unwrap(), &public, local);
        let ok = [
            "192.168.1.20:5000",
            "[fd00::20]:5000",
            "dash.example.lan",
            "127.0.0.1",
        ];
        let no = [
            "192.168.1.21:5000",
            "attacker.example:5000",
            "dash.example.lan.evil",
        ];
        answers_only(&h, &ok, &no);
        let one = Hosts::with_local(
            "192.168.1.20:5000".parse().unwrap(),
            &[],
            vec![ip("10.0.0.5")],
        );
        assert!(one.answers("192.168.1.20:5000"));
        assert!(
            !one.answers("10.0.0.5:5000"),
            "bound to one address, only that one"
        );
    }

    #[test]
    fn this_machines_name_and_its_local_form_are_answered() {
        let h = Hosts::with_local("0.0.0.0:5000".parse().unwrap(), &[], vec![]);
        let name = crate::install::host_name().expect("this machine has a name");
        let short = normal(&name)
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(h.answers(&format!("{short}:5000")));
        assert!(h.answers(&format!("{}.local", short.to_uppercase())));
    }

    #[test]
    fn the_machines_addresses_are_read_from_proc() {
        let addrs = machine_addresses();
        assert!(addrs.contains(&ip("127.0.0.1")), "{addrs:?}");
    }
}
