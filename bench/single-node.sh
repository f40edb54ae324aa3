#!/usr/bin/env bash
# Single-node benchmark: starts a fresh embedded `tandem serve` for each scenario, drives it with
# `tandem loadtest` on the same machine, and records latency, delivery, server CPU (from
# /proc/PID/stat) and server RSS per WebSocket. Results: a markdown table on stdout and in
# $OUT/single-node-<date>.md, one JSON report per scenario in $OUT.
#
#   bench/single-node.sh [-b BINARY] [-o OUT_DIR] [-d DURATION] [-p] [SCENARIO …]
#
# Scenarios (default: all of them, in this order):
#   ext-1000 ext-5000 ext-9000   extension profile, rooms of 4, one source address per room
#   hb-1000 hb-5000 hb-19000     heartbeat profile (PING 15 s, host HOST_HEARTBEAT 1 s), rooms of 4
# Clients connect at 1,000/s (500/s below 5,000 clients); latencies are recorded from 10 s after
# the ramp ends, for DURATION (default 60s).
#
# -p: pin the node to CPU 0 and the loadtest to the other CPUs (taskset). On a 2-core machine the
# node and the generator otherwise share both cores, and their threads' contention adds tens of
# milliseconds to the tail that belong to neither (docs/performance.md, 2026-12-04). Pinned, the
# node has one core at most, and (`server.threads = 0`: one loop per CPU it may use) one event
# loop. Pinned figures before 2026-12-05 ran two loops on that core (docs/performance.md).
#
# WORKERS=N: this many loadtest workers (default: as few as hold the sockets, 19,500 per worker:
# 1 up to heartbeat 19,000, as two workers sharing one core wait for each other's time slices).
# NODE_ARGS: more `tandem serve` options, e.g. NODE_ARGS="--set server.threads=1".
# LOADTEST_ARGS: more `tandem loadtest` options, e.g. LOADTEST_ARGS="--status-interval 0" (the
# extension profile without its /status polling). RSS per socket divides by the sockets the node
# reports (tandem_connections + tandem_http_connections) when RSS is read, 2 s before the recorded
# window (every client joined; the request and its answer stay out of the latencies).
#
# PROFILE_SECONDS=N (bench/profile.sh sets it): also record N seconds of the node's stacks with
# perf, from 5 s into the recorded window, and draw them as $OUT_DIR/<scenario>.flame.svg. The
# profiler costs the node CPU: the figures of a profiled run are not comparable to others.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

binary="$here/../build/release/cli/tandem"
out="$here/results"
duration=60
pin=""
while getopts "b:o:d:p" opt; do
  case $opt in
    b) binary=$OPTARG ;;
    o) out=$OPTARG ;;
    d) duration=${OPTARG%s} ;;
    p) pin=1 ;;
    *) sed -n '2,25p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(ext-1000 ext-5000 ext-9000 hb-1000 hb-5000 hb-19000)
[ -x "$binary" ] || { echo "no tandem binary at $binary (build it or pass -b)" >&2; exit 2; }
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"
node_cpus=()
loadtest_cpus=()
if [ -n "$pin" ]; then
  [ "$(nproc)" -ge 2 ] || { echo "-p needs at least 2 CPUs" >&2; exit 2; }
  node_cpus=(taskset -c 0)
  loadtest_cpus=(taskset -c "1-$(($(nproc) - 1))")
fi

stamp=$(date -u +%Y-%m-%dT%H%MZ)
summary="$out/single-node-$stamp.md"
{
  echo "# single node, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "machine: $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
  host_cost_line
  echo "binary: $binary ($("$binary" --version))"
  echo "recorded: ${duration}s per scenario, from 10 s after the ramp; file limit $(ulimit -n)"
  echo "scheduling: $(cat /proc/self/autogroup) (see docs/performance.md)$([ -n "$pin" ] && echo "; node pinned to CPU 0, loadtest to CPUs 1-$(($(nproc) - 1))")"
  echo
  table_header
} | tee "$summary"

node_pid=""
data_dir=""
stop_node() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid"
    wait "$node_pid" 2>/dev/null || true
  fi
  node_pid=""
  [ -n "$data_dir" ] && rm -rf "$data_dir"
  data_dir=""
}
trap stop_node EXIT

