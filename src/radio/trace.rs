//! Traceroutes of one radio link: the probe queue that keeps the firmware's interval between
//! sends, the rules that refuse a probe (self, broadcast, duplicate, too soon), and the
//! results with their hop chains and SNRs.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;

use crate::ids::NodeNum;
use crate::proto::pb;

/// A repeat to the same node within this long of its last probe is refused.
pub const REPEAT_GUARD: Duration = Duration::from_secs(30);
/// Protocol value for "SNR unknown" in a route.
const SNR_UNKNOWN: i32 = i8::MIN as i32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceStatus {
    Queued,
    Pending,
    Complete,
    Timeout,
    Cancelled,
    Error,
}

impl TraceStatus {
    pub fn parse(s: &str) -> TraceStatus {
        match s {
            "queued" => TraceStatus::Queued,
            "pending" => TraceStatus::Pending,
            "complete" => TraceStatus::Complete,
            "timeout" => TraceStatus::Timeout,
            "cancelled" => TraceStatus::Cancelled,
            _ => TraceStatus::Error,
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, TraceStatus::Queued | TraceStatus::Pending)
    }

    pub fn name(self) -> &'static str {
        match self {
            TraceStatus::Queued => "queued",
            TraceStatus::Pending => "pending",
            TraceStatus::Complete => "complete",
            TraceStatus::Timeout => "timeout",
            TraceStatus::Cancelled => "cancelled",
            TraceStatus::Error => "error",
        }
    }
}

/// One traceroute and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub dest: NodeNum,
    pub hop_limit: u32,
    pub status: TraceStatus,
    /// Packet id of the request once sent.
    pub packet_id: u32,
    pub queued_at: SystemTime,
    pub sent_at: Option<SystemTime>,
    pub done_at: Option<SystemTime>,
    /// Intermediate hops towards the destination.
    pub route: Vec<NodeNum>,
    /// Intermediate hops on the way back.
    pub route_back: Vec<NodeNum>,
    /// SNR in dB of each hop towards (one more than `route`); `None` where unknown.
    pub snr_towards: Vec<Option<f32>>,
    pub snr_back: Vec<Option<f32>>,
    pub error: Option<String>,
    /// When it leaves for the radio (for a queued one), from the moment it was queued.
    pub sends_in: Duration,
    /// How long a pending probe waits for its reply.
    pub timeout: Duration,
    /// The sweep this probe belongs to, if any.
    pub sweep_id: Option<i64>,
}

impl Trace {
    /// The worst SNR on the route, both ways.
    pub fn worst_snr(&self) -> Option<f32> {
        self.snr_towards
            .iter()
            .chain(&self.snr_back)
            .flatten()
            .copied()
            .reduce(f32::min)
    }

    pub fn hops(&self) -> Option<usize> {
        (self.status == TraceStatus::Complete).then_some(self.route.len())
    }
}

fn snrs(v: &[i32]) -> Vec<Option<f32>> {
    v.iter()
        .map(|s| (*s != SNR_UNKNOWN && s.abs() < 400).then(|| *s as f32 / 4.0))
        .collect()
}

/// Why a probe is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("cannot traceroute this radio itself")]
    ToSelf,
    #[error("cannot traceroute broadcast")]
    Broadcast,
    #[error("a traceroute to {0} is already queued or pending")]
    Duplicate(String),
    #[error("a traceroute to {0} was sent less than 30 s ago; try again in {1} s")]
    TooSoon(String, u64),
    #[error("hop limit must be 1–7")]
    HopLimit,
}

/// Every traceroute of a link, and its probe queue.
#[derive(Debug)]
pub struct TraceBook {
    pub interval: Duration,
    queue: VecDeque<NodeNum>,
    last_send: Option<Instant>,
    /// Latest probe per destination.
    pub traces: HashMap<NodeNum, Trace>,
    /// When each destination was last probed (for the repeat guard).
    last_probe: HashMap<NodeNum, Instant>,
}

impl TraceBook {
    pub fn new(interval: Duration) -> TraceBook {
        TraceBook {
            interval,
            queue: VecDeque::new(),
            last_send: None,
            traces: HashMap::new(),
            last_probe: HashMap::new(),
        }
    }

