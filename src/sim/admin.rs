//! Admin messages to the simulated radio, handled the way firmware does: get/set config,
//! module config, channels and owner; edit transactions; reboot, shutdown, factory reset,
//! NodeDB reset.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::sync::mpsc;

use super::handle::emit;
use super::{mesh, Inner};
use crate::proto::pb;
use crate::proto::{self, config_parts, module_parts};

use pb::admin_message::PayloadVariant as A;

fn reply(inner: &Inner, out: &mpsc::UnboundedSender<Vec<u8>>, request_id: u32, v: A) {
    let msg = pb::AdminMessage {
        payload_variant: Some(v),
        ..Default::default()
    };
    emit(
        inner,
        out,
        pb::MeshPacket {
            from: inner.my_node_num,
            to: inner.my_node_num,
            id: rand::random::<u32>() | 1,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::AdminApp as i32,
                payload: msg.encode_to_vec(),
                request_id,
                ..Default::default()
            })),
            ..Default::default()
        },
    );
}

fn config_of(c: &pb::LocalConfig, kind: i32) -> Option<pb::Config> {
    config_parts(c).into_iter().nth(usize::try_from(kind).ok()?)
}

fn module_of(m: &pb::LocalModuleConfig, kind: i32) -> Option<pb::ModuleConfig> {
    module_parts(m).into_iter().nth(usize::try_from(kind).ok()?)
}

pub(super) fn apply(
    inner: &Arc<Inner>,
    admin: pb::AdminMessage,
    request_id: u32,
    out: &mpsc::UnboundedSender<Vec<u8>>,
) {
    let Some(v) = admin.payload_variant else {
        return;
    };
    let reboot_delay = inner.cfg.reboot_delay;
    match v {
        A::GetConfigRequest(kind) => {
            let c = config_of(&inner.lock().config, kind);
            if let Some(c) = c {
                reply(inner, out, request_id, A::GetConfigResponse(c));
            }
        }
        A::GetModuleConfigRequest(kind) => {
            let m = module_of(&inner.lock().module_config, kind);
            if let Some(m) = m {
                reply(inner, out, request_id, A::GetModuleConfigResponse(m));
            }
        }
        A::GetChannelRequest(i) => {
            let c = inner
                .lock()
                .channels
                .get(i.saturating_sub(1) as usize)
                .cloned();
            if let Some(c) = c {
                reply(inner, out, request_id, A::GetChannelResponse(c));
            }
        }
        A::GetOwnerRequest(_) => {
            let me = inner.my_node_num;
            let u = inner
                .lock()
                .nodes
                .iter()
                .find(|n| n.num == me)
                .and_then(|n| n.user.clone());
            reply(
                inner,
                out,
                request_id,
                A::GetOwnerResponse(u.unwrap_or_default()),
            );
        }
        A::SetConfig(c) => {
            let mut st = inner.lock();
            proto::set_config(&mut st.config, c);
            let editing = st.editing;
            st.changed = true;
            drop(st);
            if !editing {
                inner.reboot(Duration::from_millis(200), reboot_delay);
            }
        }
        A::SetModuleConfig(m) => {
            let mut st = inner.lock();
            proto::set_module_config(&mut st.module_config, m);
            let editing = st.editing;
            st.changed = true;
            drop(st);
            if !editing {
                inner.reboot(Duration::from_millis(200), reboot_delay);
            }
        }
        A::SetChannel(c) => {
            let mut st = inner.lock();
            if let Ok(i) = usize::try_from(c.index) {
                if i < st.channels.len() {
                    st.channels[i] = c;
                }
            }
        }
        A::SetOwner(u) => {
            let me = inner.my_node_num;
            let mut st = inner.lock();
            if let Some(n) = st.nodes.iter_mut().find(|n| n.num == me) {
                let mut u = u;
                u.id = crate::proto::node_id(me);
                n.user = Some(u);
            }
        }
        A::BeginEditSettings(_) => {
            let mut st = inner.lock();
            st.editing = true;
            st.changed = false;
        }
        A::CommitEditSettings(_) => {
            let mut st = inner.lock();
            let changed = st.changed;
            st.editing = false;
            st.changed = false;
            drop(st);
            if changed {
                inner.reboot(Duration::from_millis(200), reboot_delay);
            }
        }
        A::RebootSeconds(s) => inner.reboot(
            Duration::from_secs(u64::try_from(s).unwrap_or(0)),
            reboot_delay,
        ),
        A::ShutdownSeconds(s) => {
            inner.shut_down(Duration::from_secs(u64::try_from(s).unwrap_or(0)))
        }
        A::FactoryResetDevice(_) | A::FactoryResetConfig(_) => {
            let index = inner.cfg.index;
            let fresh = mesh::generate_mesh(inner.cfg.nodes, inner.cfg.seed, index);
            let mut st = inner.lock();
            st.config = mesh::local_config();
            st.module_config = mesh::module_config(index);
            st.channels = mesh::channels(index);
            st.nodes = fresh.nodes;
            drop(st);
            inner.reboot(Duration::from_millis(200), reboot_delay);
        }
        A::NodedbReset(_) => {
            let me = inner.my_node_num;
            inner.lock().nodes.retain(|n| n.num == me);
        }
        _ => {}
    }
}
