#!/usr/bin/env python3
"""The official Meshtastic Python client against a kept radio's virtual node.

meshdeck keeps a `meshdeck sim` radio (created here through the JSON API with a
`virtual_port`); the official client (meshtastic.tcp_interface.TCPInterface) connects to that
port, not to the radio. Two clients at once read my node info and the node DB (as
`meshdeck sim --dump-mesh` says), one sends a text that the radio acknowledges and that shows
in meshdeck's history, a text from the mesh reaches the client, and an admin message is
refused with NOT_AUTHORIZED.

    python3 tests/official_vnode.py --meshdeck http://127.0.0.1:8080 --sim-port 4403 \
        --vport 4404 --nodes 120 --expect mesh.json

Plain asserts; prints one line per check and "N passed, M failed"; exits non-zero on any
failure, and when the client (pip package `meshtastic`) is missing. Gives up after 90 s.
"""
import argparse
import http.cookiejar
import json
import signal
import socket
import sys
import threading
import time
import urllib.request

from meshtastic.protobuf import admin_pb2, portnums_pb2  # fails loudly when the client is missing
from meshtastic.tcp_interface import TCPInterface
from pubsub import pub

parser = argparse.ArgumentParser()
parser.add_argument("--meshdeck", required=True, help="meshdeck's base URL (loopback)")
parser.add_argument("--sim-port", type=int, required=True)
parser.add_argument("--vport", type=int, required=True)
parser.add_argument("--nodes", type=int, required=True)
parser.add_argument("--expect", required=True, help="JSON written by `meshdeck sim --dump-mesh`")
args = parser.parse_args()


def give_up(*_):
    print("FAIL gave up after 90 s")
    print("0 passed, 1 failed")
    sys.stdout.flush()
    import os
    os._exit(1)


signal.signal(signal.SIGALRM, give_up)
signal.alarm(90)

with open(args.expect, encoding="utf-8") as f:
    expect = json.load(f)

jar = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def api(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(args.meshdeck + path, data=data, headers={"Content-Type": "application/json"})
    with jar.open(req, timeout=10) as r:
        return json.load(r)


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


wait_port(int(args.meshdeck.rsplit(":", 1)[1]))
created = api("/api/sessions/create", {
    "name": "official", "host": "127.0.0.1", "port": args.sim_port,
    "auto_connect": True, "virtual_port": args.vport,
})
assert created.get("success"), created
wait_port(args.vport)

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


mesh_texts = []
routing = []


# pubsub holds its listeners weakly: named functions, kept alive by the module.
def on_text(packet, interface):
    mesh_texts.append(packet)


def on_routing(packet, interface):
    routing.append(packet)


pub.subscribe(on_text, "meshtastic.receive.text")
pub.subscribe(on_routing, "meshtastic.receive.routing")

started = time.time()
a = TCPInterface(hostname="127.0.0.1", portNumber=args.vport)
b = TCPInterface(hostname="127.0.0.1", portNumber=args.vport)
print(f"two clients connected and configured in {time.time() - started:.1f} s")
try:
    def my_info():
        for iface in (a, b):
            got = iface.myInfo.my_node_num
            assert got == expect["myNodeNum"], (got, expect["myNodeNum"])
            assert iface.metadata.firmware_version.endswith(".sim"), iface.metadata
            assert iface.getMyNodeInfo()["num"] == expect["myNodeNum"]

    def node_db():
        want = {n["id"]: (n["longName"], n["shortName"]) for n in expect["nodes"]}
        for iface in (a, b):
            nodes = iface.nodes or {}
            assert len(nodes) == args.nodes, f"{len(nodes)} nodes, expected {args.nodes}"
            got = {k: (v["user"]["longName"], v["user"]["shortName"]) for k, v in nodes.items()}
            assert got == want, "node names differ from the radio's"

    def config():
        assert len(a.localNode.channels) == 8, len(a.localNode.channels)
        assert a.localNode.localConfig.HasField("lora")

    def text_reaches_the_radio():
        words = f"hello through meshdeck {time.time():.0f}"
        p = a.sendText(words, wantAck=True)
        deadline = time.time() + 15
        # The radio's own ack (a relay heard it): meshdeck never makes one up.
        while time.time() < deadline:
            if any(r.get("decoded", {}).get("requestId") == p.id for r in routing):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"no routing reply for {p.id}: {routing[-3:]}")
        api("/api/connect", {"host": "127.0.0.1", "port": args.sim_port})
        while time.time() < deadline:
            msgs = api("/api/messages")
            mine = [m for m in msgs if m.get("text") == words]
            if mine:
                assert len(mine) == 1, mine
                assert mine[0]["id"] == p.id, (mine[0], p.id)
                return
            time.sleep(0.2)
        raise AssertionError("the text is not in meshdeck's history")

    def mesh_text_received():
        deadline = time.time() + 20
        while time.time() < deadline:
            if any(t.get("from") != expect["myNodeNum"] for t in mesh_texts):
                return
            time.sleep(0.2)
        raise AssertionError("no text from the mesh within 20 s")

    def admin_refused():
        msg = admin_pb2.AdminMessage()
        msg.get_owner_request = True
        p = b.sendData(msg.SerializeToString(), destinationId=expect["myNodeNum"],
                       portNum=portnums_pb2.PortNum.ADMIN_APP, wantAck=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            for r in routing:
                d = r.get("decoded", {})
                if d.get("requestId") == p.id:
                    reason = d.get("routing", {}).get("errorReason")
                    assert reason == "NOT_AUTHORIZED", reason
                    return
            time.sleep(0.1)
        raise AssertionError("no routing error for the admin message")

    check("both clients read my node info and metadata", my_info)
    check("both clients read the radio's node DB", node_db)
    check("channels and config are read", config)
    check("a text reaches the radio (its ack) and shows once in meshdeck's history", text_reaches_the_radio)
    check("a text from the mesh reaches the client", mesh_text_received)
    check("an admin message is refused with NOT_AUTHORIZED", admin_refused)
finally:
    a.close()
    b.close()

print(f"took {time.time() - started:.1f} s")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
