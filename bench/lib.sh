# Shared by the bench scripts: starting a node or an echo target, sampling CPU and memory from
# /proc, and summarising a loadtest report. Source it; it defines functions only.

# CPU seconds (user + system) a process has used so far; 0 when it is gone.
cpu_seconds() {
  local pid=$1 ticks
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || { echo 0; return; }
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# CPU seconds all PostgreSQL server processes (postmaster and backends) have used so far.
postgres_cpu_seconds() {
  local total=0 p
  for p in $(pgrep -x postgres || true); do total=$(awk -v a="$total" -v b="$(cpu_seconds "$p")" 'BEGIN { printf "%.2f", a + b }'); done
  echo "$total"
}

# Resident memory of a process in KiB.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

load_average() { cut -d' ' -f1-3 /proc/loadavg; }

# "busy total" jiffies of the whole machine (all CPUs) from /proc/stat; busy excludes idle and iowait.
machine_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }

wait_for_port() {
  local port=$1 tries=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -gt 300 ] && { echo "nothing listens on $port after 30 s" >&2; return 1; }
    sleep 0.1
  done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Runs "$@" (a loadtest) in the background while sampling, once a second, the CPU of $SAMPLE_PID
# (the server) and of the loadtest process tree, and the server's RSS at $STEADY_AT seconds.
# Sets LT_RC, LT_CPU (seconds, all worker processes), SRV_CPU (seconds during the run),
# SRV_RSS_STEADY (KiB), RUN_SECONDS, LOAD_BEFORE, LOAD_AFTER, MACHINE_BUSY (share of all CPUs
# busy during the run, %). LOADTEST_NICE=N runs the loadtest at nice N (a negative value keeps a
# single-threaded generator from being starved by many server threads; see bench/README.md).
# With WINDOW_FROM and WINDOW_TO (seconds into the run) it also sets SRV_CPU_WINDOW and
# LT_CPU_WINDOW (CPU seconds inside that window) and WINDOW_SECONDS.
run_sampled() {
  local start end srv_cpu0 pid
  declare -A last_cpu=()
  LOAD_BEFORE=$(load_average)
  srv_cpu0=$(cpu_seconds "$SAMPLE_PID")
  start=$(date +%s.%N)
  local ticks0
  ticks0=$(machine_ticks)
  if [ -n "${LOADTEST_NICE:-}" ]; then nice -n "$LOADTEST_NICE" "$@" & else "$@" & fi
  pid=$!
  SRV_RSS_STEADY=0
  SRV_CPU_WINDOW=""
  LT_CPU_WINDOW=""
  WINDOW_SECONDS=""
  local elapsed=0 w_srv0="" w_lt0="" w_t0=""
  lt_tree_cpu() {
    local sum=0 p
    for p in "${!last_cpu[@]}"; do sum=$(awk -v a="$sum" -v b="${last_cpu[$p]}" 'BEGIN { printf "%.2f", a + b }'); done
    echo "$sum"
  }
  while kill -0 "$pid" 2>/dev/null; do
    for p in $pid $(pgrep -P "$pid" 2>/dev/null); do
      local c
      c=$(cpu_seconds "$p")
      [ "$c" != 0 ] && last_cpu[$p]=$c
    done
    if [ -n "${WINDOW_FROM:-}" ] && [ "$elapsed" -eq "$WINDOW_FROM" ]; then
      w_srv0=$(cpu_seconds "$SAMPLE_PID"); w_lt0=$(lt_tree_cpu); w_t0=$(date +%s.%N)
    fi
    if [ -n "$w_t0" ] && [ -n "${WINDOW_TO:-}" ] && [ "$elapsed" -eq "$WINDOW_TO" ]; then
      SRV_CPU_WINDOW=$(awk -v a="$(cpu_seconds "$SAMPLE_PID")" -v b="$w_srv0" 'BEGIN { printf "%.1f", a - b }')
      LT_CPU_WINDOW=$(awk -v a="$(lt_tree_cpu)" -v b="$w_lt0" 'BEGIN { printf "%.1f", a - b }')
      WINDOW_SECONDS=$(awk -v a="$(date +%s.%N)" -v b="$w_t0" 'BEGIN { printf "%.1f", a - b }')
    fi
    if [ "$elapsed" -eq "${STEADY_AT:-30}" ]; then
      SRV_RSS_STEADY=$(rss_kib "$SAMPLE_PID")
      # The sockets the node held: WebSockets and plain HTTP connections (the /status keep-alives).
      SRV_SOCKETS_STEADY=$(curl -s "http://127.0.0.1:${SAMPLE_PORT}/metrics" |
        awk '$1 == "tandem_connections" || $1 == "tandem_http_connections" {n += $2} END {if (NR) printf "%d", n}')
    fi
    sleep 1
    elapsed=$((elapsed + 1))
  done
  wait "$pid"
  LT_RC=$?
  end=$(date +%s.%N)
  SRV_CPU=$(awk -v a="$(cpu_seconds "$SAMPLE_PID")" -v b="$srv_cpu0" 'BEGIN { printf "%.1f", a - b }')
  LT_CPU=0
  for p in "${!last_cpu[@]}"; do LT_CPU=$(awk -v a="$LT_CPU" -v b="${last_cpu[$p]}" 'BEGIN { printf "%.1f", a + b }'); done
  RUN_SECONDS=$(awk -v a="$end" -v b="$start" 'BEGIN { printf "%.1f", a - b }')
  MACHINE_BUSY=$(echo "$ticks0 $(machine_ticks)" | awk '{ printf "%.0f", ($3 - $1) / ($4 - $2) * 100 }')
  LOAD_AFTER=$(load_average)
}

# One markdown table row from a loadtest report.
summarise() {
  python3 - "$@" <<'EOF'
import json, sys
report_file, name, srv_cpu, lt_cpu, seconds, rss_base, rss_steady, sockets, load_before, load_after = sys.argv[1:11]
r = json.load(open(report_file))
b = r["latency_ms"]["broadcast"]; s = r["latency_ms"]["status"]; lag = r["latency_ms"]["send_lag"]
c = r["clients"]; d = r["delivery"]; e = r["errors"]
seconds = float(seconds)
sockets = int(float(sockets or 0))
per_socket = (int(rss_steady) - int(rss_base)) / sockets if sockets else 0
status = f'{s["p50"]:.1f} / {s["p99"]:.1f} / {s["max"]:.0f}' if s["count"] else "–"
print(f'| {name} | {c["joined"]}/{c["target"]} | {b["count"]:,} | {b["p50"]:.2f} / {b["p99"]:.2f} / {b["max"]:.0f} | '
      f'{status} | {d["lost"]}/{d["duplicated"]}/{d["out_of_order"]} | {e["total"]} | '
      f'{float(srv_cpu) / seconds * 100:.0f} % | {float(lt_cpu) / seconds * 100:.0f} % | '
      f'{int(rss_steady) / 1024:.0f} MiB, {per_socket:.1f} KiB | {lag["p99"]:.2f} | {load_before} → {load_after} |')
EOF
}

table_header() {
  echo '| scenario | joined | broadcasts | broadcast p50 / p99 / max ms | /status p50 / p99 / max ms | lost/dup/ooo | errors | server CPU | loadtest CPU | server RSS, per connection | send lag p99 ms | load avg before → after |'
  echo '|---|---|---|---|---|---|---|---|---|---|---|---|'
}
