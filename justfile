# The front door: the same commands a person and CI use.

# Server plus simulated radios to connect to, on http://127.0.0.1:5000
demo:
    cargo run --release -- --demo

# The whole Rust suite (unit and integration tests against the simulated radio).
test:
    cargo test

lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Browser end-to-end tests: Debian's Chromium driven by playwright-core.
e2e:
    cargo build
    cd e2e && npm ci --no-audit --no-fund && npm test

# The official Python client (pip install meshtastic) against `meshdeck sim`.
official-client:
    bash .ci/official-client.sh

# The Debian package (target/debian/meshdeck_*.deb): binary, systemd unit, defaults, licence.
deb:
    command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
    cargo deb

# Build, install and check the package as CI does (as root: it runs dpkg -i).
deb-check:
    bash .ci/deb.sh

# The load table of BENCHMARKS.md (one size; see the file for the others).
bench sessions="100":
    cargo build --release --examples
    cargo build --release
    ./target/release/examples/load --sessions {{sessions}} --duration-secs 30

# Ten minutes of churn: expiry, the cap, drops, reboots; checks leaks and lost messages.
soak:
    cargo build --release --examples
    cargo build --release
    ./target/release/examples/soak --duration-secs 600
