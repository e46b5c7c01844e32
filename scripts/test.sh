#!/usr/bin/env bash
# Runs every oispd test on this machine: set-up, the Rust build, the unit and
# integration tests (`cargo test`), then the end-to-end tests that drive the
# real binary against real peers (pytest). Needs root for the eBPF tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# Keep the build cache outside the clone so repeated runs stay fast.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/oispd-target}
export OISP_SPEC_DIR=${OISP_SPEC_DIR:-$(pwd)/spec/oisp-spec}

cargo build --locked --bin oispd
cargo test --locked --workspace

export OISPD_BIN="$CARGO_TARGET_DIR/debug/oispd"
python3 -m pytest -q tests/e2e
