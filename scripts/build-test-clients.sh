#!/usr/bin/env bash
# Builds the rustls test clients the capture tests run (tests/fixtures/
# rustls-client: reqwest + rustls 0.23, one binary per crypto provider):
#   $OISPD_TEST_CLIENTS/rustls-client-aws-lc   (aws-lc-rs: Codex CLI's provider)
#   $OISPD_TEST_CLIENTS/rustls-client-ring     (ring)
# Release builds that keep their symbol table, so tests can strip a copy and
# check the structural finders against the symbols. The Cargo build is cached
# in $OISPD_TEST_CLIENTS_TARGET; a rerun with nothing changed takes seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${OISPD_TEST_CLIENTS:-/var/tmp/oispd-test-clients}
export CARGO_TARGET_DIR=${OISPD_TEST_CLIENTS_TARGET:-/var/tmp/oispd-test-clients-target}
mkdir -p "$out"
for provider in aws-lc ring; do
  cargo build --quiet --release --locked \
    --manifest-path "$here/tests/fixtures/rustls-client/Cargo.toml" \
    --features "$provider"
  install -m 0755 "$CARGO_TARGET_DIR/release/rustls-client" "$out/rustls-client-$provider"
done
