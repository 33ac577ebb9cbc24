//! Admin messages to the simulated radio, handled the way firmware's `AdminModule` does for
//! its own client (no session passkey check: that is only for admin from other nodes).
//!
//! - get owner / config / module config / channel / device metadata: answered with the
//!   matching response, carrying a session passkey; a bad index gets BAD_REQUEST.
//! - set owner / config / module config / channel, favourites, node removal: applied. A set
//!   that changes the owner, a config or a module section outside an edit transaction
//!   reboots the radio, as firmware does; channels and favourites never do.
//! - begin / commit edit settings: a commit always reboots (firmware saves and reboots).
//! - reboot, shutdown, factory reset (back to the generated state, then reboot), NodeDB reset
//!   (only my node stays, then reboot, as firmware does).
//! - every other message with `want_response` gets a routing ack (NONE).
//!
//! Replies go from my node to my node on the request's channel with `request_id` set.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::sync::mpsc;

use super::handle::{emit, received, routing};
use super::settings::Factory;
use super::{mesh, Inner};
use crate::proto::{self, config_parts, module_parts, pb};

use pb::admin_message::PayloadVariant as A;

/// How long after a change the simulated firmware goes down for its reboot.
const REBOOT_AFTER: Duration = Duration::from_millis(200);

/// The passkey firmware hands out with every response (and expects back from remote admins).
fn passkey(inner: &Inner) -> Vec<u8> {
    let mut rng = mesh::Rng::new(u64::from(inner.my_node_num) ^ 0x9A55);
    rng.next_u64().to_le_bytes().to_vec()
}

fn reply(inner: &Inner, out: &mpsc::UnboundedSender<Vec<u8>>, req: &pb::MeshPacket, v: A) {
    let msg = pb::AdminMessage {
        payload_variant: Some(v),
        session_passkey: passkey(inner),
    };
    let me = inner.my_node_num;
    let p = pb::MeshPacket {
        channel: req.channel,
        ..received(me, me, pb::PortNum::AdminApp, msg.encode_to_vec(), req.id)
    };
    emit(inner, out, p);
}

/// Answers a get with its response, or with BAD_REQUEST when there is nothing to give.
fn answer(inner: &Inner, out: &mpsc::UnboundedSender<Vec<u8>>, req: &pb::MeshPacket, v: Option<A>) {
    match v {
        Some(v) => reply(inner, out, req, v),
        None => ack(inner, out, req, pb::routing::Error::BadRequest),
    }
}

fn ack(
    inner: &Inner,
    out: &mpsc::UnboundedSender<Vec<u8>>,
    req: &pb::MeshPacket,
    e: pb::routing::Error,
) {
    let mut p = routing(inner, inner.my_node_num, req.id, e);
    p.channel = req.channel;
    emit(inner, out, p);
}

/// Config section `kind` (the `ConfigType` enum: device = 0 … security = 7, session key = 8).
fn config_of(c: &pb::LocalConfig, kind: i32) -> Option<pb::Config> {
    if kind == pb::admin_message::ConfigType::SessionkeyConfig as i32 {
        return Some(pb::Config {
            payload_variant: Some(pb::config::PayloadVariant::Sessionkey(Default::default())),
        });
    }
    config_parts(c).into_iter().nth(usize::try_from(kind).ok()?)
}

/// Module section `kind` (the `ModuleConfigType` enum: mqtt = 0 … paxcounter = 12).
fn module_of(m: &pb::LocalModuleConfig, kind: i32) -> Option<pb::ModuleConfig> {
    module_parts(m).into_iter().nth(usize::try_from(kind).ok()?)
}

