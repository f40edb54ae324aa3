#!/usr/bin/env bash
# Soak with abusers (issue 11): a fresh embedded `tandem serve` with its DEFAULT limits, normal
# extension load from `tandem loadtest` (one source address per room, 127.16.0.0/12) and, at the
# same time, bench/abusers.mjs (handshake spam, room floods, slow readers, relay floods, PIN
# guessing from 127.200.0.0/16). Records the normal clients' latency and delivery (thresholds:
# nothing lost, duplicated or out of order, broadcast p99 < 50 ms), the node's RSS every 5 s,
# what the node answered the abusers, its refusal metrics and whether it ends healthy.
#
#   bench/soak.sh [-b BINARY] [-o OUT_DIR] [-d SECONDS] [-c CLIENTS]
#
# Defaults: build/release/cli/tandem, bench/results/soak-<date>, 600 s, 2,000 clients.
# Needs node (the abusers use the e2e tests' ws module: scripts/deps installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

binary=build/release/cli/tandem
out=""
seconds=600
clients=2000
while getopts "b:o:d:c:" opt; do
  case $opt in
    b) binary=$OPTARG ;;
    o) out=$OPTARG ;;
    d) seconds=$OPTARG ;;
    c) clients=$OPTARG ;;
    *) echo "usage: bench/soak.sh [-b BINARY] [-o OUT_DIR] [-d SECONDS] [-c CLIENTS]" >&2; exit 2 ;;
  esac
done
[ -x "$binary" ] || { echo "no tandem binary at $binary (bash scripts/build release)" >&2; exit 2; }
[ -d tests/e2e/node_modules/ws ] || { echo "tests/e2e/node_modules is missing (bash scripts/deps)" >&2; exit 2; }
out=${out:-bench/results/soak-$(date -u +%Y-%m-%dT%H%MZ)}
mkdir -p "$out"

port=$(free_port)
data_dir=$(mktemp -d /tmp/tandem-soak-XXXXXX)
node_pid=""
sampler_pid=""
cleanup() {
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null || true; fi
  rm -rf "$data_dir"
}
trap cleanup EXIT

"$binary" serve --host 127.0.0.1 --port "$port" --data-dir "$data_dir" --log-level warn 2>"$out/node.log" &
node_pid=$!
wait_for_port "$port"
sleep 1

# The node's RSS (KiB) and WebSocket count every 5 s.
(
  while kill -0 "$node_pid" 2>/dev/null; do
    echo "$(date +%s) $(rss_kib "$node_pid") $(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "tandem_connections" {print $2}')"
    sleep 5
  done
) >"$out/rss.txt" &
sampler_pid=$!

ramp=500
warmup=$(( (clients + ramp - 1) / ramp + 10 ))
node bench/abusers.mjs --port "$port" --seconds "$((seconds + warmup))" --report "$out/abusers.json" >/dev/null 2>"$out/abusers.log" &
abusers_pid=$!
lt_rc=0
"$binary" loadtest --url "ws://127.0.0.1:$port/ws" --clients "$clients" --room-size 4 --profile extension \
  --ramp "$ramp" --duration "$((seconds + warmup))s" --warmup "${warmup}s" --address-per-room --quiet \
  --out "$out/loadtest.json" \
  --threshold 'lost==0' --threshold 'duplicated==0' --threshold 'out_of_order==0' --threshold 'p99<50ms' \
  >"$out/loadtest.txt" 2>&1 || lt_rc=$?
wait "$abusers_pid" || true

ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready")
curl -s "http://127.0.0.1:$port/metrics" >"$out/metrics.txt"
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=""
alive=yes
kill -0 "$node_pid" 2>/dev/null || alive=no

rss_first=$(awk 'NR == 1 {print $2}' "$out/rss.txt")
rss_max=$(awk '$2 > m {m = $2} END {print m}' "$out/rss.txt")
rss_last=$(awk 'END {print $2}' "$out/rss.txt")
{
  echo "# Soak with abusers, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "binary: $binary ($("$binary" --version)); default limits; $clients extension clients for ${seconds}s after a ${warmup}s ramp"
  echo
  echo "## Normal clients (tandem loadtest, exit $lt_rc)"
  echo
  echo '```'
  grep -E "^(result|broadcast|status|delivery|threshold|errors|generator|target)" "$out/loadtest.txt" || tail -30 "$out/loadtest.txt"
  echo '```'
  echo
  echo "## The node"
  echo
  echo "alive at the end: $alive; /ready: $ready; RSS first / max / last: $((rss_first / 1024)) / $((rss_max / 1024)) / $((rss_last / 1024)) MiB (samples every 5 s in rss.txt)"
  echo
  echo '```'
  grep -E '^tandem_(refused_upgrades_total|http_requests_total\{handler="transport"|errors_total|relay_limited_frames_total|slow_consumer|write_timeouts_total|pin_hash_refusals_total|rooms |connections |http_connections )' "$out/metrics.txt" || true
  echo '```'
  echo
  echo "## What the abusers got (abusers.json)"
  echo
  echo '```'
  cat "$out/abusers.json"
  echo '```'
} | tee "$out/summary.md"
