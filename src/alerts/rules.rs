//! A rule as a user writes it (from the JSON API or the page's form), checked into an
//! [`AlertRule`]: the kind known, its numbers in range, its node a node id, its webhook an
//! `http://` URL. Pure: the webhook's host is checked against the allowlist by the caller.

use std::str::FromStr;

use crate::ids::NodeNum;
use crate::store::alerts::{AlertRule, Kind};

/// Most rules per radio.
pub const MAX_RULES: usize = 100;
/// Most characters of a keyword.
pub const MAX_TEXT: usize = 100;
/// Longest silence a rule may wait for: a week, in minutes.
pub const MAX_MINUTES: u32 = 10_080;

/// A rule as typed: every field as text, absent or empty when not given.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub kind: String,
    pub node: Option<String>,
    pub minutes: Option<String>,
    pub percent: Option<String>,
    pub text: Option<String>,
    pub webhook: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn number(v: &Option<String>, what: &str, lo: u32, hi: u32) -> Result<Option<u32>, String> {
    match given(v) {
        None => Ok(None),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .map(Some)
            .ok_or_else(|| format!("{what} must be a whole number from {lo} to {hi}")),
    }
}

impl Draft {
    /// The rule this draft describes (id 0, not muted), or what is wrong with it. Fields the
    /// kind does not use are checked when given, then left out.
    pub fn check(&self) -> Result<AlertRule, String> {
        let names = Kind::ALL.map(Kind::name).join(", ");
        let kind =
            Kind::parse(self.kind.trim()).ok_or_else(|| format!("kind must be one of {names}"))?;
        let node = match given(&self.node) {
            None => None,
            Some(s) => {
                let n = NodeNum::from_str(s).map_err(|e| e.to_string())?;
                if n.is_broadcast() || n.0 == 0 {
                    return Err("node must be one node's id, not the broadcast address".into());
                }
                Some(n)
            }
        };
        let minutes = number(&self.minutes, "minutes", 1, MAX_MINUTES)?;
        let percent = number(&self.percent, "percent", 1, 100)?;
        let text = match given(&self.text) {
            None => None,
            Some(t) if t.chars().count() > MAX_TEXT => {
                return Err(format!("text must be at most {MAX_TEXT} characters"))
            }
            Some(t) if t.chars().any(char::is_control) => {
                return Err("text must not hold control characters".into())
            }
            Some(t) => Some(t.to_string()),
        };
        let webhook = match given(&self.webhook) {
            None => None,
            Some(w) => Some(Webhook::parse(w)?.to_string()),
        };
        let need = |v: Option<u32>, what: &str| {
            v.map(Some)
                .ok_or_else(|| format!("{what} is required for {}", kind.name()))
        };
        let (minutes, percent, text) = match kind {
            Kind::NodeSilent => (need(minutes, "minutes (1 to 10080)")?, None, None),
            Kind::BatteryBelow => (None, need(percent, "percent (1 to 100)")?, None),
            Kind::Keyword => match text {
                Some(t) => (None, None, Some(t)),
                None => return Err("text (1 to 100 characters) is required for keyword".into()),
            },
            Kind::NewNode | Kind::Dm => (None, None, None),
        };
        Ok(AlertRule {
            id: 0,
            kind,
            // A new node is any node: the field means nothing there.
            node: node.filter(|_| kind != Kind::NewNode),
            minutes,
            percent,
            text,
            webhook,
            muted_until: None,
        })
    }
}

/// Where a webhook goes: `http://host[:port][/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub host: String,
    pub port: u16,
    /// Starts with `/`.
    pub path: String,
}

