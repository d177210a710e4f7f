#!/usr/bin/env python3
"""The benchmark's table (bench/run.sh writes its two inputs).

usage: report.py CEILINGS-FILE RESULTS-FILE

CEILINGS-FILE lines: "ceil KIND [ALG] RATE" from the ceiling programs,
"pair SIZE SCENARIO KIND RATE" (the ceiling measured just before that
scenario, which its ratio uses; the verify ceiling's bare-MHD term is the
run's) and
"meta SIZE KEY VALUE" (SIZE "-" for the run itself).  RESULTS-FILE lines:
"SIZE SCENARIO RPS P50 P99 CPU_US REQUESTS BAD" (wrkparse.py); SIZE "ceil"
is the bare libmicrohttpd server.  Prints Markdown: the machine, the
ceilings, one row per scenario and database size with its ceiling and
ratio, the 1M-against-10k rates and the resource limits, each against the
target of the issue."""
import math
import sys

SCENARIOS = [
    # name, label, ceiling kind, target ratio (None: no target)
    ("verify_url", "verify, url form, library token (fast path)", "mhd", 0.3),
    ("verify_compact", "verify, compact form, library token (fast path)", "mhd", 0.3),
    ("verify_full", "verify, full check (url form compressed again, ES256)", "verify", 0.8),
    ("lookup", "lookup by holder, audited", "mhd", 0.25),
    ("lookup_wide", "lookup by holder, audited, whole sample", "mhd", 0.25),
    ("fetch", "fetch by id, audited", "mhd", 0.4),
    ("fetch_wide", "fetch by id, audited, whole sample", "mhd", 0.4),
    ("qr_miss", "QR PNG, cache miss", "qr", 0.8),
    ("qr_hit", "QR PNG, cache hit", "mhd", None),
    ("face_png", "face.png, drawn (default scale 2: 2246×1588)", "mhd", None),
    ("copy_pdf", "annotated copy PDF, drawn and signed", "face_png", None),
    ("issue", "issue, durable", "insert_1", 1.0),
]

# The PostgreSQL rows (results named "pg_" + scenario): name, label, the
# ceiling held against (pg_insert_1: ceil_pg, one connection, measured right
# before; sqlite: SQLite's same scenario at the same size in the same run),
# target ratio.
PG_SCENARIOS = [
    ("verify_url", "verify, url form (ES256)", "sqlite", None),
    ("lookup", "lookup by holder, audited", "sqlite", 0.5),
    ("lookup_wide", "lookup by holder, audited, whole sample", "sqlite", 0.5),
    ("fetch", "fetch by id, audited", "sqlite", 0.5),
    ("fetch_wide", "fetch by id, audited, whole sample", "sqlite", 0.5),
    ("issue", "issue, durable", "pg_insert_1", 1.0),
]


def num(v):
    try:
        return float(v)
    except ValueError:
        return float("nan")


def serial(a, b):
    """The rate of doing both a request's HTTP (a/s) and its signature
    check (b/s) on the same core: 1/(1/a + 1/b)."""
    return 1 / (1 / a + 1 / b) if a and b else float("nan")


def fmt(v, digits=0):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:,.{digits}f}"


def yes(ok):
    if ok is None:
        return ""
    return "yes" if ok else "**no**"


