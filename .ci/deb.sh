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
# unprivileged user, with the state directory moved to a temporary one and the listen
# address to a free loopback port (the defaults file says every address).
state=$(mktemp -d)
chown nobody "$state"
chmod 700 "$state"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
envs=()
while IFS= read -r line; do envs+=("$line"); done < <(
  sed -n 's/^Environment=//p' "$unit"
  grep -E '^[A-Z_]+=' /etc/default/meshdeck)
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
env -i "${envs[@]}" MESHDECK_DATA_DIR="$state" SECRET_KEY_FILE="$state/secret_key" \
  MESHDECK_BIND="127.0.0.1:$port" \
  setpriv --reuid=nobody --regid=nogroup --clear-groups $exec_start >"$state.log" 2>&1 &
pid=$!
python3 - "$port" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/healthz"
for _ in range(100):
    try:
        body = urllib.request.urlopen(url, timeout=2).read().decode()
        assert body == "ok", body
        print("healthz:", body)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the packaged binary never answered /healthz")
PY
test "$(stat -c %a "$state/secret_key")" = 600
test -s "$state/meshdeck.db"
kill -TERM "$pid"
wait "$pid"
grep -q "listening on" "$state.log"
rm -rf "$state" "$state.log"
echo "package: ok ($deb)"