    /// When the next queued probe may leave.
    pub fn next_send_at(&self) -> Instant {
        self.last_send
            .map(|t| t + self.interval)
            .unwrap_or_else(Instant::now)
    }

    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Queues a probe after checking the rules. Returns how long until it is sent.
    pub fn enqueue(
        &mut self,
        me: NodeNum,
        dest: NodeNum,
        hop_limit: u32,
        timeout: Duration,
    ) -> Result<Duration, Refused> {
        if dest == me {
            return Err(Refused::ToSelf);
        }
        if dest.is_broadcast() {
            return Err(Refused::Broadcast);
        }
        if !(1..=7).contains(&hop_limit) {
            return Err(Refused::HopLimit);
        }
        if self.traces.get(&dest).is_some_and(|t| t.status.is_open()) {
            return Err(Refused::Duplicate(dest.to_string()));
        }
        if let Some(at) = self.last_probe.get(&dest) {
            let since = at.elapsed();
            if since < REPEAT_GUARD {
                return Err(Refused::TooSoon(
                    dest.to_string(),
                    (REPEAT_GUARD - since).as_secs().max(1),
                ));
            }
        }
        let now = Instant::now();
        let first = match self.last_send {
            Some(t) => (t + self.interval).saturating_duration_since(now),
            None => Duration::ZERO,
        };
        let sends_in = first + self.interval * u32::try_from(self.queue.len()).unwrap_or(u32::MAX);
        self.queue.push_back(dest);
        self.traces.insert(
            dest,
            Trace {
                dest,
                hop_limit,
                status: TraceStatus::Queued,
                packet_id: 0,
                queued_at: SystemTime::now(),
                sent_at: None,
                done_at: None,
                route: Vec::new(),
                route_back: Vec::new(),
                snr_towards: Vec::new(),
                snr_back: Vec::new(),
                error: None,
                sends_in,
                timeout,
                sweep_id: None,
            },
        );
        Ok(sends_in)
    }