def pg_table(res, meta, pair, sizes, m):
    """The PostgreSQL rows, if the run had any: each against its target's
    ceiling (SQLite's same scenario, or raw one-insert transactions on the
    same cluster), with certsvc's and the cluster's CPU a request."""
    if not any(k[1].startswith("pg_") for k in res):
        return
    clk = num(m("clk_tck")) if m("clk_tck") != "?" else 100.0
    print("\n### PostgreSQL\n")
    print("- settings: " + m("pg_settings").replace(";", ", "))
    for size in reversed(sizes):
        one = meta.get((str(size), "pg_insert_1"))
        eight = meta.get((str(size), "pg_insert_1x8"))
        if one:
            print(f"- {size:,} licences: raw one-insert transactions on the same "
                  f"cluster (ceil_pg) {fmt(num(one))}/s on one connection, "
                  f"{fmt(num(eight or 'nan'))}/s on eight")
    print("\n| scenario | licences | req/s | p50 ms | p99 ms | certsvc CPU µs/req "
          "| PostgreSQL CPU µs/req | held against | its req/s | ratio | target | met |")
    print("|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|---|")
    for name, label, kind, target in PG_SCENARIOS:
        for size in reversed(sizes):
            r = res.get((str(size), "pg_" + name))
            if r is None:
                continue
            if kind == "sqlite":
                sq = res.get((str(size), name))
                c = sq["rps"] if sq else float("nan")
                cname = "SQLite, same scenario"
            else:
                c = pair.get((str(size), "pg_" + name), ("", float("nan")))[1]
                cname = "PostgreSQL, 1 insert/tx, 1 connection"
            ratio = r["rps"] / c if c and not math.isnan(c) else float("nan")
            met = None if target is None or math.isnan(ratio) else ratio >= target
            if r["bad"]:
                met = False
            ticks = num(meta.get((str(size), "pgcpu_pg_" + name), "nan"))
            pgcpu = ticks / clk * 1e6 / r["n"] if r["n"] else float("nan")
            bad = f" ({r['bad']} errors)" if r["bad"] else ""
            print(f"| {label}{bad} | {size:,} | {fmt(r['rps'])} | {fmt(r['p50'], 2)} | "
                  f"{fmt(r['p99'], 2)} | {fmt(r['cpu'], 1)} | {fmt(pgcpu, 1)} | "
                  f"{cname} | {fmt(c)} | {fmt(ratio, 2)} | "
                  f"{'≥ ' + str(target) if target else '—'} | {yes(met)} |")
    print("\n| resource, PostgreSQL | licences | measured |")
    print("|---|--:|--:|")
    for size in reversed(sizes):
        dbb = num(meta.get((str(size), "pg_db_bytes"), "nan")) / size
        st = num(meta.get((str(size), "pg_startup_ms"), "nan"))
        rss = num(meta.get((str(size), "pg_peak_rss_kb"), "nan")) / 1024
        seed_s = num(meta.get((str(size), "pg_seed_seconds"), "nan"))
        print(f"| database bytes per licence | {size:,} | {fmt(dbb)} |")
        print(f"| certsvc start-up to first /healthz | {size:,} | {fmt(st)} ms |")
        print(f"| certsvc peak RSS | {size:,} | {fmt(rss, 1)} MiB |")
        how = meta.get((str(size), "pg_seed_how"), "issue")
        what = "seeding: certsvc copy from the SQLite seed" if how == "copy" else \
            "seeding through cs_issue(), one process"
        if not math.isnan(seed_s) and seed_s > 0:
            print(f"| {what} | {size:,} | {fmt(seed_s, 1)} s ({fmt(size / seed_s)}/s) |")


