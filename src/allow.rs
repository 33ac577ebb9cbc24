//! The radio allowlist: which addresses a session may open a TCP connection to.
//!
//! The default (an empty setting) is loopback plus the private ranges, so the server cannot
//! be used to open connections to arbitrary hosts on the internet, nor to link-local
//! addresses (where cloud metadata services answer).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

/// One allowed network: an address and a prefix length.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address is checked as the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Hosts and networks a radio may be at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    nets: Vec<Net>,
    /// Host names allowed by name (still resolved; the name itself is what was allowed).
    names: Vec<String>,
}

/// Loopback and the private ranges; not link-local (cloud metadata services live there).
const DEFAULT: &str = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

/// Why a radio's address was not given out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The name did not resolve (in time).
    #[error("{0}")]
    Unresolved(String),
    /// No address of it is allowed.
    #[error("{0}")]
    NotAllowed(String),
}

/// A radio's host as typed, checked: brackets around an IPv6 address taken off, only what a
/// host name or an address can hold.
pub fn check_host(host: &str) -> Result<&str, String> {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err("host is required".into());
    }
    let ok_chars = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if host.len() > 253 || !ok_chars {
        return Err("host must be a host name or an IP address".into());
    }
    Ok(host)
}

/// `host:port`, with brackets around an IPv6 address.
pub fn display(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl AllowList {
    /// Resolves a radio's host once and checks the address against the list. No packet
    /// leaves for an address that is not allowed.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, Refusal> {
        let by_name = self.allows_name(host);
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => {
                let lookup = tokio::net::lookup_host((host, port));
                match tokio::time::timeout(Duration::from_secs(5), lookup).await {
                    Ok(Ok(a)) => a.collect(),
                    Ok(Err(e)) => {
                        return Err(Refusal::Unresolved(format!("cannot resolve {host}: {e}")))
                    }
                    Err(_) => {
                        return Err(Refusal::Unresolved(format!("resolving {host} timed out")))
                    }
                }
            }
        };
        addrs
            .into_iter()
            .find(|a| by_name || self.allows(a.ip()))
            .ok_or_else(|| {
                Refusal::NotAllowed(format!(
                    "{} is not an allowed radio address (see ALLOWED_RADIOS)",
                    display(host, port)
                ))
            })
    }

    /// Whether a resolved address may be connected to.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(ip))
    }

    /// Whether a host name was allowed by name.
    pub fn allows_name(&self, host: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(host))
    }
}

impl FromStr for AllowList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = if s.trim().is_empty() { DEFAULT } else { s };
        let mut list = AllowList {
            nets: Vec::new(),
            names: Vec::new(),
        };
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (addr, prefix) = match item.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (item, None),
            };
            match addr.parse::<IpAddr>() {
                Ok(ip) => {
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    let prefix = match prefix {
                        Some(p) => p
                            .parse::<u8>()
                            .ok()
                            .filter(|p| *p <= max)
                            .ok_or_else(|| format!("bad prefix length in {item:?}"))?,
                        None => max,
                    };
                    list.nets.push(Net {
                        addr: canonical(ip),
                        prefix,
                    });
                }
                Err(_) if prefix.is_none() && is_host_name(addr) => {
                    list.names.push(addr.to_string())
                }
                Err(_) => return Err(format!("not an address, network or host name: {item:?}")),
            }
        }
        Ok(list)
    }
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> AllowList {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_allows_loopback_and_private_ranges_only() {
        let l = list("");
        for ok in [
            "127.0.0.1",
            "127.3.4.5",
            "::1",
            "10.1.2.3",
            "172.16.0.9",
            "192.168.1.100",
            "::ffff:192.168.1.1",
        ] {
            assert!(l.allows(ok.parse().unwrap()), "{ok} should be allowed");
        }
        for no in [
            "8.8.8.8",
            "172.32.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
            "0.0.0.0",
            "169.254.169.254",
            "169.254.1.1",
            "fe80::1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!l.allows(no.parse().unwrap()), "{no} should be refused");
        }
    }

    #[test]
    fn an_explicit_list_replaces_the_default() {
        let l = list("127.0.0.1, 192.168.5.0/24, radio.lan");
        assert!(l.allows("127.0.0.1".parse().unwrap()));
        assert!(!l.allows("127.0.0.2".parse().unwrap()));
        assert!(l.allows("192.168.5.77".parse().unwrap()));
        assert!(!l.allows("192.168.6.1".parse().unwrap()));
        assert!(l.allows_name("RADIO.lan"));
    }

    #[test]
    fn nonsense_is_refused_with_a_message() {
        assert!("10.0.0.0/33".parse::<AllowList>().is_err());
        assert!("not a host!".parse::<AllowList>().is_err());
    }
}
