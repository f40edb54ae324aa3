#!/usr/bin/env python3
"""CPU of every process on this machine, by role, while a benchmark runs.

    bench/process-cpu.py record FILE SECONDS          # one sample a second, as JSON lines
    bench/process-cpu.py report FILE OFFSET LENGTH    # CPU % of one core per role over a window

Roles: node (`tandem serve`), loadtest (`tandem loadtest`), redis, postgres (every PostgreSQL
process: postmaster and backends), kernel (kernel threads) and other. The report's window starts
OFFSET seconds after the first sample in which a loadtest runs and lasts LENGTH seconds; it
prints one JSON object: user + system CPU per role, user CPU alone per role (`user`), and each
node's figure (`nodes_each`). cluster-crossnode.sh reports the nodes, Redis, PostgreSQL and the
loadtest over its recorded window itself (since 2026-12-05 evening); this adds kernel threads and
everything else. It is a Python process waking once a second: cheap, but not nothing on two
cores, so figures taken with it beside a run are a little pessimistic. Run `record` in
the background next to a bench script, e.g.

    bench/process-cpu.py record /tmp/cpu.jsonl 80 & bench/cluster-crossnode.sh -d 35 ext-5000; wait
    bench/process-cpu.py report /tmp/cpu.jsonl 20 25
"""
import collections
import json
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def role(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except OSError:
        return None
    if not args:
        return "kernel"
    if "serve" in args:
        return "node"
    if "loadtest" in args:
        return "loadtest"
    if comm.startswith("redis"):
        return "redis"
    if comm.startswith("postgres") or "postgres" in args[0]:
        return "postgres"
    return "other"


def sample():
    """{pid: [role, user + system ticks, user ticks]} of every process now."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        r = role(pid)
        if r is None:
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        utime, stime = int(fields[11]), int(fields[12])
        out[pid] = [r, utime + stime, utime]
    return out


def record(path, seconds):
    with open(path, "w") as f:
        for _ in range(seconds):
            f.write(json.dumps({"t": time.time(), "per": sample()}) + "\n")
            f.flush()
            time.sleep(1)


def report(path, offset, length):
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    start = next(i for i, r in enumerate(rows) if any(v[0] == "loadtest" for v in r["per"].values()))
    if start + offset + length >= len(rows):
        sys.exit(f"{path}: the window ends after the last sample ({len(rows) - start} s from the loadtest's start)")
    a, b = rows[start + offset], rows[start + offset + length]
    seconds = b["t"] - a["t"]
    total, user, nodes = collections.Counter(), collections.Counter(), []
    for pid, (r, ticks, uticks) in b["per"].items():
        _, ticks0, uticks0 = a["per"].get(pid, [r, 0, 0])
        total[r] += ticks - ticks0
        user[r] += uticks - uticks0
        if r == "node":
            nodes.append(round(100 * (ticks - ticks0) / TICKS / seconds, 1))
    percent = lambda c: {r: round(100 * v / TICKS / seconds, 1) for r, v in c.most_common() if v}
    print(json.dumps({**percent(total), "user": percent(user), "nodes_each": nodes}))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "record":
        record(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "report":
        report(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
