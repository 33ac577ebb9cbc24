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


# Export the original's two revisions (issue 19) from a clone or bare mirror of
# lordachoo/meshtastic-control, outside this repository (its code never enters it).
sidebyside-export GIT_DIR OUT="/tmp":
    rm -rf {{OUT}}/orig-old {{OUT}}/orig-new && mkdir -p {{OUT}}/orig-old {{OUT}}/orig-new
    git --git-dir={{GIT_DIR}} archive ac66c76 | tar -x -C {{OUT}}/orig-old
    git --git-dir={{GIT_DIR}} archive 129568b | tar -x -C {{OUT}}/orig-new

# meshdeck side by side with the original (issue 19), one exported revision per directory:
# `just sidebyside /tmp/orig-old /tmp/orig-new` (python3 with meshtastic, flask, pypubsub, watchdog).
sidebyside +ORIGINAL_DIRS:
    cargo build --release --bins --example sidebyside
    ./target/release/examples/sidebyside --meshdeck target/release/meshdeck --wait-quiet-secs 120 $(for d in {{ORIGINAL_DIRS}}; do printf -- '--original %s ' "$d"; done)

# 1,000 kept radios (20 nodes, 2 packets/s each) recording history for 5 minutes (issue 19).
radios1000:
    cargo build --release --bins --example radios1000
    ./target/release/examples/radios1000 --wait-quiet-secs 120 --duration-secs 300
