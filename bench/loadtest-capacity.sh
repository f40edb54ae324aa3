#!/usr/bin/env bash
# What one loadtest worker drives, measured against the trivial echo target
# (`tandem loadtest --echo-server PORT`, see core/loadtest/echo_server.hpp). The echo target runs
# on CPU 1 and the worker on CPU 0 (taskset), so each has a core; the worker's CPU comes from
# /proc/PID/stat. A level is sustained while the worker's own send lag p99 stays small.
#
#   bench/loadtest-capacity.sh [-b BINARY] [-o OUT_DIR] [-d DURATION]
#
# Levels: the extension profile at 9,000 clients (the heaviest standard scenario of one worker),
# then a synthetic profile (POSITION_UPDATE and host HOST_HEARTBEAT every 100 ms, rooms of 4,
# no /status) at rising client counts until the worker saturates.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

binary="$here/../build/release/cli/tandem"
out="$here/results"
duration=30
while getopts "b:o:d:" opt; do
  case $opt in
    b) binary=$OPTARG ;;
    o) out=$OPTARG ;;
    d) duration=${OPTARG%s} ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done
[ -x "$binary" ] || { echo "no tandem binary at $binary (build it or pass -b)" >&2; exit 2; }
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"

port=$(free_port)
taskset -c 1 "$binary" loadtest --echo-server "$port" 2>"$out/echo.log" &
echo_pid=$!
trap 'kill -TERM $echo_pid 2>/dev/null; wait $echo_pid 2>/dev/null || true' EXIT
wait_for_port "$port"

stamp=$(date -u +%Y-%m-%dT%H%MZ)
summary="$out/loadtest-capacity-$stamp.md"
{
  echo "# one loadtest worker against the echo target, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "machine: $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); worker on CPU 0, echo target on CPU 1"
  echo
  echo '| level | clients | frames sent/s | frames received/s | worker CPU | echo CPU | send lag p99 / max ms | broadcast p99 ms | lost | load avg before → after |'
  echo '|---|---|---|---|---|---|---|---|---|---|'
} | tee "$summary"

level() {
  local name=$1 clients=$2
  shift 2
  local report="$out/capacity-$name.json"
  SAMPLE_PID=$echo_pid SAMPLE_PORT=$port \
    run_sampled taskset -c 0 "$binary" loadtest --url "ws://127.0.0.1:$port/ws" --clients "$clients" \
    --room-size 4 --ramp 2000 --duration "${duration}s" --warmup 8s --quiet --out "$report" "$@" \
    >"$out/capacity-$name.txt" 2>&1 || true
  python3 - "$report" "$name" "$clients" "$LT_CPU" "$SRV_CPU" "$RUN_SECONDS" "$LOAD_BEFORE" "$LOAD_AFTER" <<'EOF'
import json, sys
f, name, clients, lt_cpu, echo_cpu, seconds, before, after = sys.argv[1:9]
r = json.load(open(f)); seconds = float(seconds); run = r["elapsed_s"]
lag = r["latency_ms"]["send_lag"]; b = r["latency_ms"]["broadcast"]
print(f'| {name} | {int(clients):,} | {r["counters"]["frames_sent"] / run:,.0f} | {r["counters"]["frames_received"] / run:,.0f} | '
      f'{float(lt_cpu) / seconds * 100:.0f} % | {float(echo_cpu) / seconds * 100:.0f} % | {lag["p99"]:.2f} / {lag["max"]:.1f} | '
      f'{b["p99"]:.2f} | {r["delivery"]["lost"]} | {before} → {after} |')
EOF
}

level ext-9000 9000 --profile extension --address-per-room | tee -a "$summary"
for clients in 2000 4000 6000 8000; do
  level "synthetic-$clients" "$clients" --profile extension --position-interval 100ms --heartbeat-interval 100ms \
    --status-interval off --play-pause-interval off --seek-interval off --no-webrtc | tee -a "$summary"
done
echo
echo "summary: $summary"
