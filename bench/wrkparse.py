#!/usr/bin/env python3
"""Turn one wrk --latency report (standard input) into a result line of the
benchmark (bench/run.sh):

    SIZE SCENARIO RPS P50_MS P99_MS CPU_US_PER_REQUEST REQUESTS BAD SYNCS WRITTEN

usage: wrkparse.py SIZE SCENARIO SERVER-CPU-TICKS CLK_TCK [SYNCS [WRITTEN]] < wrk-output
SYNCS: the server's fdatasync calls during the run (0: not counted).
WRITTEN: the bytes the server passed to write() and pwrite() during the
run (wchar of /proc/PID/io; -1: not known).
BAD counts non-2xx/3xx answers and socket errors."""
import re
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def main():
    size, name, ticks, clk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    syncs = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5].isdigit() else 0
    written = int(sys.argv[6]) if len(sys.argv) > 6 else -1
    out = sys.stdin.read()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    reqs = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    bad = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        bad += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        bad += sum(int(g) for g in m.groups())
    n = int(reqs.group(1)) if reqs else 0
    cpu_us = ticks / clk * 1e6 / n if n else float("nan")
    print(size, name, rps.group(1) if rps else "nan",
          "%.3f" % (ms(p50.group(1)) if p50 else float("nan")),
          "%.3f" % (ms(p99.group(1)) if p99 else float("nan")),
          "%.1f" % cpu_us, n, bad, syncs, written, sep="\t")


main()