    /// Takes the next probe due now and marks it pending with the packet to send.
    pub fn take_due(&mut self, me: NodeNum, packet_id: u32) -> Option<pb::MeshPacket> {
        if self.next_send_at() > Instant::now() {
            return None;
        }
        while let Some(dest) = self.queue.pop_front() {
            let Some(t) = self.traces.get_mut(&dest) else {
                continue;
            };
            if t.status != TraceStatus::Queued {
                continue;
            }
            t.status = TraceStatus::Pending;
            t.packet_id = packet_id;
            t.sent_at = Some(SystemTime::now());
            let now = Instant::now();
            self.last_send = Some(now);
            self.last_probe.insert(dest, now);
            let payload = prost::Message::encode_to_vec(&pb::RouteDiscovery::default());
            return Some(pb::MeshPacket {
                from: me.0,
                to: dest.0,
                id: packet_id,
                want_ack: true,
                hop_limit: t.hop_limit,
                payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                    portnum: pb::PortNum::TracerouteApp as i32,
                    payload,
                    want_response: true,
                    ..Default::default()
                })),
                ..Default::default()
            });
        }
        None
    }

    fn pending_by_packet(&mut self, packet_id: u32) -> Option<&mut Trace> {
        self.traces
            .values_mut()
            .find(|t| t.status == TraceStatus::Pending && t.packet_id == packet_id)
    }

    /// Applies a received packet; returns the destination whose trace changed.
    pub fn observe(&mut self, p: &pb::MeshPacket) -> Option<NodeNum> {
        let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
            return None;
        };
        if d.request_id == 0 {
            return None;
        }
        if d.portnum == pb::PortNum::TracerouteApp as i32 {
            let r = <pb::RouteDiscovery as prost::Message>::decode(d.payload.as_slice()).ok()?;
            let t = self.pending_by_packet(d.request_id)?;
            t.status = TraceStatus::Complete;
            t.route = r.route.into_iter().map(NodeNum).collect();
            t.route_back = r.route_back.into_iter().map(NodeNum).collect();
            t.snr_towards = snrs(&r.snr_towards);
            t.snr_back = snrs(&r.snr_back);
            t.done_at = Some(SystemTime::now());
            return Some(t.dest);
        }
        if d.portnum == pb::PortNum::RoutingApp as i32 {
            let r = <pb::Routing as prost::Message>::decode(d.payload.as_slice()).ok()?;
            let Some(pb::routing::Variant::ErrorReason(e)) = r.variant else {
                return None;
            };
            if e == 0 {
                return None; // the ack of the request; the reply is still to come
            }
            let t = self.pending_by_packet(d.request_id)?;
            t.status = TraceStatus::Error;
            t.error = Some(
                pb::routing::Error::try_from(e)
                    .map(|e| e.as_str_name().to_string())
                    .unwrap_or_else(|_| format!("ERROR_{e}")),
            );
            t.done_at = Some(SystemTime::now());
            return Some(t.dest);
        }
        None
    }

    /// Marks overdue pending probes as timed out; returns their destinations.
    pub fn expire(&mut self) -> Vec<NodeNum> {
        let now = SystemTime::now();
        let mut out = Vec::new();
        for t in self
            .traces
            .values_mut()
            .filter(|t| t.status == TraceStatus::Pending)
        {
            if t.sent_at
                .and_then(|s| now.duration_since(s).ok())
                .is_some_and(|d| d > t.timeout)
            {
                t.status = TraceStatus::Timeout;
                t.done_at = Some(now);
                out.push(t.dest);
            }
        }
        out
    }

    /// Cancels a queued or pending probe.
    /// The radio refused a sent probe (firmware says so with a `ClientNotification` whose
    /// `reply_id` is the probe's packet id); returns its destination.
    pub fn refused(&mut self, packet_id: u32, reason: &str) -> Option<NodeNum> {
        let t = self.pending_by_packet(packet_id)?;
        t.status = TraceStatus::Error;
        t.error = Some(if reason.is_empty() {
            "refused by the radio".to_string()
        } else {
            reason.to_string()
        });
        t.done_at = Some(SystemTime::now());
        Some(t.dest)
    }

    pub fn cancel(&mut self, dest: NodeNum) -> bool {
        match self.traces.get_mut(&dest) {
            Some(t) if t.status.is_open() => {
                t.status = TraceStatus::Cancelled;
                t.done_at = Some(SystemTime::now());
                self.queue.retain(|d| *d != dest);
                true
            }
            _ => false,
        }
    }

    /// Fails every open probe (the link went down).
    pub fn fail_open(&mut self, reason: &str) -> Vec<NodeNum> {
        self.queue.clear();
        let mut out = Vec::new();
        for t in self.traces.values_mut().filter(|t| t.status.is_open()) {
            t.status = TraceStatus::Error;
            t.error = Some(reason.to_string());
            t.done_at = Some(SystemTime::now());
            out.push(t.dest);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(num: u32) -> NodeNum {
        NodeNum(num)
    }

    fn reply(request_id: u32, r: pb::RouteDiscovery) -> pb::MeshPacket {
        pb::MeshPacket {
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::TracerouteApp as i32,
                payload: prost::Message::encode_to_vec(&r),
                request_id,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn the_rules_refuse_self_broadcast_duplicates_and_repeats() {
        let mut b = TraceBook::new(Duration::from_millis(10));
        let t = Duration::from_secs(60);
        assert_eq!(b.enqueue(n(1), n(1), 3, t), Err(Refused::ToSelf));
        assert_eq!(
            b.enqueue(n(1), NodeNum::BROADCAST, 3, t),
            Err(Refused::Broadcast)
        );
        assert_eq!(b.enqueue(n(1), n(2), 9, t), Err(Refused::HopLimit));
        assert!(b.enqueue(n(1), n(2), 3, t).is_ok());
        assert!(matches!(
            b.enqueue(n(1), n(2), 3, t),
            Err(Refused::Duplicate(_))
        ));
        let p = b.take_due(n(1), 77).unwrap();
        assert_eq!((p.to, p.id, p.hop_limit), (2, 77, 3));
        b.observe(&reply(
            77,
            pb::RouteDiscovery {
                route: vec![5],
                snr_towards: vec![40, -128],
                route_back: vec![],
                snr_back: vec![-6],
            },
        ));
        let tr = &b.traces[&n(2)];
        assert_eq!(tr.status, TraceStatus::Complete);
        assert_eq!(tr.snr_towards, vec![Some(10.0), None]);
        assert_eq!(tr.worst_snr(), Some(-1.5));
        assert!(matches!(
            b.enqueue(n(1), n(2), 3, t),
            Err(Refused::TooSoon(_, _))
        ));
        // A probe the radio refuses with a notification ends as an error at once.
        let mut b = TraceBook::new(Duration::from_millis(1));
        b.enqueue(n(1), n(9), 3, t).unwrap();
        b.take_due(n(1), 500).unwrap();
        assert_eq!(b.refused(501, "x"), None);
        assert_eq!(b.refused(500, "Traceroute rate limit exceeded"), Some(n(9)));
        assert_eq!(
            (b.traces[&n(9)].status, b.traces[&n(9)].error.as_deref()),
            (TraceStatus::Error, Some("Traceroute rate limit exceeded"))
        );
    }

    #[tokio::test]
    async fn the_queue_keeps_the_interval_and_says_when_each_probe_goes() {
        let mut b = TraceBook::new(Duration::from_secs(30));
        let t = Duration::from_secs(60);
        assert_eq!(b.enqueue(n(1), n(2), 3, t).unwrap(), Duration::ZERO);
        let second = b.enqueue(n(1), n(3), 3, t).unwrap();
        assert!(second >= Duration::from_secs(29), "{second:?}");
        assert!(b.take_due(n(1), 10).is_some());
        assert!(
            b.take_due(n(1), 11).is_none(),
            "the second must wait for the interval"
        );
        assert!(b.cancel(n(3)));
        assert!(!b.cancel(n(3)));
        assert_eq!(b.traces[&n(3)].status, TraceStatus::Cancelled);
    }
}