/// Applies one admin message from the client; `req` is the packet that carried it.
/// (Each lock is released before replying: `emit` locks too.)
pub(super) fn apply(
    inner: &Arc<Inner>,
    admin: pb::AdminMessage,
    req: &pb::MeshPacket,
    out: &mpsc::UnboundedSender<Vec<u8>>,
) {
    let Some(v) = admin.payload_variant else {
        return;
    };
    let want_response = matches!(
        &req.payload_variant,
        Some(pb::mesh_packet::PayloadVariant::Decoded(d)) if d.want_response
    );
    let reboot_delay = inner.cfg.reboot_delay;
    let me = inner.my_node_num;
    // Whether this message already got its own reply.
    let mut replied = true;
    // Whether it changed something that needs a reboot (outside an edit transaction).
    let mut reboot = false;
    match v {
        A::GetConfigRequest(kind) => {
            let c = config_of(&inner.lock().config, kind);
            answer(inner, out, req, c.map(A::GetConfigResponse));
        }
        A::GetModuleConfigRequest(kind) => {
            let m = module_of(&inner.lock().module_config, kind);
            answer(inner, out, req, m.map(A::GetModuleConfigResponse));
        }
        A::GetChannelRequest(i) => {
            // The request counts channels from 1.
            let c = i
                .checked_sub(1)
                .and_then(|i| inner.lock().channels.get(i as usize).cloned());
            answer(inner, out, req, c.map(A::GetChannelResponse));
        }
        A::GetOwnerRequest(_) => {
            let u = inner.node_part(me, |n| n.user.clone());
            reply(inner, out, req, A::GetOwnerResponse(u));
        }
        A::GetDeviceMetadataRequest(_) => {
            let m = super::handshake::metadata(inner.lock().old_firmware);
            reply(inner, out, req, A::GetDeviceMetadataResponse(m));
        }
        A::SetConfig(c) => {
            reboot = changes(&mut inner.lock().config, |s| proto::set_config(s, c));
            replied = false;
        }
        A::SetModuleConfig(m) => {
            reboot = changes(&mut inner.lock().module_config, |s| {
                proto::set_module_config(s, m)
            });
            replied = false;
        }
        A::SetChannel(c) => {
            let mut st = inner.lock();
            match usize::try_from(c.index)
                .ok()
                .filter(|i| *i < st.channels.len())
            {
                Some(i) => {
                    st.channels[i] = c;
                    replied = false;
                }
                None => {
                    drop(st);
                    ack(inner, out, req, pb::routing::Error::BadRequest);
                }
            }
        }
        A::SetOwner(u) => {
            let mut st = inner.lock();
            if let Some(n) = st.nodes.iter_mut().find(|n| n.num == me) {
                let mut owner = n.user.clone().unwrap_or_default();
                // Blank names keep the old ones, as firmware does.
                if !u.long_name.trim().is_empty() {
                    owner.long_name = u.long_name;
                }
                if !u.short_name.trim().is_empty() {
                    owner.short_name = u.short_name;
                }
                owner.is_licensed = u.is_licensed;
                owner.id = proto::node_id(me);
                reboot = n.user.as_ref() != Some(&owner);
                n.user = Some(owner);
            }
            replied = false;
        }
        A::RemoveByNodenum(num) if num != me => {
            inner.lock().nodes.retain(|n| n.num != num);
            replied = false;
        }
        A::SetFavoriteNode(num) | A::RemoveFavoriteNode(num) => {
            let fav = matches!(v, A::SetFavoriteNode(_));
            if let Some(n) = inner.lock().nodes.iter_mut().find(|n| n.num == num) {
                n.is_favorite = fav;
            }
            replied = false;
        }
        A::BeginEditSettings(_) => {
            inner.lock().editing = true;
            replied = false;
        }
        A::CommitEditSettings(_) => {
            let mut st = inner.lock();
            st.editing = false;
            st.changed = false;
            drop(st);
            inner.reboot(REBOOT_AFTER, reboot_delay);
            replied = false;
        }
        A::RebootSeconds(s) => {
            inner.reboot(seconds(s), reboot_delay);
            replied = false;
        }
        A::ShutdownSeconds(s) => {
            inner.shut_down(seconds(s));
            replied = false;
        }
        A::FactoryResetDevice(_) | A::FactoryResetConfig(_) => {
            let fresh = Factory::new(&inner.cfg);
            let mut st = inner.lock();
            st.config = fresh.config;
            st.module_config = fresh.module_config;
            st.channels = fresh.channels;
            st.nodes = fresh.nodes;
            st.editing = false;
            drop(st);
            inner.reboot(REBOOT_AFTER, reboot_delay);
            replied = false;
        }
        A::NodedbReset(_) => {
            inner.lock().nodes.retain(|n| n.num == me);
            inner.reboot(REBOOT_AFTER, reboot_delay);
            replied = false;
        }
        _ => replied = false,
    }
    if reboot {
        let mut st = inner.lock();
        let editing = st.editing;
        st.changed |= editing;
        drop(st);
        if !editing {
            inner.reboot(REBOOT_AFTER, reboot_delay);
        }
    }
    if want_response && !replied {
        ack(inner, out, req, pb::routing::Error::None);
    }
}

/// Applies `set` to `section`; whether that changed it.
fn changes<T: Clone + PartialEq>(section: &mut T, set: impl FnOnce(&mut T)) -> bool {
    let before = section.clone();
    set(section);
    *section != before
}

fn seconds(s: i32) -> Duration {
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}
