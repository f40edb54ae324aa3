# Shared by the bench scripts: starting a node or an echo target, sampling CPU and memory from
# /proc, and summarising a loadtest report. Source it; it defines functions only.

# The samplers below run while the load runs, several inside the measured window: they use bash
# builtins only, no awk, getconf or pgrep per sample. On this 2-core VM a fork and exec costs
# milliseconds of CPU, and the sampler that called awk and getconf for every PostgreSQL process
# at the window's edges took both cores for ~0.7 s — a broadcast p99 spike of 0.1–1.3 s that
# was the benchmark's own (docs/performance.md, 2026-12-05 evening).
CLK_TCK=$(getconf CLK_TCK)

# Sets TICKS to the CPU clock ticks (user + system) process $1 has used so far; 0 when it is gone.
read_ticks() {
  local stat
  local -a f
  TICKS=0
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
  # The command name (field 2) may hold spaces and parentheses: fields follow the last ")".
  read -r -a f <<<"${stat##*) }"
  TICKS=$((f[11] + f[12]))  # utime and stime, fields 14 and 15
}

# Clock ticks as seconds with two decimals.
ticks_to_seconds() { printf '%d.%02d' $(($1 / CLK_TCK)) $(($1 % CLK_TCK * 100 / CLK_TCK)); }

# CPU seconds (user + system) a process has used so far; 0.00 when it is gone.
cpu_seconds() {
  read_ticks "$1"
  ticks_to_seconds "$TICKS"
}

# Sets TICKS to the CPU ticks all PostgreSQL server processes (postmaster and backends) have used.
postgres_ticks() {
  local d comm sum=0
  for d in /proc/[0-9]*; do
    { read -r comm <"$d/comm"; } 2>/dev/null || continue
    [ "$comm" = postgres ] || continue
    read_ticks "${d#/proc/}"
    sum=$((sum + TICKS))
  done
  TICKS=$sum
}

# CPU seconds all PostgreSQL server processes have used so far.
postgres_cpu_seconds() {
  postgres_ticks
  ticks_to_seconds "$TICKS"
}

