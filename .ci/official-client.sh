#!/usr/bin/env bash
# The official Python client (meshtastic.tcp_interface.TCPInterface) against `meshdeck sim`.
# Fails, never skips, when the client is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q
bin=target/debug/meshdeck
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
expect=$(mktemp)
"$bin" sim --dump-mesh --nodes 120 --seed 7 > "$expect"
"$bin" sim --listen "127.0.0.1:$port" --nodes 120 --seed 7 --rate 1 --traceroute-interval-secs 1 --echo-transmissions &
sim=$!
trap 'kill $sim 2>/dev/null || true; rm -f "$expect"' EXIT
for _ in $(seq 1 100); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
python3 tests/official_client.py --host 127.0.0.1 --port "$port" --nodes 120 --seed 7 --expect "$expect"
