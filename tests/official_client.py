#!/usr/bin/env python3
"""The official Meshtastic Python client against `meshdeck sim`.

Checks the simulated radio's fidelity with the client real users run: it connects over TCP,
reads my info, metadata, the node DB (count, names, hops and MQTT flags as
`meshdeck sim --dump-mesh` says), config, module config and channels, sends a direct text and
gets the destination's ack, and sends a traceroute and gets the route back.

    meshdeck sim --dump-mesh --nodes 120 --seed 7 > mesh.json
    meshdeck sim --listen 127.0.0.1:4403 --nodes 120 --seed 7 &
    python3 tests/official_client.py --host 127.0.0.1 --port 4403 --nodes 120 --seed 7 \
        --expect mesh.json

Plain asserts; prints one line per check and "N passed, M failed"; exits non-zero on any
failure, and when the client (pip package `meshtastic`) is missing. Gives up after 55 s.
"""
import argparse
import contextlib
import io
import json
import re
import signal
import socket
import sys
import threading
import time

from meshtastic.protobuf import portnums_pb2  # fails loudly when the client is missing
from meshtastic.tcp_interface import TCPInterface
from pubsub import pub

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--nodes", type=int, required=True)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--expect", required=True, help="JSON written by `meshdeck sim --dump-mesh`")
args = parser.parse_args()


def give_up(*_):
    print("FAIL gave up after 55 s")
    print("0 passed, 1 failed")
    sys.stdout.flush()
    # The client's threads may hang on a dead socket: leave at once.
    import os
    os._exit(1)


signal.signal(signal.SIGALRM, give_up)
signal.alarm(55)

with open(args.expect, encoding="utf-8") as f:
    expect = json.load(f)
assert len(expect["nodes"]) == args.nodes, "the --expect file is for another --nodes"
by_num = {n["num"]: n for n in expect["nodes"]}

# The radio may still be starting: wait for its port (a probe connection is harmless, the
# radio serves the newest client).
for _ in range(100):
    try:
        socket.create_connection((args.host, args.port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)

passed, failed = 0, 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
        failed += 1
        print(f"FAIL {name}: {e!r}")


def answering(lo, hi):
    """A node (not mine) that answers traceroutes (number not divisible by 5), lo to hi hops away."""
    return next(
        n for n in expect["nodes"][1:]
        if n["num"] % 5 != 0 and n["hopsAway"] is not None and lo <= n["hopsAway"] <= hi
    )


started = time.time()
iface = TCPInterface(hostname=args.host, portNumber=args.port)
print(f"connected and configured in {time.time() - started:.1f} s")
try:
    def my_info():
        got = iface.myInfo.my_node_num
        assert got == expect["myNodeNum"], (got, expect["myNodeNum"])
        assert iface.metadata.firmware_version.endswith(".sim"), iface.metadata

    def node_db():
        nodes = iface.nodes or {}
        assert len(nodes) == args.nodes, f"{len(nodes)} nodes, expected {args.nodes}"
        want = {n["id"]: (n["longName"], n["shortName"]) for n in expect["nodes"]}
        got = {k: (v["user"]["longName"], v["user"]["shortName"]) for k, v in nodes.items()}
        assert got == want, "node names differ from the seed's mesh"
        for num, n in iface.nodesByNum.items():
            if num == expect["myNodeNum"]:
                continue
            e = by_num[num]
            assert n.get("hopsAway") == e["hopsAway"], (num, n.get("hopsAway"), e["hopsAway"])
            assert n.get("viaMqtt", False) == e["viaMqtt"], (num, n.get("viaMqtt"))

    def config():
        cfg = iface.localNode.localConfig
        assert cfg.lora.hop_limit == 3, cfg.lora.hop_limit
        for section in ("device", "position", "power", "network", "display", "lora", "bluetooth", "security"):
            assert cfg.HasField(section), section
        mod = iface.localNode.moduleConfig
        assert mod.mqtt.enabled and mod.mqtt.root == "msh/EU_868", mod.mqtt
        assert mod.HasField("paxcounter") and mod.HasField("store_forward")
        channels = iface.localNode.channels
        assert len(channels) == 8, len(channels)
        names = [c.settings.name for c in channels if c.role != 0]
        assert names == ["", "Ops"], names

    def text_acked():
        # Firmware answers a direct text twice: the radio's own implicit ack (from its node
        # number: a relay heard it), then the destination's. Every routing reply is published.
        replies = []
        got_both = threading.Event()
        dest = answering(1, 3)["num"]
        sent = {}

        def on_routing(packet, interface):
            decoded = packet.get("decoded", {})
            if sent and decoded.get("requestId") == sent.get("id"):
                replies.append((packet.get("from"), decoded.get("routing", {}).get("errorReason", "NONE")))
                if any(f == dest for f, _ in replies):
                    got_both.set()

        pub.subscribe(on_routing, "meshtastic.receive.routing")
        try:
            p = iface.sendData(
                "hello from the official client".encode(),
                destinationId=dest,
                portNum=portnums_pb2.PortNum.TEXT_MESSAGE_APP,
                wantAck=True,
            )
            sent["id"] = p.id
            assert got_both.wait(10), f"no ack from the destination within 10 s: {replies}"
        finally:
            pub.unsubscribe(on_routing, "meshtastic.receive.routing")
        me = expect["myNodeNum"]
        assert replies[0] == (me, "NONE"), f"first the radio's implicit ack: {replies}"
        assert (dest, "NONE") in replies, f"then the destination's ack: {replies}"

    def traceroute_answered():
        node = answering(2, 3)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            iface.sendTraceRoute(node["num"], hopLimit=3)  # blocks until the reply
        text = out.getvalue()
        assert "Route traced towards destination" in text, text
        assert "Route traced back to us" in text, text
        towards = text.split("Route traced towards destination:")[1].strip().splitlines()[0]
        hops = len(re.findall("-->", towards))
        assert hops == node["hopsAway"], f"{hops} hops for a node {node['hopsAway']} away: {towards}"
        assert towards.rstrip().split(" --> ")[-1].startswith(node["id"]), towards

    check("my info and metadata", my_info)
    check("node DB count, names, hops and MQTT flags match --nodes/--seed", node_db)
    check("config, module config and channels are read", config)
    check("a direct text gets the radio's implicit ack, then its destination's", text_acked)
    check("a traceroute is answered with a route as long as the node is far", traceroute_answered)
finally:
    iface.close()

print(f"took {time.time() - started:.1f} s")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
