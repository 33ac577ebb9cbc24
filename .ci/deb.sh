#!/usr/bin/env bash
# The Debian package: build it with cargo deb, install it with dpkg, check what it put where,
# verify the unit, then start the binary the way the unit does (its environment file, a
# temporary state directory, an unprivileged user) and ask it for /healthz.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null 2>&1 || cargo install -q cargo-deb --locked
cargo deb -q
deb=$(ls -t target/debian/meshdeck_*.deb | head -1)
dpkg -i "$deb" >/dev/null
trap 'dpkg --purge meshdeck >/dev/null 2>&1 || true' EXIT

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
test "$(meshdeck --version)" = "meshdeck $version"
test "$(command -v meshdeck)" = /usr/bin/meshdeck
for f in /usr/lib/systemd/system/meshdeck.service /etc/default/meshdeck \
         /usr/share/doc/meshdeck/copyright /usr/share/doc/meshdeck/README.md; do
  dpkg -L meshdeck | grep -qx "$f" || { echo "the package does not list $f"; exit 1; }
  test -s "$f" || { echo "$f is missing or empty"; exit 1; }
done
grep -q "GNU GENERAL PUBLIC LICENSE" /usr/share/doc/meshdeck/copyright
dpkg-query -W -f='${Conffiles}\n' meshdeck | grep -q /etc/default/meshdeck

unit=/usr/lib/systemd/system/meshdeck.service
systemd-analyze verify "$unit"
systemd-analyze security --offline=true "$unit" | tail -1

# Start it as the unit would: its Environment= lines, then its EnvironmentFile, as an
# unprivileged user, with /proc as ProcSubset=pid leaves it, the state directory moved to a
# temporary one and a free port on every address (as the defaults file has it).
state=$(mktemp -d)
chown nobody "$state"
chmod 700 "$state"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
envs=()
while IFS= read -r line; do envs+=("$line"); done < <(
  sed -n 's/^Environment=//p' "$unit"
  grep -E '^[A-Z_]+=' /etc/default/meshdeck)
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
grep -qx 'ProcSubset=pid' "$unit"
unshare -mpf --propagation private bash -c '
  mount -t proc -o subset=pid proc /proc
  exec "$@"' _ env -i "${envs[@]}" MESHDECK_DATA_DIR="$state" SECRET_KEY_FILE="$state/secret_key" \
  MESHDECK_BIND="0.0.0.0:$port" \
  setpriv --reuid=nobody --regid=nogroup --clear-groups $exec_start >"$state.log" 2>&1 &
pid=$!
# Every request goes to 127.0.0.1; the Host header names the machine as a LAN browser would.
lan_ip=$(ip -4 -o addr show scope global | awk '{sub("/.*", "", $4); print $4; exit}')
python3 - "$port" "$lan_ip" "$(cat /proc/sys/kernel/hostname)" <<'PY'
import http.client, sys, time
port, lan_ip, name = sys.argv[1], sys.argv[2], sys.argv[3]
def get(host):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=2)
    c.request("GET", "/healthz", headers={"Host": host})
    r = c.getresponse(); body = r.read().decode(); c.close()
    return r.status, body
for _ in range(100):
    try:
        status, body = get(f"127.0.0.1:{port}")
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the packaged binary never answered /healthz")
assert (status, body) == (200, "ok"), (status, body)
for host in ([f"{lan_ip}:{port}"] if lan_ip else []) + [f"{name}:{port}", f"{name}.local:{port}"]:
    assert get(host)[0] == 200, f"{host} refused"
assert get(f"attacker.example:{port}")[0] == 421
print("healthz: ok; answers", lan_ip or "(no LAN address)", name, "and refuses other names")
PY
test "$(stat -c %a "$state/secret_key")" = 600
test -s "$state/meshdeck.db"
# unshare forks the server (pid 1 of its namespace) and waits for it: stop the server itself.
kill -TERM "$(pgrep -P "$pid")"
wait "$pid"
grep -q "listening on" "$state.log"
rm -rf "$state" "$state.log"
echo "package: ok ($deb)"
