//! Typed ids, parsed once at the edge (a form, a URL, a JSON body) and typed everywhere after:
//! a node's number, a destination, a channel, a conversation, a packet id, a session id.

use std::fmt;
use std::str::FromStr;

use rand::Rng;

/// A node's number. Shown the way Meshtastic does: `!` and eight lower-case hex digits; in
/// JSON it stays the plain number the firmware uses.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct NodeNum(pub u32);

impl NodeNum {
    /// The broadcast address (`^all`), as a number.
    pub const BROADCAST: NodeNum = NodeNum(u32::MAX);

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn is_broadcast(self) -> bool {
        self == NodeNum::BROADCAST
    }
}

impl From<u32> for NodeNum {
    fn from(n: u32) -> NodeNum {
        NodeNum(n)
    }
}

impl fmt::Display for NodeNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "!{:08x}", self.0)
    }
}

impl fmt::Debug for NodeNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a node id, destination, channel or conversation did not parse; says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be {expected}, not {got:?}")]
pub struct ParseIdError {
    what: &'static str,
    expected: &'static str,
    got: String,
}

impl ParseIdError {
    fn new(what: &'static str, expected: &'static str, got: &str) -> ParseIdError {
        // Strangers write these: keep the echo short.
        let got = got.chars().take(40).collect();
        ParseIdError {
            what,
            expected,
            got,
        }
    }
}

const NODE_EXPECTED: &str = "!xxxxxxxx (hex) or a node number";

/// `!a1b2c3d4` (1 to 8 hex digits after the `!`), a decimal node number as the original's API
/// takes (`"1234"` is 1234), or bare hex with a letter in it (`a1b2c3d4`, as in old links).
impl FromStr for NodeNum {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<NodeNum, ParseIdError> {
        let t = s.trim();
        let err = || ParseIdError::new("a node id", NODE_EXPECTED, s);
        let hex = |h: &str| {
            ((1..=8).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u32::from_str_radix(h, 16).ok())
                .flatten()
        };
        if let Some(h) = t.strip_prefix('!') {
            return hex(h).map(NodeNum).ok_or_else(err);
        }
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse::<u32>().map(NodeNum).map_err(|_| err());
        }
        hex(t).map(NodeNum).ok_or_else(err)
    }
}

/// Where a packet goes: everybody, or one node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Dest {
    Broadcast,
    Node(NodeNum),
}

impl Dest {
    /// The number the radio puts in the packet's `to`.
    pub fn num(self) -> NodeNum {
        match self {
            Dest::Broadcast => NodeNum::BROADCAST,
            Dest::Node(n) => n,
        }
    }
}

impl From<NodeNum> for Dest {
    fn from(n: NodeNum) -> Dest {
        if n.is_broadcast() {
            Dest::Broadcast
        } else {
            Dest::Node(n)
        }
    }
}

impl fmt::Display for Dest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dest::Broadcast => f.write_str("^all"),
            Dest::Node(n) => n.fmt(f),
        }
    }
}

/// A node id as [`NodeNum`] reads it, or empty / `^all` for a broadcast.
impl FromStr for Dest {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Dest, ParseIdError> {
        let t = s.trim();
        if t.is_empty() || t == "^all" {
            return Ok(Dest::Broadcast);
        }
        t.parse::<NodeNum>()
            .map(Dest::from)
            .map_err(|_| ParseIdError::new("destination", "!xxxxxxxx, a node number or ^all", s))
    }
}

/// A channel slot of the radio, 0 to 7.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Debug, serde::Serialize)]
#[serde(transparent)]
pub struct ChannelIndex(u32);

impl ChannelIndex {
    pub const PRIMARY: ChannelIndex = ChannelIndex(0);
    /// Firmware has eight channel slots.
    pub const COUNT: u32 = 8;

    /// A channel index from the radio: any number the firmware sends is kept as it is.
    pub fn from_radio(n: u32) -> ChannelIndex {
        ChannelIndex(n)
    }

    /// A channel index typed by a user: 0 to 7 only.
    pub fn new(n: u32) -> Option<ChannelIndex> {
        (n < Self::COUNT).then_some(ChannelIndex(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ChannelIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ChannelIndex {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<ChannelIndex, ParseIdError> {
        s.trim()
            .parse::<u32>()
            .ok()
            .and_then(ChannelIndex::new)
            .ok_or_else(|| ParseIdError::new("channel", "a number from 0 to 7", s))
    }
}

/// A conversation: a channel's broadcasts, or the direct messages with one node.
/// Written `ch:N` or `!xxxxxxxx` (in URLs and in the store); a node reads as [`NodeNum`] does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Convo {
    Channel(ChannelIndex),
    Direct(NodeNum),
}

impl Convo {
    /// The conversation of a text to `to` on `channel`, whose other end is `peer`.
    pub fn of(to: NodeNum, peer: NodeNum, channel: ChannelIndex) -> Convo {
        if to.is_broadcast() {
            Convo::Channel(channel)
        } else {
            Convo::Direct(peer)
        }
    }

    /// Where a text sent into this conversation goes, and on which channel.
    pub fn target(self) -> (Dest, ChannelIndex) {
        match self {
            Convo::Channel(c) => (Dest::Broadcast, c),
            Convo::Direct(n) => (Dest::Node(n), ChannelIndex::PRIMARY),
        }
    }
}

impl fmt::Display for Convo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Convo::Channel(c) => write!(f, "ch:{c}"),
            Convo::Direct(n) => n.fmt(f),
        }
    }
}

