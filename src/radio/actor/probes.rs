//! Traceroutes: the probe queue (one probe per firmware interval), their answers and
//! timeouts, and the history of finished ones.

use tokio::net::TcpStream;

use super::Actor;
use crate::ids::{NodeNum, PacketId};
use crate::radio::events::LinkEvent;
use crate::radio::handle::{Probe, TraceError};
use crate::radio::text::HistoryOp;

impl Actor {
    pub(super) fn enqueue_trace(
        &mut self,
        probe: Probe,
    ) -> Result<std::time::Duration, TraceError> {
        let Probe {
            dest,
            hop_limit,
            timeout,
            sweep_id,
            done,
        } = probe;
        let mut st = self.write_state();
        let me = st.my_node_num;
        let hops = hop_limit.unwrap_or_else(|| st.hop_limit());
        let r = st.traces.enqueue(me, dest, hops, timeout);
        if let (Ok(_), Some(t)) = (&r, st.traces.traces.get_mut(&dest)) {
            t.sweep_id = sweep_id;
        }
        drop(st);
        let sends_in = r?;
        if let Some(done) = done {
            self.probe_waiters.insert(dest, done);
        }
        let _ = self.events.send(LinkEvent::Trace(dest));
        Ok(sends_in)
    }

    pub(super) fn cancel_trace(&mut self, dest: NodeNum) -> bool {
        let done = self.write_state().traces.cancel(dest);
        if done {
            self.trace_changed(dest);
        }
        done
    }

    pub(super) async fn send_due_probe(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        let id = PacketId::random().get();
        let packet = {
            let mut st = self.write_state();
            let me = st.my_node_num;
            st.traces.take_due(me, id)
        };
        let Some(packet) = packet else { return Ok(()) };
        let dest = NodeNum(packet.to);
        self.send_packet(stream, packet).await?;
        self.trace_changed(dest);
        Ok(())
    }

    pub(super) fn expire_probes(&mut self) {
        let expired = self.write_state().traces.expire();
        for dest in expired {
            self.trace_changed(dest);
        }
    }

    /// Publishes a trace change; a finished trace goes to the history and to whoever waits.
    pub(super) fn trace_changed(&mut self, dest: NodeNum) {
        let (radio, done) = {
            let st = self.read_state();
            (
                st.radio_key,
                st.traces
                    .traces
                    .get(&dest)
                    .filter(|t| !t.status.is_open())
                    .cloned(),
            )
        };
        if let Some(t) = done {
            if let Some(waiter) = self.probe_waiters.remove(&dest) {
                let _ = waiter.send(t.clone());
            }
            self.record(HistoryOp::Trace {
                radio,
                trace: Box::new(t),
            });
        }
        let _ = self.events.send(LinkEvent::Trace(dest));
    }

    pub(super) fn fail_traces(&mut self, reason: &str) {
        let failed = self
            .write_state()
            .traces
            .fail_open(&format!("link lost: {reason}"));
        for dest in failed {
            self.trace_changed(dest);
        }
    }
}
