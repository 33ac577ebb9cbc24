//! Admin messages: gets answered, sets applied, reboots, resets, shutdown.

use pb::admin_message::PayloadVariant as A;

use super::*;

#[tokio::test]
async fn gets_are_answered_with_the_radio_s_state_and_a_session_passkey() {
    let (r, mut c) = connected(quiet(5), 8).await;
    let me = r.my_node_num();
    c.packet(admin(me, 1, A::GetModuleConfigRequest(0), true))
        .await;
    c.packet(admin(me, 2, A::GetConfigRequest(5), true)).await;
    c.packet(admin(me, 3, A::GetChannelRequest(2), true)).await;
    c.packet(admin(me, 4, A::GetOwnerRequest(true), true)).await;
    c.packet(admin(me, 5, A::GetDeviceMetadataRequest(true), true))
        .await;
    c.packet(admin(me, 6, A::GetChannelRequest(0), true)).await;
    let got = c.collect(400).await;
    let Some(A::GetModuleConfigResponse(pb::ModuleConfig {
        payload_variant: Some(pb::module_config::PayloadVariant::Mqtt(mqtt)),
    })) = admin_reply(&got, 1)
    else {
        panic!("no mqtt config")
    };
    assert_eq!(
        (mqtt.root.as_str(), mqtt.password.as_str()),
        ("msh/EU_868", "SIMSECRET-0")
    );
    let Some(A::GetConfigResponse(pb::Config {
        payload_variant: Some(pb::config::PayloadVariant::Lora(lora)),
    })) = admin_reply(&got, 2)
    else {
        panic!("no lora config")
    };
    assert_eq!(lora.hop_limit, 3);
    assert!(matches!(admin_reply(&got, 3), Some(A::GetChannelResponse(ch)) if ch.index == 1));
    let owner = r.nodes()[0].user.clone().unwrap();
    assert_eq!(admin_reply(&got, 4), Some(A::GetOwnerResponse(owner)));
    assert!(matches!(
        admin_reply(&got, 5),
        Some(A::GetDeviceMetadataResponse(_))
    ));
    let bad = pb::routing::Error::BadRequest as i32;
    assert_eq!(routings(&got), vec![(6, bad, me)], "channels count from 1");
    let key = got
        .iter()
        .filter_map(decoded)
        .find_map(|(_, d)| pb::AdminMessage::decode(d.payload.as_slice()).ok())
        .unwrap()
        .session_passkey;
    assert_eq!(key.len(), 8);
}

#[tokio::test]
async fn admin_to_another_node_is_not_answered() {
    let (r, mut c) = connected(quiet(5), 8).await;
    let other = r.nodes()[2].num;
    c.packet(admin(other, 1, A::GetOwnerRequest(true), true))
        .await;
    let got = c.collect(400).await;
    assert_eq!(queued(&got), vec![1]);
    assert!(got.iter().filter_map(decoded).next().is_none());
}

#[tokio::test]
async fn a_committed_edit_is_applied_and_the_radio_reboots_and_comes_back() {
    let (r, mut c) = connected(quiet(5), 8).await;
    let me = r.my_node_num();
    let mqtt = pb::module_config::MqttConfig {
        root: "msh/test".into(),
        ..r.module_config().mqtt.unwrap()
    };
    let set = A::SetModuleConfig(pb::ModuleConfig {
        payload_variant: Some(pb::module_config::PayloadVariant::Mqtt(mqtt)),
    });
    c.packet(admin(me, 22, A::BeginEditSettings(true), false))
        .await;
    c.packet(admin(me, 23, set, true)).await;
    let got = c.collect(400).await;
    assert_eq!(
        routings(&got),
        vec![(23, 0, me)],
        "a set with want_response is acked"
    );
    assert_eq!(r.module_config().mqtt.unwrap().root, "msh/test");
    c.packet(admin(me, 24, A::CommitEditSettings(true), false))
        .await;
    assert!(c.closed_within(2000).await, "the commit reboots the radio");
    // Down for the reboot: a connection is closed at once.
    let mut early = Raw::connect(&r).await;
    assert!(early.closed_within(200).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut again = Raw::connect(&r).await;
    let all = again.handshake(9).await;
    let Some(Out::MyInfo(my)) = all.first() else {
        panic!("no my_info")
    };
    assert_eq!(my.reboot_count, 1);
    assert!(all.iter().any(|m| matches!(m, Out::ModuleConfig(pb::ModuleConfig {
        payload_variant: Some(pb::module_config::PayloadVariant::Mqtt(q)) }) if q.root == "msh/test")));
}

#[tokio::test]
async fn a_set_outside_an_edit_reboots_but_a_channel_or_favourite_does_not() {
    let (r, mut c) = connected(quiet(5), 8).await;
    let me = r.my_node_num();
    let fav = r.nodes()[3].num;
    let mut ch = r.channels()[2].clone();
    ch.role = pb::channel::Role::Secondary as i32;
    ch.settings = Some(pb::ChannelSettings {
        name: "Extra".into(),
        ..Default::default()
    });
    c.packet(admin(me, 31, A::SetChannel(ch), false)).await;
    c.packet(admin(me, 32, A::SetFavoriteNode(fav), false))
        .await;
    assert!(!c.closed_within(500).await);
    assert_eq!(r.channels()[2].settings.as_ref().unwrap().name, "Extra");
    assert!(r.nodes().iter().any(|n| n.num == fav && n.is_favorite));
    let mut display = r.local_config().display.unwrap();
    display.screen_on_secs += 30;
    let set = A::SetConfig(pb::Config {
        payload_variant: Some(pb::config::PayloadVariant::Display(display)),
    });
    c.packet(admin(me, 33, set, false)).await;
    assert!(c.closed_within(2000).await);
    let now = r.local_config().display.unwrap();
    assert_eq!(now.screen_on_secs, display.screen_on_secs);
}

#[tokio::test]
async fn a_node_db_reset_keeps_my_node_and_a_factory_reset_brings_the_mesh_back() {
    let (r, mut c) = connected(quiet(12), 8).await;
    let me = r.my_node_num();
    c.packet(admin(me, 41, A::NodedbReset(true), false)).await;
    assert!(
        c.closed_within(2000).await,
        "firmware reboots after a NodeDB reset"
    );
    let left: Vec<u32> = r.nodes().iter().map(|n| n.num).collect();
    assert_eq!(left, vec![me]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut c = Raw::connect(&r).await;
    let all = c.handshake(9).await;
    let nodes = all.iter().filter(|m| matches!(m, Out::NodeInfo(_))).count();
    assert_eq!(nodes, 1);
    c.packet(admin(me, 42, A::FactoryResetConfig(1), false))
        .await;
    assert!(c.closed_within(2000).await);
    assert_eq!(r.nodes().len(), 12);
}

#[tokio::test]
async fn a_shut_down_radio_stays_down_until_restarted() {
    let (r, mut c) = connected(quiet(5), 8).await;
    c.packet(admin(r.my_node_num(), 51, A::ShutdownSeconds(0), false))
        .await;
    assert!(c.closed_within(2000).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut down = Raw::connect(&r).await;
    assert!(down.closed_within(300).await, "refused while shut down");
    r.restart();
    let mut up = Raw::connect(&r).await;
    up.handshake(9).await;
}