impl FromStr for Convo {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Convo, ParseIdError> {
        let t = s.trim();
        let err = || ParseIdError::new("conversation", "ch:N (0 to 7) or !xxxxxxxx", s);
        if let Some(c) = t.strip_prefix("ch:") {
            return c.parse().map(Convo::Channel).map_err(|_| err());
        }
        match t.parse::<NodeNum>() {
            Ok(n) if !n.is_broadcast() => Ok(Convo::Direct(n)),
            _ => Err(err()),
        }
    }
}

/// A mesh packet's id (never 0 on packets we send).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Debug)]
pub struct PacketId(pub u32);

impl PacketId {
    /// A fresh random id for a packet we send.
    pub fn random() -> PacketId {
        PacketId(rand::rng().random_range(1..u32::MAX))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A browser session's id: 128 random bits as 32 lower-case hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn random() -> SessionId {
        let bytes: [u8; 16] = rand::rng().random();
        SessionId(hex::encode(bytes))
    }

    /// Parses an id from a cookie; anything but 32 lower-case hex digits is refused.
    pub fn parse(s: &str) -> Option<SessionId> {
        (s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| SessionId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 characters, for logs.
    pub fn short(&self) -> &str {
        self.0.get(..8).unwrap_or(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the whole id in logs: it is the session's secret.
        write!(f, "SessionId({}…)", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_id_reads_as_hex_after_a_bang_and_as_decimal_without() {
        assert_eq!("!a1b2c3d4".parse(), Ok(NodeNum(0xa1b2_c3d4)));
        assert_eq!(" !0000abcd ".parse(), Ok(NodeNum(0xabcd)));
        assert_eq!("1234".parse(), Ok(NodeNum(1234)));
        assert_eq!("a1b2c3d4".parse(), Ok(NodeNum(0xa1b2_c3d4)));
        assert_eq!(NodeNum(0xabcd).to_string(), "!0000abcd");
        for bad in [
            "",
            "!",
            "!123456789",
            "!xyz",
            "-1",
            "99999999999",
            "^all",
            "!+1",
        ] {
            assert!(bad.parse::<NodeNum>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn a_destination_is_a_node_or_everybody() {
        assert_eq!("^all".parse(), Ok(Dest::Broadcast));
        assert_eq!("".parse(), Ok(Dest::Broadcast));
        assert_eq!("!ffffffff".parse(), Ok(Dest::Broadcast));
        assert_eq!("42".parse(), Ok(Dest::Node(NodeNum(42))));
        let e = "<b>".parse::<Dest>().unwrap_err().to_string();
        assert!(e.contains("^all"), "{e}");
    }

    #[test]
    fn conversations_round_trip_and_refuse_junk() {
        for c in [
            Convo::Channel(ChannelIndex(3)),
            Convo::Direct(NodeNum(0x1234_5678)),
        ] {
            assert_eq!(c.to_string().parse(), Ok(c));
        }
        for bad in ["ch:8", "ch:", "^all", "!ffffffff", "x"] {
            assert!(bad.parse::<Convo>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            Convo::of(NodeNum::BROADCAST, NodeNum(5), ChannelIndex(2)),
            Convo::Channel(ChannelIndex(2))
        );
    }

    #[test]
    fn session_ids_are_32_lower_hex_digits() {
        let id = SessionId::random();
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        assert!(SessionId::parse(&id.as_str().to_uppercase()).is_none());
        assert!(SessionId::parse("abc").is_none());
        assert!(!format!("{id:?}").contains(id.as_str()));
    }
}

/// The key of a radio's stored data (messages, traceroutes, automation). A radio's own node
/// number for the first radio that reported it; a number above every node number for a
/// radio at another address that claims a known node number (it gets a store of its own
/// until an admin says they are the same radio).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Debug)]
pub struct RadioKey(pub i64);

impl RadioKey {
    /// Keys of radios kept apart start here (above every node number).
    pub const APART: i64 = 1 << 32;
}

impl From<NodeNum> for RadioKey {
    fn from(n: NodeNum) -> RadioKey {
        RadioKey(i64::from(n.0))
    }
}

impl fmt::Display for RadioKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