def main():
    ceil, meta, res, pair = {}, {}, {}, {}
    for line in open(sys.argv[1], encoding="utf-8"):
        f = line.split()
        if not f:
            continue
        if f[0] == "ceil" and len(f) == 4:
            ceil[f"{f[1]} {f[2]}"] = num(f[3])
        elif f[0] == "ceil" and len(f) == 3:
            ceil[f[1]] = num(f[2])
        elif f[0] == "pair" and len(f) == 5:
            pair[(f[1], f[2])] = (f[3], num(f[4]))
        elif f[0] == "meta" and len(f) >= 4:
            meta[(f[1], f[2])] = " ".join(f[3:])
    for line in open(sys.argv[2], encoding="utf-8"):
        f = line.split("\t")
        if len(f) >= 8:
            res[(f[0], f[1])] = dict(rps=num(f[2]), p50=num(f[3]), p99=num(f[4]),
                                     cpu=num(f[5]), n=int(f[6]), bad=int(f[7]),
                                     syncs=int(f[8]) if len(f) > 8 else 0,
                                     written=int(f[9]) if len(f) > 9 else -1)
    m = lambda k: meta.get(("-", k), "?")
    cores = int(num(m("server_cores"))) if m("server_cores") != "?" else 1
    mhd = res.get(("ceil", "mhd"), {}).get("rps", float("nan"))
    es_verify = ceil.get("verify ES256", float("nan"))
    ceilings = {
        "verify": (serial(mhd, es_verify * cores),
                   f"1/(1/bare MHD + 1/(ES256 verify × {cores}))"),
        "mhd": (mhd, "bare MHD"),
        "qr": (ceil.get("qr_png", float("nan")) * cores,
               f"QR+PNG render × {cores}"),
        "insert_1": (ceil.get("insert_1", float("nan")),
                     "SQLite FULL, 1 insert/tx"),
    }
    sizes = sorted({int(k[0]) for k in res if k[0] != "ceil"})
    failed = [k for k, r in res.items() if r["bad"] or r["n"] == 0] or \
        ([] if sizes else ["no scenario ran"])
    big = sizes[-1] if sizes else 0
    small = sizes[0] if sizes else 0

    print(f"## certsvc benchmark, {m('date')}\n")
    print(f"- machine: {m('cpu').replace('_', ' ')}, {m('cores')} cores, "
          f"Linux {m('kernel')}; wrk (1 thread, 64 connections) on core 0, "
          f"servers and ceilings on {cores} core(s)")
    print(f"- mode {m('mode')}, {m('duration')} s a scenario, certsvc with "
          f"{m('threads')} worker threads; load average at start "
          f"{m('load_start')}, at end {m('load_end')}; whole run "
          f"{m('seconds')} s")
    print("- ceilings, same run: "
          f"ES256 sign {fmt(ceil.get('sign ES256'))}/s, verify "
          f"{fmt(ceil.get('verify ES256'))}/s; Ed25519 "
          f"{fmt(ceil.get('sign EdDSA'))}/{fmt(ceil.get('verify EdDSA'))}; "
          f"SM2 {fmt(ceil.get('sign SM2'))}/{fmt(ceil.get('verify SM2'))} "
          f"(one thread); bare libmicrohttpd {fmt(mhd)} req/s "
          f"({fmt(res.get(('ceil', 'mhd'), {}).get('cpu'), 1)} µs CPU/req); "
          f"SQLite synchronous=FULL {fmt(ceil.get('insert_1'))} rows/s one per "
          f"transaction, {fmt(ceil.get('insert_100'))} rows/s 100 per "
          f"transaction; libqrencode+libpng {fmt(ceil.get('qr_png'))} "
          f"images/s (one thread)\n")

    print("| scenario | licences | req/s | p50 ms | p99 ms | server CPU µs/req "
          "| req/disk sync | written KB/req | ceiling | ceiling req/s | ratio | target "
          "| met |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|---|")
    for name, label, kind, target in SCENARIOS:
        for size in reversed(sizes):
            r = res.get((str(size), name))
            if r is None:
                continue
            if kind == "face_png":
                # a copy is a face drawn as PDF, plus its annotation and
                # signature: held against face.png at the same size
                c = res.get((str(size), "face_png"), {}).get("rps", float("nan"))
                cname = "face.png, same run"
            else:
                c, cname = ceilings[kind]
            if (str(size), name) in pair and pair[(str(size), name)][0] != "none":
                # measured right before the scenario
                pk, prate = pair[(str(size), name)]
                c = serial(mhd, prate * cores) if pk == "verify" else \
                    prate * cores if pk == "qr_png" else prate
            ratio = r["rps"] / c if c and not math.isnan(c) else float("nan")
            met = None if target is None or math.isnan(ratio) else ratio >= target
            if r["bad"]:
                label_bad = f" ({r['bad']} errors)"
                met = False
            else:
                label_bad = ""
            per_sync = fmt(r["n"] / r["syncs"], 1) if r["syncs"] else "—"
            written = fmt(r["written"] / r["n"] / 1024, 1) \
                if r["written"] >= 0 and r["n"] else "—"
            print(f"| {label}{label_bad} | {size:,} | {fmt(r['rps'])} | "
                  f"{fmt(r['p50'], 2)} | {fmt(r['p99'], 2)} | {fmt(r['cpu'], 1)} | "
                  f"{per_sync} | {written} | "
                  f"{cname} | {fmt(c)} | {fmt(ratio, 2)} | "
                  f"{'≥ ' + str(target) if target else '—'} | {yes(met)} |")

    if len(sizes) > 1:
        print(f"\n| scenario | req/s at {big:,} ÷ req/s at {small:,} | target | met |")
        print("|---|--:|--:|---|")
        for name, label, _, _ in SCENARIOS:
            # A whole-sample row is held against the same scenario on the
            # small library, whose sample is the whole library.
            a = res.get((str(big), name))
            b = res.get((str(small), name.removesuffix("_wide")))
            if a and b and b["rps"]:
                q = a["rps"] / b["rps"]
                print(f"| {label} | {q:.2f} | ≥ 0.8 | {yes(q >= 0.8)} |")

    ws = {size: meta.get((str(size), "ws"), "").split() for size in sizes}
    whole = {size: meta.get((str(size), "whole"), "").split() for size in sizes}
    if all(len(v) == 2 for v in ws.values()) and sizes:
        print("\nWorking sets (bench/README.md): at each size the load draws on " +
              "; ".join(f"{s:,}: {int(ws[s][0]):,} licences and "
                        f"{int(ws[s][1]):,} holders" for s in sizes) +
              ". \"Whole sample\" rows draw on all of the sample: " +
              "; ".join(f"{s:,}: {int(whole[s][0]):,} licences and "
                        f"{int(whole[s][1]):,} holders" for s in sizes
                        if len(whole[s]) == 2) + ".")

    print("\n| resource | measured | target | met |")
    print("|---|--:|--:|---|")
    for size in reversed(sizes):
        rss = num(meta.get((str(size), "peak_rss_kb"), "nan")) / 1024
        # Before the drawings when they ran (run.sh): the target's load.
        reads = num(meta.get((str(size), "peak_rss_reads_kb"), "nan")) / 1024
        drawn = None
        if not math.isnan(reads):
            rss, drawn = reads, rss
        dbb = num(meta.get((str(size), "db_bytes"), "nan")) / size
        st = num(meta.get((str(size), "startup_ms"), "nan"))
        seed_s = num(meta.get((str(size), "seed_seconds"), "nan"))
        big_one = size == big
        print(f"| server peak RSS, 64 connections, {size:,} licences | "
              f"{fmt(rss, 1)} MiB | < 128 MiB | {yes(rss < 128) if big_one else ''} |")
        if drawn is not None:
            print(f"| server peak RSS with the drawings too (face.png, copies: "
                  f"font files mapped), {size:,} licences | {fmt(drawn, 1)} MiB | — | |")
        print(f"| database bytes per licence, {size:,} licences | {fmt(dbb)} | "
              f"< 1,536 | {yes(dbb < 1536) if big_one else ''} |")
        print(f"| start-up to first /healthz, {size:,} licences | {fmt(st)} ms | "
              f"< 1,000 ms | {yes(st < 1000) if big_one else ''} |")
        if not math.isnan(seed_s) and seed_s > 0:
            print(f"| seeding {size:,} licences through cs_issue() | "
                  f"{fmt(seed_s, 1)} s ({fmt(size / seed_s)}/s) | — | |")
    pg_table(res, meta, pair, sizes, m)
    if failed:
        print(f"\nbench: errors or no answers in {failed}", file=sys.stderr)
    return 1 if failed else 0


sys.exit(main())
