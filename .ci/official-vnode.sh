#!/usr/bin/env bash
# The official Python client (meshtastic.tcp_interface.TCPInterface) against a kept radio's
# virtual node: `meshdeck` keeps a `meshdeck sim` radio and serves it on a virtual port.
# Fails, never skips, when the client is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q
bin=target/debug/meshdeck
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sim_port=$(free)
web_port=$(free)
vport=$(free)
expect=$(mktemp)
data=$(mktemp -d)
"$bin" sim --dump-mesh --nodes 120 --seed 7 > "$expect"
"$bin" sim --listen "127.0.0.1:$sim_port" --nodes 120 --seed 7 --rate 2 &
sim=$!
MESHDECK_DATA_DIR="$data" MESHDECK_BIND="127.0.0.1:$web_port" "$bin" &
app=$!
trap 'kill $sim $app 2>/dev/null || true; rm -rf "$expect" "$data"' EXIT
python3 tests/official_vnode.py --meshdeck "http://127.0.0.1:$web_port" --sim-port "$sim_port" \
  --vport "$vport" --nodes 120 --expect "$expect"
