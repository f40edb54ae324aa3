#!/usr/bin/env bash
# Flame graphs of one embedded node under single-node scenarios: runs bench/single-node.sh with
# perf recording the node's stacks (DWARF unwinding, 99 Hz, both event loops and every other
# thread) and renders each scenario's samples as an SVG flame graph.
#
#   bench/profile.sh [-b BINARY] [-o OUT_DIR] [-s SECONDS] SCENARIO…
#
# SECONDS (default 20) of stacks are recorded from 5 s into the measured window. Needs `perf`
# (Debian: linux-perf) and, for drawing, the `flamegraph` renderer from npm, installed into
# bench/node_modules from bench/package-lock.json on first use.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
binary="$here/../build/release/cli/tandem"
out="$here/results"
seconds=20
while getopts "b:o:s:" opt; do
  case $opt in
    b) binary=$OPTARG ;;
    o) out=$OPTARG ;;
    s) seconds=$OPTARG ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { sed -n '2,10p' "$0"; exit 2; }
command -v perf >/dev/null || { echo "perf is missing (Debian: apt-get install linux-perf)" >&2; exit 2; }
[ -x "$here/node_modules/.bin/flamegraph" ] || npm ci --prefix "$here" --no-audit --no-fund
PROFILE_SECONDS=$seconds exec "$here/single-node.sh" -b "$binary" -o "$out" -d $((seconds + 10)) "$@"