# Resident memory of a process in KiB. The file is taken in one read: read line by line, bash
# seeks back after each line and the kernel renders the file anew for the next read, so lines
# whose length changed in between (VmSize, VmHWM of a busy process) shift and VmRSS can be missed.
rss_kib() {
  local status="" rest
  { read -r -d '' status <"/proc/$1/status"; } 2>/dev/null
  rest=${status#*VmRSS:}
  [ "$rest" = "$status" ] && { echo 0; return; }
  read -r rest _ <<<"$rest"
  echo "$rest"
}

# One line on what this host's kernel charges for the system calls a node makes most, measured by
# bench/syscall-cost.c (~3 s, before the runs). The same binary's CPU per message moves with it
# from one VM to the next (an empty recvmsg took 1.5 µs on the VM of 2026-12-05, 0.5 µs on that of
# 2026-12-06 05:54: docs/performance.md), so every summary states it.
host_cost_line() {
  local dir
  command -v cc >/dev/null || { echo "host system calls: not measured (no C compiler)"; return 0; }
  dir=$(mktemp -d)
  if cc -O2 -o "$dir/syscall-cost" "$(dirname "${BASH_SOURCE[0]}")/syscall-cost.c" 2>"$dir/cc.log" &&
    "$dir/syscall-cost" >"$dir/out" 2>"$dir/cc.log"; then
    # "empty recvmsg (EAGAIN):     561 ns" lines joined as "empty recvmsg (EAGAIN) 561 ns, …"
    awk -F': *' '{ printf "%s%s %s", (NR > 1 ? ", " : "host system calls (bench/syscall-cost.c): "), $1, $2 }
      END { print "" }' "$dir/out"
  else
    echo "host system calls: not measured ($(head -c 200 "$dir/cc.log"))"
  fi
  rm -rf "$dir"
}

load_average() { local a b c _; read -r a b c _ </proc/loadavg; echo "$a $b $c"; }

# Sets MACHINE_TICKS to "busy total" jiffies of the whole machine (all CPUs) from /proc/stat; busy
# excludes idle and iowait. machine_ticks prints them.
machine_ticks_into() {
  local -a f
  local total=0 i
  read -r -a f </proc/stat  # cpu user nice system idle iowait …
  for ((i = 1; i < ${#f[@]}; i++)); do total=$((total + f[i])); done
  MACHINE_TICKS="$((total - f[4] - f[5])) $total"
}
machine_ticks() {
  machine_ticks_into
  echo "$MACHINE_TICKS"
}

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
# (the server) and of the loadtest process tree, and — when STEADY_AT is set — the server's RSS
# and sockets at $STEADY_AT seconds.
# Sets LT_RC, LT_CPU (seconds, all worker processes), SRV_CPU (seconds during the run),
# SRV_RSS_STEADY (KiB), SRV_SOCKETS_STEADY, RUN_SECONDS, LOAD_BEFORE, LOAD_AFTER, MACHINE_BUSY
# (share of all CPUs busy during the run, %). LOADTEST_NICE=N runs the loadtest at nice N (a
# negative value keeps a single-threaded generator from being starved by many server threads;
# see bench/README.md). With WINDOW_FROM and WINDOW_TO (seconds into the run) it also sets
# SRV_CPU_WINDOW and LT_CPU_WINDOW (CPU seconds inside that window) and WINDOW_SECONDS; with
# WINDOW_PROBE (a function that sets PROBE to integers, e.g. CPU ticks of several processes,
# with bash builtins) also WINDOW_PROBE_DELTA, what each integer grew by inside the window.
# Seconds into the run are wall clock ($SECONDS), not loop turns. While the loadtest records,
# nothing here starts a process but `sleep` once a second; the /metrics request and the RSS
# read of STEADY_AT are the exception, so callers put STEADY_AT before the recorded window (after
# the ramp) or leave it unset.
run_sampled() {
  local start pid srv0 ticks0 p
  declare -A last_ticks=()
  LOAD_BEFORE=$(load_average)
  read_ticks "$SAMPLE_PID"; srv0=$TICKS
  ticks0=$(machine_ticks)
  start=$SECONDS
  local t0_ns=$EPOCHREALTIME
  if [ -n "${LOADTEST_NICE:-}" ]; then nice -n "$LOADTEST_NICE" "$@" & else "$@" & fi
  pid=$!
  SRV_RSS_STEADY=0
  SRV_SOCKETS_STEADY=""
  SRV_CPU_WINDOW=""
  LT_CPU_WINDOW=""
  WINDOW_SECONDS=""
  WINDOW_PROBE_DELTA=""
  local elapsed=0 w_srv0="" w_lt0="" w_t0="" w_probe0="" w_srv1="" w_lt1="" w_t1="" w_probe1="" steady_done=""
  local tree=("$pid") tree_at=-1 lt_ticks=0
  # Sets lt_ticks to the CPU ticks of the loadtest's processes as last seen.
  sum_lt_ticks() {
    local q
    lt_ticks=0
    for q in "${!last_ticks[@]}"; do lt_ticks=$((lt_ticks + last_ticks[$q])); done
  }
  while kill -0 "$pid" 2>/dev/null; do
    elapsed=$((SECONDS - start))
    # Worker processes start with the run: look for them twice, not every second.
    if [ "$tree_at" -lt 0 ] || { [ "$tree_at" -lt 3 ] && [ "$elapsed" -ge 3 ]; }; then
      tree=("$pid" $(pgrep -P "$pid" 2>/dev/null || true))
      tree_at=$elapsed
    fi
    for p in "${tree[@]}"; do
      read_ticks "$p"
      [ "$TICKS" != 0 ] && last_ticks[$p]=$TICKS
    done
    # The window's edges record raw counters only; the arithmetic waits until the run is over.
    if [ -n "${WINDOW_FROM:-}" ] && [ -z "$w_t0" ] && [ "$elapsed" -ge "$WINDOW_FROM" ]; then
      w_t0=$EPOCHREALTIME
      read_ticks "$SAMPLE_PID"; w_srv0=$TICKS
      sum_lt_ticks; w_lt0=$lt_ticks
      [ -n "${WINDOW_PROBE:-}" ] && { $WINDOW_PROBE; w_probe0=$PROBE; }
    fi
    if [ -n "$w_t0" ] && [ -z "$w_t1" ] && [ -n "${WINDOW_TO:-}" ] && [ "$elapsed" -ge "$WINDOW_TO" ]; then
      w_t1=$EPOCHREALTIME
      read_ticks "$SAMPLE_PID"; w_srv1=$TICKS
      sum_lt_ticks; w_lt1=$lt_ticks
      [ -n "${WINDOW_PROBE:-}" ] && { $WINDOW_PROBE; w_probe1=$PROBE; }
    fi
    if [ -n "${STEADY_AT:-}" ] && [ -z "$steady_done" ] && [ "$elapsed" -ge "$STEADY_AT" ]; then
      steady_done=1
      SRV_RSS_STEADY=$(rss_kib "$SAMPLE_PID")
      # The sockets the node held: WebSockets and plain HTTP connections (the /status keep-alives).
      SRV_SOCKETS_STEADY=$(curl -s "http://127.0.0.1:${SAMPLE_PORT}/metrics" |
        awk '$1 == "tandem_connections" || $1 == "tandem_http_connections" {n += $2} END {if (NR) printf "%d", n}')
    fi
    sleep 1
  done
  if [ -n "$w_t1" ]; then
    SRV_CPU_WINDOW=$(ticks_to_seconds $((w_srv1 - w_srv0)))
    LT_CPU_WINDOW=$(ticks_to_seconds $((w_lt1 - w_lt0)))
    WINDOW_SECONDS=$(awk -v a="$w_t1" -v b="$w_t0" 'BEGIN { printf "%.1f", a - b }')
    if [ -n "${WINDOW_PROBE:-}" ]; then
      WINDOW_PROBE_DELTA=$(printf '%s\n%s\n' "$w_probe0" "$w_probe1" |
        awk 'NR == 1 { for (i = 1; i <= NF; i++) a[i] = $i } NR == 2 { for (i = 1; i <= NF; i++) printf "%s%d", (i > 1 ? " " : ""), $i - a[i]; print "" }')
    fi
  fi
  wait "$pid"
  LT_RC=$?
  read_ticks "$SAMPLE_PID"; SRV_CPU=$(ticks_to_seconds $((TICKS - srv0)))
  sum_lt_ticks
  LT_CPU=$(ticks_to_seconds "$lt_ticks")
  RUN_SECONDS=$(awk -v a="$EPOCHREALTIME" -v b="$t0_ns" 'BEGIN { printf "%.1f", a - b }')
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
