#!/usr/bin/env python3
"""The official Meshtastic Python client against `meshdeck sim`.

Checks the simulated radio's fidelity with the client real users run: it connects over TCP,
reads the node DB (count and names as `meshdeck sim --dump-mesh` says), my info and config,
sends a text and gets its ack, and sends a traceroute and gets the route back.
Plain asserts; prints "N passed, N failed" and exits non-zero on any failure.
"""
import argparse
import contextlib
import io
import json
import sys
import threading
import time

from meshtastic.protobuf import portnums_pb2
from meshtastic.tcp_interface import TCPInterface  # fails loudly when the client is missing

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--nodes", type=int, required=True)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--expect", required=True, help="JSON written by `meshdeck sim --dump-mesh`")
args = parser.parse_args()

with open(args.expect, encoding="utf-8") as f:
    expect = json.load(f)

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


iface = TCPInterface(hostname=args.host, portNumber=args.port)
try:
    def my_info():
        assert iface.myInfo.my_node_num == expect["myNodeNum"], (iface.myInfo.my_node_num, expect["myNodeNum"])

    def node_db():
        nodes = iface.nodes or {}
        assert len(nodes) == args.nodes, f"{len(nodes)} nodes, expected {args.nodes}"
        want = {n["id"]: (n["longName"], n["shortName"]) for n in expect["nodes"]}
        got = {k: (v["user"]["longName"], v["user"]["shortName"]) for k, v in nodes.items()}
        assert got == want, "node names differ from the seed's mesh"

    def config():
        cfg = iface.localNode.localConfig
        assert cfg.lora.hop_limit == 3, cfg.lora.hop_limit
        assert cfg.HasField("device") and cfg.HasField("bluetooth")
        mod = iface.localNode.moduleConfig
        assert mod.mqtt.root == "msh/EU_868", mod.mqtt.root
        names = [c.settings.name for c in iface.localNode.channels if c.role != 0]
        assert "Ops" in names, names

    def text_acked():
        done = threading.Event()
        result = {}

        def on_response(packet):
            result["routing"] = packet.get("decoded", {}).get("routing", {})
            done.set()

        dest = expect["nodes"][1]["num"]
        # sendData, as sendText does, with acks passed to the callback (sendText hides them).
        iface.sendData(
            "hello from the official client".encode(),
            destinationId=dest,
            portNum=portnums_pb2.PortNum.TEXT_MESSAGE_APP,
            wantAck=True,
            onResponse=on_response,
            onResponseAckPermitted=True,
        )
        assert done.wait(10), "no ack within 10 s"
        assert result["routing"].get("errorReason", "NONE") == "NONE", result

    def traceroute_answered():
        dest = next(n["num"] for n in expect["nodes"][1:] if n["num"] % 5 != 0)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            iface.sendTraceRoute(dest, hopLimit=3)
        text = out.getvalue()
        assert "Route traced towards destination" in text, text
        assert "Route traced back to us" in text, text

    check("my info matches the seed", my_info)
    check("node DB count and names match --nodes/--seed", node_db)
    check("config, module config and channels are read", config)
    check("a text is acknowledged", text_acked)
    time.sleep(1.2)  # the simulated firmware's traceroute interval in this check is 1 s
    check("a traceroute is answered", traceroute_answered)
finally:
    iface.close()

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
