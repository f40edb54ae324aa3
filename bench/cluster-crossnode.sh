#!/usr/bin/env bash
# Cross-node benchmark (issue 6): NODES cluster nodes (default 3) on this machine, a redis-server
# of the benchmark's own (so that its CPU and its commit count can be measured), the PostgreSQL of
# scripts/services (a schema of the benchmark's own), and `tandem loadtest` with every room's
# members spread over the nodes (--url once per node), so broadcast latency is cross-node latency.
# Records broadcast and /status latency, delivery (lost/duplicated/out of order), the CPU of every
# node, of Redis and of PostgreSQL (all its processes: the nodes' audit and snapshot writes),
# commits per second (Redis EVALSHA calls), broadcasts per second and the load average; then the
# teardown (every client sends LEAVE when the loadtest ends): the rooms with members when the
# loadtest exited and the seconds until none is left, and the room changes the nodes abandoned
# (their "gave up after" warnings, tandem_cluster_cas_abandoned_total).
# Results: a markdown table on stdout and in $OUT/crossnode-<date>.md, one JSON report per
# scenario in $OUT.
#
#   bench/cluster-crossnode.sh [-b BINARY] [-o OUT_DIR] [-d DURATION] [-n NODES] [-t THREADS] [SCENARIO …]
#
# THREADS: server.threads of every node (default 1: the nodes share this machine's cores, as
# one node per core would be deployed; before 2026-12-04 the nodes ran the default, one event
# loop per core each).
#
# Scenarios (default: ext-5000): ext-<clients> extension profile, hb-<clients> heartbeat profile;
# rooms of 4, one source address per room. Clients connect at 1,000/s (500/s below 5,000
# clients); latencies are recorded from 10 s after the ramp ends, for DURATION (default 60s).
# CPU figures (nodes, Redis, PostgreSQL, loadtest, machine busy) cover the recorded window, as in
# bench/single-node.sh; before 2026-12-05 evening they covered the whole run, ramp included.
# Needs: scripts/services start (PostgreSQL; source /tmp/tandem-services/env is read), redis-server.
# NODE_SETTINGS, LOADTEST_ARGS: more `tandem serve` / `tandem loadtest` options (bench/README.md).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

binary="$here/../build/release/cli/tandem"
out="$here/results"
duration=60
nodes=3
threads=1
while getopts "b:o:d:n:t:" opt; do
  case $opt in
    b) binary=$OPTARG ;;
    o) out=$OPTARG ;;
    d) duration=${OPTARG%s} ;;
    n) nodes=$OPTARG ;;
    t) threads=$OPTARG ;;
    *) sed -n '2,19p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(ext-5000)
[ -x "$binary" ] || { echo "no tandem binary at $binary (build it or pass -b)" >&2; exit 2; }
[ -f /tmp/tandem-services/env ] || { echo "start the services first: scripts/services start" >&2; exit 2; }
. /tmp/tandem-services/env
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"

stamp=$(date -u +%Y-%m-%dT%H%MZ)
summary="$out/crossnode-$stamp.md"
{
  echo "# $nodes-node cluster, cross-node broadcasts, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "machine: $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -sr); nodes, Redis, PostgreSQL and the loadtest share them"
  host_cost_line
  echo "binary: $binary ($("$binary" --version)); $(redis-server --version | cut -d' ' -f1-3)"
  echo "recorded: ${duration}s per scenario, from 10 s after the ramp; server.threads=$threads per node"
  echo
  echo '| scenario | joined | broadcasts | cross-node broadcast p50 / p99 / max ms | /status p99 ms | lost/dup/ooo | errors | node CPU (each) | Redis CPU | PostgreSQL CPU | loadtest CPU | commits/s | broadcasts/s | machine busy | loadtest verdict | load avg before → after | rooms with members at loadtest exit → 0 | changes abandoned |'
  echo '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'
} | tee "$summary"

pids=()
redis_pid=""
schema=""
psql_bench() {
  PGPASSWORD=$TANDEM_TEST_PG_PASSWORD psql -X -q -At -h "$TANDEM_TEST_PG_HOST" -p "$TANDEM_TEST_PG_PORT" \
    -U "$TANDEM_TEST_PG_USER" -d "$TANDEM_TEST_PG_DB" -c "$1"
}
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  pids=()
  if [ -n "$redis_pid" ]; then kill -TERM "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  redis_pid=""
  if [ -n "$schema" ]; then psql_bench "SET client_min_messages=warning; DROP SCHEMA IF EXISTS $schema CASCADE" || true; fi
  schema=""
}
trap cleanup EXIT
# Rooms in which some node has members: the sum of the nodes' room indexes in Redis.
members_left() {
  local key rooms=0
  for key in $(redis-cli -p "$redis_port" --scan --pattern "${key_prefix}node:*:rooms"); do
    rooms=$((rooms + $(redis-cli -p "$redis_port" scard "$key")))
  done
  echo "$rooms"
}

