//! The generated mesh: deterministic per seed and index, and varied enough to exercise a
//! dashboard's filters and order.

use std::collections::HashSet;

use super::*;

fn nums(m: &Mesh) -> Vec<u32> {
    m.nodes.iter().map(|n| n.num).collect()
}

fn long_names(m: &Mesh) -> Vec<String> {
    m.nodes
        .iter()
        .map(|n| n.user.clone().unwrap_or_default().long_name)
        .collect()
}

#[test]
fn the_same_seed_and_index_give_the_same_mesh_and_another_index_a_different_one() {
    let a = generate_mesh(250, 1, 0);
    let b = generate_mesh(250, 1, 0);
    assert_eq!(nums(&a), nums(&b));
    assert_eq!(a.my_node_num, b.my_node_num);
    for (x, y) in a.nodes.iter().zip(&b.nodes) {
        assert_eq!(x.user, y.user);
        assert_eq!(x.position, y.position);
        assert_eq!(
            (x.hops_away, x.via_mqtt, x.is_favorite),
            (y.hops_away, y.via_mqtt, y.is_favorite)
        );
    }
    let c = generate_mesh(250, 1, 1);
    let mine: HashSet<u32> = nums(&a).into_iter().collect();
    assert!(
        c.nodes.iter().all(|n| !mine.contains(&n.num)),
        "two radios share a node number"
    );
    assert_ne!(long_names(&a), long_names(&c));
    assert_ne!(
        nums(&generate_mesh(250, 2, 0)),
        nums(&a),
        "another seed, another mesh"
    );
}

#[test]
fn a_mesh_has_the_size_asked_for_with_distinct_numbers_and_my_node_first() {
    for size in [1, 2, 120, 250, 2000] {
        let m = generate_mesh(size, 7, 3);
        assert_eq!(m.nodes.len(), size);
        assert_eq!(m.nodes[0].num, m.my_node_num);
        let distinct: HashSet<u32> = nums(&m).into_iter().collect();
        assert_eq!(distinct.len(), size);
        assert!(!distinct.contains(&0) && !distinct.contains(&proto::BROADCAST));
        for n in &m.nodes {
            let u = n.user.as_ref().unwrap();
            assert_eq!(u.id, proto::node_id(n.num));
            assert!(!u.long_name.is_empty());
            assert_eq!(u.short_name.chars().count(), 4, "{:?}", u.short_name);
            // Every node info must fit one frame.
            let frame = pb::FromRadio {
                id: u32::MAX,
                payload_variant: Some(Out::NodeInfo(n.clone())),
            };
            assert!(frame.encoded_len() <= proto::MAX_FRAME);
        }
    }
}

#[test]
fn the_mesh_mixes_hops_mqtt_positions_batteries_and_last_heard() {
    let m = generate_mesh(250, 1, 0);
    let others = &m.nodes[1..];
    let hops: HashSet<Option<u32>> = others.iter().map(|n| n.hops_away).collect();
    for h in [Some(0), Some(1), Some(2), Some(3), Some(4), None] {
        assert!(hops.contains(&h), "no node with hops {h:?}");
    }
    let mqtt = others.iter().filter(|n| n.via_mqtt).count();
    assert!((25..=75).contains(&mqtt), "{mqtt} of 249 via MQTT");
    assert!(others.iter().any(|n| n.position.is_none()));
    assert!(others.iter().any(|n| n.position.is_some()));
    assert!(others.iter().any(|n| n.is_favorite));
    assert!(
        others.iter().any(|n| n.last_heard == 0),
        "some nodes never heard"
    );
    let now = crate::time::unix_secs(std::time::SystemTime::now());
    assert!(others
        .iter()
        .filter(|n| n.last_heard > 0)
        .all(|n| now - n.last_heard <= 7200 + 5));
    let batteries: Vec<u32> = others
        .iter()
        .filter_map(|n| n.device_metrics.and_then(|d| d.battery_level))
        .collect();
    assert!(batteries.contains(&101), "some nodes are plugged in");
    assert!(batteries.iter().all(|b| *b <= 101));
}

#[test]
fn mesh_json_lists_every_node_with_its_names() {
    let j = mesh_json(30, 4, 0);
    let m = generate_mesh(30, 4, 0);
    assert_eq!(j["myNodeNum"], m.my_node_num);
    let list = j["nodes"].as_array().unwrap();
    assert_eq!(list.len(), 30);
    let u = m.nodes[3].user.clone().unwrap();
    assert_eq!(list[3]["id"], proto::node_id(m.nodes[3].num));
    assert_eq!(list[3]["num"], m.nodes[3].num);
    assert_eq!(list[3]["longName"], u.long_name);
    assert_eq!(list[3]["shortName"], u.short_name);
}

#[test]
fn every_fifth_node_number_never_answers_a_traceroute() {
    assert!(!answers_traceroute(10));
    assert!(answers_traceroute(11));
    let m = generate_mesh(250, 1, 0);
    assert!(m.nodes.iter().any(|n| !answers_traceroute(n.num)));
    assert!(m.nodes.iter().any(|n| answers_traceroute(n.num)));
}