impl Webhook {
    pub fn parse(url: &str) -> Result<Webhook, String> {
        let url = url.trim();
        if url.len() > 300 {
            return Err("webhook must be at most 300 characters".into());
        }
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("https://") {
            return Err("webhook must be http:// (this server has no TLS client)".into());
        }
        let Some(rest) = lower
            .starts_with("http://")
            .then(|| url.get("http://".len()..))
            .flatten()
        else {
            return Err("webhook must be an http:// URL".into());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err("webhook must not carry a user name or password".into());
        }
        if !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("webhook's path must be plain URL characters (no spaces)".into());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, tail) = v6
                .split_once(']')
                .ok_or("webhook's IPv6 address needs its closing ]")?;
            let port = match tail {
                "" => None,
                t => Some(t.strip_prefix(':').ok_or("webhook's host is malformed")?),
            };
            (h, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                Some(_) => {
                    return Err("an IPv6 webhook host goes in brackets: http://[::1]:8080/".into())
                }
                None => (authority, None),
            }
        };
        let port = match port {
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or("webhook's port must be 1 to 65535")?,
        };
        let host = crate::allow::check_host(host).map_err(|e| format!("webhook's {e}"))?;
        Ok(Webhook {
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_string(),
        })
    }

    /// The `Host` header's value.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl std::fmt::Display for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.host_header(), self.path)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn draft(kind: &str) -> Draft {
        Draft {
            kind: kind.into(),
            ..Draft::default()
        }
    }

    #[test]
    fn a_rule_needs_what_its_kind_uses_and_gets_nothing_else() {
        let mut d = draft("node_silent");
        assert!(d.check().unwrap_err().contains("minutes"));
        d.minutes = Some("10".into());
        d.percent = Some("20".into());
        d.node = Some("!0000abcd".into());
        let r = d.check().unwrap();
        assert_eq!(
            (r.minutes, r.percent, r.node),
            (Some(10), None, Some(NodeNum(0xabcd)))
        );
        d.minutes = Some("10081".into());
        assert!(d.check().unwrap_err().contains("1 to 10080"));
        d.minutes = Some("0".into());
        assert!(d.check().is_err());
        let mut b = draft("battery_below");
        b.percent = Some("101".into());
        assert!(b.check().unwrap_err().contains("percent"));
        b.percent = Some("100".into());
        assert_eq!(b.check().unwrap().percent, Some(100));
        let mut k = draft("keyword");
        assert!(k.check().unwrap_err().contains("text"));
        k.text = Some("x".repeat(101));
        assert!(k.check().unwrap_err().contains("100"));
        k.text = Some("  Help ".into());
        assert_eq!(k.check().unwrap().text.as_deref(), Some("Help"));
        assert!(draft("nope")
            .check()
            .unwrap_err()
            .contains("node_silent, battery_below"));
        let mut n = draft("dm");
        n.node = Some("zz".into());
        assert!(n.check().unwrap_err().contains("node id"));
        n.node = Some("!ffffffff".into());
        assert!(n.check().is_err());
        n.node = Some("1234".into());
        assert_eq!(n.check().unwrap().node, Some(NodeNum(1234)));
    }

    #[test]
    fn webhooks_are_plain_http_urls() {
        let w = Webhook::parse("http://127.0.0.1:8080/hook?x=1").unwrap();
        assert_eq!(
            (w.host.as_str(), w.port, w.path.as_str()),
            ("127.0.0.1", 8080, "/hook?x=1")
        );
        assert_eq!(w.to_string(), "http://127.0.0.1:8080/hook?x=1");
        let w = Webhook::parse("HTTP://[::1]/").unwrap();
        assert_eq!(
            (w.host.as_str(), w.port, w.host_header()),
            ("::1", 80, "[::1]".to_string())
        );
        assert_eq!(Webhook::parse("http://hooks.lan").unwrap().path, "/");
        assert!(Webhook::parse("https://x.lan/")
            .unwrap_err()
            .contains("TLS"));
        for bad in [
            "ftp://x/",
            "http://",
            "http://a b/",
            "http://u:p@x/",
            "http://x:0/",
            "http://x:99999/",
            "http://::1/",
            "http://x/a b",
            "http://[::1/",
        ] {
            assert!(Webhook::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
