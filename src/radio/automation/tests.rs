//! Tests of the responder, the filter and their shared state.

use super::responder::matches;
use super::*;
use crate::ids::{ChannelIndex, Dest, NodeNum};
use crate::proto::pb;

const BROADCAST: NodeNum = NodeNum::BROADCAST;

fn incoming(text: &str, to: u32) -> Incoming {
    Incoming {
        from: NodeNum(0xabc),
        to: NodeNum(to),
        channel: ChannelIndex::from_radio(2),
        text: text.into(),
        via_mqtt: false,
        hops: Some(2),
        sender_name: Some("Ridge <Relay>".into()),
        sender_short: Some("RR".into()),
    }
}

#[test]
fn every_variable_substitutes_and_unknowns_become_question_marks() {
    let me = Me {
        num: NodeNum(0x10),
        name: "Base".into(),
    };
    let m = incoming("Ping", 0x10);
    let vars = responder_vars(&m, &me);
    let cases = [
        ("{sender_name}", "Ridge <Relay>"),
        ("{sender_short}", "RR"),
        ("{sender_id}", "!00000abc"),
        ("{my_name}", "Base"),
        ("{my_id}", "!00000010"),
        ("{message}", "Ping"),
        ("{message_type}", "direct"),
        ("{source_type}", "RF"),
        ("{hops}", "2"),
        ("{nonsense}", "?"),
        ("{unclosed", "{unclosed"),
        ("{}", "{}"),
    ];
    for (t, want) in cases {
        assert_eq!(fill(t, &vars), want, "{t}");
    }
    let m = Incoming {
        hops: None,
        sender_short: None,
        ..incoming("x", BROADCAST.0)
    };
    assert_eq!(
        fill(
            "{hops}/{sender_short}/{message_type}",
            &responder_vars(&m, &me)
        ),
        "?/?/broadcast"
    );
}

#[test]
fn triggers_match_case_insensitively_by_type() {
    let rule = |t, ty| Rule {
        id: "1".into(),
        enabled: true,
        trigger: t,
        trigger_type: ty,
        response: "r".into(),
        message_type: MessageType::Both,
        source_type: SourceType::Both,
        cooldown: 0,
    };
    assert!(matches(&rule("ping".into(), TriggerType::Exact), " PING "));
    assert!(!matches(
        &rule("ping".into(), TriggerType::Exact),
        "ping me"
    ));
    assert!(matches(
        &rule("ping".into(), TriggerType::StartsWith),
        "Ping me"
    ));
    assert!(matches(
        &rule("weather".into(), TriggerType::Contains),
        "how is the WEATHER?"
    ));
}

#[test]
fn cooldowns_self_unknown_and_empty_are_respected() {
    let s = Shared::default();
    let me = Me {
        num: NodeNum(0x10),
        name: "Base".into(),
    };
    let first = s.respond(&incoming("ping", 0x10), &me).unwrap();
    assert_eq!(
        (first.to, first.channel),
        (Dest::Node(NodeNum(0xabc)), ChannelIndex::from_radio(2))
    );
    assert!(first.text.starts_with("pong"));
    assert!(
        s.respond(&incoming("ping", 0x10), &me).is_none(),
        "cooldown"
    );
    let s = Shared::default();
    let b = s.respond(&incoming("ping", BROADCAST.0), &me).unwrap();
    assert_eq!(
        (b.to, b.channel),
        (Dest::Broadcast, ChannelIndex::from_radio(2)),
        "a broadcast is answered on its channel"
    );
    let s = Shared::default();
    assert!(s
        .respond(
            &Incoming {
                from: NodeNum(0x10),
                ..incoming("ping", BROADCAST.0)
            },
            &me
        )
        .is_none());
    assert!(s
        .respond(
            &Incoming {
                sender_name: None,
                ..incoming("ping", BROADCAST.0)
            },
            &me
        )
        .is_none());
    assert!(s.respond(&incoming("  ", BROADCAST.0), &me).is_none());
}

#[test]
fn the_filter_allows_and_blocks() {
    let mut f = Filter {
        enabled: true,
        filter_mode: "blocklist".into(),
        node_ids: vec!["!00000abc".into()],
        portnums: vec!["POSITION_APP".into()],
    };
    assert!(!f.passes(NodeNum(0xabc), pb::PortNum::TextMessageApp as i32));
    assert!(!f.passes(NodeNum(0x1), pb::PortNum::PositionApp as i32));
    assert!(f.passes(NodeNum(0x1), pb::PortNum::TextMessageApp as i32));
    f.filter_mode = "allowlist".into();
    assert!(!f.passes(NodeNum(0xabc), pb::PortNum::TextMessageApp as i32));
    f.portnums.clear();
    assert!(f.passes(NodeNum(0xabc), pb::PortNum::TextMessageApp as i32));
    assert!(!f.passes(NodeNum(0x1), pb::PortNum::TextMessageApp as i32));
    assert!(f.validate().is_ok());
    f.node_ids.push("zz".into());
    assert!(f.validate().is_err());
}

#[test]
fn rules_stored_in_our_older_shape_and_the_originals_read_alike() {
    let older = r#"{"enabled": true, "rules": [{"id": 3, "enabled": true, "trigger": "hi",
        "trigger_type": "starts_with", "response": "hello", "message_type": "direct",
        "source_type": "rf", "cooldown": 9}]}"#;
    let original = r#"{"enabled": true, "rules": [{"id": "3", "enabled": true, "trigger": "hi",
        "triggerType": "startswith", "response": "hello", "messageType": "direct",
        "sourceType": "rf", "cooldownSeconds": 9}], "available_variables": {}}"#;
    let a: Responder = serde_json::from_str(older).unwrap();
    let b: Responder = serde_json::from_str(original).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.rules[0].trigger_type, TriggerType::StartsWith);
    let written = serde_json::to_value(&a).unwrap();
    assert_eq!(written["rules"][0]["triggerType"], "startswith");
    assert_eq!(written["rules"][0]["cooldownSeconds"], 9);
    // The original's rules may have no id: each gets one of its own.
    let mut r: Responder =
        serde_json::from_str(r#"{"rules": [{"trigger": "a"}, {"trigger": "b"}]}"#).unwrap();
    assert!(
        !r.enabled,
        "a missing master switch is off, as in the original"
    );
    r.name_rules();
    assert_eq!(
        (r.rules[0].id.as_str(), r.rules[1].id.as_str()),
        ("rule-1", "rule-2")
    );
    assert_eq!(r.rules[1].response, "Auto-reply");
    assert!(r.validate().is_ok());
}