for scenario in "${scenarios[@]}"; do
  profile=${scenario%%-*}
  clients=${scenario#*-}
  case $profile in
    ext) lt_profile=extension; sockets_per_client=2 ;;
    hb) lt_profile=heartbeat; sockets_per_client=1 ;;
    *) echo "unknown scenario $scenario" >&2; exit 2 ;;
  esac
  # One worker holds 20,000 descriptors here: 19,500 sockets, the rest for its own files.
  workers=$(( (clients * sockets_per_client + 19499) / 19500 ))
  workers=${WORKERS:-$workers}
  ramp=$(( clients >= 5000 ? 1000 : 500 ))
  warmup=$(( (clients + ramp - 1) / ramp + 10 ))

  port=$(free_port)
  data_dir=$(mktemp -d /tmp/tandem-bench-XXXXXX)
  "${node_cpus[@]}" "$binary" serve --host 127.0.0.1 --port "$port" --data-dir "$data_dir" --log-level warn \
    --set server.max_connections=19500 --set limits.max_conns_per_ip=100000 --set http.max_conns_per_ip=100000 --set limits.rooms_per_ip_minute=100000 ${NODE_ARGS:-} \
    2>"$out/$scenario.node.log" &
  node_pid=$!
  wait_for_port "$port"
  sleep 1
  rss_base=$(rss_kib "$node_pid")

  perf_pid=""
  if [ -n "${PROFILE_SECONDS:-}" ]; then
    (sleep $((warmup + 5)) && exec perf record -q -F 99 --call-graph dwarf,16384 -p "$node_pid" \
      -o "$out/$scenario.perf.data" -- sleep "$PROFILE_SECONDS") >"$out/$scenario.perf.log" 2>&1 &
    perf_pid=$!
  fi

  report="$out/$scenario.json"
  SAMPLE_PID=$node_pid SAMPLE_PORT=$port STEADY_AT=$((warmup - 2)) \
    WINDOW_FROM=$warmup WINDOW_TO=$((warmup + duration - 2)) \
    run_sampled "${loadtest_cpus[@]}" "${LOADTEST_BINARY:-$binary}" loadtest --url "ws://127.0.0.1:$port/ws" --clients "$clients" --room-size 4 \
    --profile "$lt_profile" --ramp "$ramp" --duration "$((warmup + duration))s" --warmup "${warmup}s" --workers "$workers" \
    --address-per-room --quiet --out "$report" ${LOADTEST_ARGS:-} \
    --threshold 'lost==0' --threshold 'duplicated==0' --threshold 'out_of_order==0' \
    >"$out/$scenario.txt" 2>&1 || true
  sockets=$((clients * sockets_per_client))
  [ -n "${SRV_SOCKETS_STEADY:-}" ] && sockets=$SRV_SOCKETS_STEADY
  if [ -s "$report" ]; then
    # CPU over the recorded window (after the ramp) when it was sampled, else over the whole run.
    summarise "$report" "$scenario ($workers worker$([ "$workers" -gt 1 ] && echo s))" \
      "${SRV_CPU_WINDOW:-$SRV_CPU}" "${LT_CPU_WINDOW:-$LT_CPU}" "${WINDOW_SECONDS:-$RUN_SECONDS}" \
      "$rss_base" "$SRV_RSS_STEADY" "$sockets" "$LOAD_BEFORE" "$LOAD_AFTER" | tee -a "$summary"
  else
    echo "| $scenario | loadtest failed (exit $LT_RC), see $out/$scenario.txt |" | tee -a "$summary"
  fi
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" || echo "perf record failed, see $out/$scenario.perf.log" >&2
    if [ -s "$out/$scenario.perf.data" ]; then
      # Frames by function (no offsets, template arguments elided: `f<…>` is drawn as `f`),
      # functions narrower than one pixel left out.
      perf script -F comm,tid,time,event,ip,sym,dso -i "$out/$scenario.perf.data" 2>/dev/null |
        sed -E ':a; s/<[^<>]*>//g; ta' |
        "$here/node_modules/.bin/flamegraph" -t perf --minwidth 1 \
        --titletext "tandem serve, $scenario ($PROFILE_SECONDS s, 99 Hz)" >"$out/$scenario.flame.svg"
      rm -f "$out/$scenario.perf.data"
      echo "flame graph: $out/$scenario.flame.svg"
    fi
  fi
  stop_node
  sleep 2
done

echo
echo "summary: $summary"