for scenario in "${scenarios[@]}"; do
  profile=${scenario%%-*}
  clients=${scenario#*-}
  case $profile in
    ext) lt_profile=extension ;;
    hb) lt_profile=heartbeat ;;
    *) echo "unknown scenario $scenario" >&2; exit 2 ;;
  esac
  # The same ramp as bench/single-node.sh: clients/8 a second (1,875/s at 15,000) was a JOIN storm
  # that the nodes shed with server_busy on this machine, so the steady state lacked members.
  ramp=$(( clients >= 5000 ? 1000 : 500 ))
  warmup=$(( (clients + ramp - 1) / ramp + 10 ))

  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning \
    >"$out/crossnode-$scenario.redis.log" 2>&1 &
  redis_pid=$!
  wait_for_port "$redis_port"
  schema="bench_$(date +%s)_$$"
  psql_bench "CREATE SCHEMA $schema"
  export REDIS_HOST=127.0.0.1 REDIS_PORT=$redis_port POSTGRES_HOST=$TANDEM_TEST_PG_HOST \
    POSTGRES_PORT=$TANDEM_TEST_PG_PORT POSTGRES_USER=$TANDEM_TEST_PG_USER \
    POSTGRES_PASSWORD=$TANDEM_TEST_PG_PASSWORD POSTGRES_DB=$TANDEM_TEST_PG_DB PGOPTIONS="-c search_path=$schema"
  "$binary" migrate --log-level warn >/dev/null
  # The nodes' Redis key prefix (redis.key_prefix), for the teardown's count of their room indexes.
  # shellcheck disable=SC2086
  key_prefix=$("$binary" serve --print-config ${NODE_SETTINGS:-} | awk -F'"' '/^key_prefix = / {print $2}')

  urls=()
  ports=()
  for i in $(seq 1 "$nodes"); do
    port=$(free_port)
    "$binary" serve --host 127.0.0.1 --port "$port" --node-id "bench$i" --log-level warn \
      --set server.max_connections=19500 --set limits.max_conns_per_ip=100000 --set http.max_conns_per_ip=100000 --set limits.rooms_per_ip_minute=100000 --set server.threads="$threads" ${NODE_SETTINGS:-} \
      2>"$out/crossnode-$scenario.node$i.log" &
    pids+=($!)
    ports+=("$port")
    urls+=(--url "ws://127.0.0.1:$port/ws")
  done
  for port in "${ports[@]}"; do
    wait_for_port "$port"
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready")" = 200 ]; do sleep 0.2; done
  done

  node_cpu0=()
  for p in "${pids[@]}"; do node_cpu0+=("$(cpu_seconds "$p")"); done
  redis_cpu0=$(cpu_seconds "$redis_pid")
  pg_cpu0=$(postgres_cpu_seconds)
  # Sampled at both ends of the recorded window (bash builtins only: see bench/lib.sh): every
  # node's, Redis's and PostgreSQL's CPU ticks, then the machine's busy and total jiffies.
  probe() {
    local p
    PROBE=""
    for p in "${pids[@]}" "$redis_pid"; do read_ticks "$p"; PROBE+="$TICKS "; done
    postgres_ticks
    PROBE+="$TICKS "
    machine_ticks_into
    PROBE+="$MACHINE_TICKS"
  }
  evalsha() { redis-cli -p "$redis_port" info commandstats | awk -F'[=,:]' '/^cmdstat_evalsha:/ {print $3}'; }
  evalsha0=$(evalsha); evalsha0=${evalsha0:-0}

  report="$out/crossnode-$scenario.json"
  SAMPLE_PID=${pids[0]} SAMPLE_PORT=${ports[0]} \
    WINDOW_FROM=$warmup WINDOW_TO=$((warmup + duration - 2)) WINDOW_PROBE=probe \
    run_sampled "${LOADTEST_BINARY:-$binary}" loadtest "${urls[@]}" --clients "$clients" --room-size 4 \
    --profile "$lt_profile" --ramp "$ramp" --duration "$((warmup + duration))s" --warmup "${warmup}s" \
    --address-per-room --quiet --out "$report" ${LOADTEST_ARGS:-} \
    --threshold 'lost==0' --threshold 'duplicated==0' --threshold 'out_of_order==0' \
    >"$out/crossnode-$scenario.txt" 2>&1 || true
  # CPU over the recorded window; over the whole run only when the loadtest never reached it.
  if [ -n "$WINDOW_PROBE_DELTA" ]; then
    read -r -a delta <<<"$WINDOW_PROBE_DELTA"
    n=${#pids[@]}
    node_cpu=""
    for i in "${!pids[@]}"; do
      node_cpu+="$(awk -v a="${delta[$i]}" -v s="$WINDOW_SECONDS" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f %%", a / hz / s * 100 }') "
    done
    redis_cpu=$(awk -v a="${delta[$n]}" -v s="$WINDOW_SECONDS" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f %%", a / hz / s * 100 }')
    pg_cpu=$(awk -v a="${delta[$((n + 1))]}" -v s="$WINDOW_SECONDS" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f %%", a / hz / s * 100 }')
    MACHINE_BUSY=$(awk -v b="${delta[$((n + 2))]}" -v t="${delta[$((n + 3))]}" 'BEGIN { printf "%.0f", b / t * 100 }')
    LT_CPU=$LT_CPU_WINDOW
    cpu_seconds_base=$WINDOW_SECONDS
  else
    node_cpu=""
    for i in "${!pids[@]}"; do
      node_cpu+="$(awk -v a="$(cpu_seconds "${pids[$i]}")" -v b="${node_cpu0[$i]}" -v s="$RUN_SECONDS" \
        'BEGIN { printf "%.0f %%", (a - b) / s * 100 }') "
    done
    redis_cpu=$(awk -v a="$(cpu_seconds "$redis_pid")" -v b="$redis_cpu0" -v s="$RUN_SECONDS" 'BEGIN { printf "%.0f %%", (a - b) / s * 100 }')
    pg_cpu=$(awk -v a="$(postgres_cpu_seconds)" -v b="$pg_cpu0" -v s="$RUN_SECONDS" 'BEGIN { printf "%.0f %%", (a - b) / s * 100 }')
    cpu_seconds_base=$RUN_SECONDS
  fi
  # Commits a second over the loadtest's run, taken before the teardown adds its own.
  evalsha1=$(evalsha)
  commits=$(awk -v a="${evalsha1:-0}" -v b="$evalsha0" -v s="$RUN_SECONDS" 'BEGIN { printf "%.0f", (a - b) / s }')

  # The teardown: every client left (LEAVE) when the loadtest ended. Seconds from its exit until
  # no node has members in any room (the nodes' room indexes in Redis are empty), at most 60.
  teardown_start=$EPOCHREALTIME
  teardown_until=$((SECONDS + 60))
  rooms_at_exit=$(members_left)
  rooms_left=$rooms_at_exit
  while [ "$rooms_left" -gt 0 ] && [ "$SECONDS" -lt "$teardown_until" ]; do
    sleep 0.2
    rooms_left=$(members_left)
  done
  if [ "$rooms_left" -eq 0 ]; then
    teardown="$rooms_at_exit → 0 in $(awk -v a="$EPOCHREALTIME" -v b="$teardown_start" 'BEGIN { printf "%.1f", a - b }') s"
  else
    teardown="$rooms_at_exit → $rooms_left after 60 s"
  fi
  abandoned=$(cat "$out/crossnode-$scenario".node*.log | grep -c "gave up after" || true)

  if [ -s "$report" ]; then
    python3 - "$report" "$scenario" "$node_cpu" "$redis_cpu" "$pg_cpu" "$LT_CPU" "$cpu_seconds_base" "$commits" "$LOAD_BEFORE" \
      "$LOAD_AFTER" "$duration" "$MACHINE_BUSY" "$teardown" "$abandoned" <<'EOF' | tee -a "$summary"
import json, sys
report, name, node_cpu, redis_cpu, pg_cpu, lt_cpu, seconds, commits, before, after, duration, busy, teardown, abandoned = sys.argv[1:15]
r = json.load(open(report))
b = r["latency_ms"]["broadcast"]; s = r["latency_ms"]["status"]
c = r["clients"]; d = r["delivery"]; e = r["errors"]
status = f'{s["p99"]:.1f}' if s["count"] else "–"
measured = max(1.0, float(duration))
print(f'| {name} | {c["joined"]}/{c["target"]} | {b["count"]:,} | {b["p50"]:.2f} / {b["p99"]:.2f} / {b["max"]:.0f} | {status} | '
      f'{d["lost"]}/{d["duplicated"]}/{d["out_of_order"]} | {e["total"]} | {node_cpu.strip()} | {redis_cpu} | {pg_cpu} | '
      f'{float(lt_cpu) / float(seconds) * 100:.0f} % | {commits} | {b["count"] / measured:,.0f} | {busy} % | '
      f'{r.get("verdict", "?")} | {before} → {after} | {teardown} | {abandoned} |')
EOF
  else
    echo "| $scenario | loadtest failed (exit $LT_RC), see $out/crossnode-$scenario.txt |" | tee -a "$summary"
  fi
  cleanup
  sleep 2
done

echo
echo "summary: $summary"
