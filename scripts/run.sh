#!/usr/bin/env bash
# Builds oispd (release) and runs it on its embedded default config:
# capture to ./oisp-events.jsonl, admin server on 127.0.0.1:7777.
# Extra arguments go to oispd (e.g. --config my.yaml). Run as root for eBPF.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/scripts/setup.sh"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/oispd-target}
cargo build --locked --release --bin oispd --manifest-path "$here/Cargo.toml"
exec "$CARGO_TARGET_DIR/release/oispd" "$@"
