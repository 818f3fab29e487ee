#!/usr/bin/env python3
"""Numbers of bench/run.sh: pgbench summaries and the results table.

  report.py pgbench-summary --scenario S --clients N --output FILE
            --log-prefix PREFIX
      Reads one pgbench run (its stdout and the per-transaction logs
      PREFIX.*) and prints one JSON line: tps, counts,
      latency percentiles (nearest rank over every transaction, as
      microblog-bench computes them), per-script breakdown for the mix.

  report.py table --raw DIR --out-dir DIR [--readme FILE]
            [--readme-section results|pooler]
      Joins the raw JSON lines run.sh collected in DIR into the results
      table (and, after `run.sh --pooler`, the direct / PgBouncer x prepared
      statements on / off table); writes <date>-<commit>.md/.json and
      latest.md/.json to --out-dir, prints the markdown, and replaces the
      part of --readme between "<!-- SECTION:begin -->" and
      "<!-- SECTION:end -->" with it (SECTION: results by default).

Standard library only (Debian's python3).
"""
import argparse
import glob
import json
import math
import os
import re
import sys

# Targets of issue #12 (at the deployed configuration), at the highest
# in-flight count: reads >= 0.5x pgbench with p99 <= 2x pgbench's,
# CreatePost >= 0.8x, LookupUser >= 0.4x.
READ_TARGETS = {"GetPost", "GetUser", "ListPosts"}
READ_MIN_RATIO = 0.5
READ_MAX_P99_RATIO = 2.0
MIN_RATIO = {"CreatePost": 0.8, "LookupUser": 0.4}
ARGON2_SCENARIOS = {"CreateUser", "VerifyPassword"}


def percentile(sorted_values, q):
    """Nearest rank: the smallest value with at least q of all values <= it."""
    if not sorted_values:
        return 0.0
    rank = min(max(math.ceil(q * len(sorted_values)), 1), len(sorted_values))
    return sorted_values[rank - 1]


def latency_summary(micros):
    micros.sort()
    if not micros:
        return {k: 0.0 for k in ("mean", "p50", "p90", "p99", "p999", "max")}
    ms = lambda us: round(us / 1000.0, 4)
    return {
        "mean": ms(sum(micros) / len(micros)),
        "p50": ms(percentile(micros, 0.50)),
        "p90": ms(percentile(micros, 0.90)),
        "p99": ms(percentile(micros, 0.99)),
        "p999": ms(percentile(micros, 0.999)),
        "max": ms(micros[-1]),
    }


def pgbench_summary(args):
    text = open(args.output).read()

    def number(pattern, default=0.0):
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else default

    tps = number(r"^tps = ([\d.]+) \(without initial connection time\)")
    processed = int(number(r"^number of transactions actually processed: (\d+)"))
    failed = int(number(r"^number of failed transactions: (\d+)"))
    duration = number(r"^duration: (\d+) s")
    scripts = re.findall(r"^SQL script \d+: (\S+)", text, re.M)
    names = [os.path.splitext(os.path.basename(s))[0] for s in scripts] or [args.scenario]

    # Per-transaction log: client_id transaction_no time script_no time_epoch time_us
    # (time in microseconds, or "failed"/"skipped").
    all_micros, per_script, not_ok = [], {}, 0
    for path in glob.glob(glob.escape(args.log_prefix) + ".*"):
        with open(path) as log:
            for line in log:
                fields = line.split()
                if len(fields) < 4:
                    continue
                if not fields[2].isdigit():
                    not_ok += 1
                    continue
                us = int(fields[2])
                all_micros.append(us)
                per_script.setdefault(int(fields[3]), []).append(us)

    row = {
        "scenario": args.scenario,
        "clients": args.clients,
        "tps": tps,
        "transactions": processed,
        "failed": failed + not_ok,
        "seconds": duration,
        "latency_ms": latency_summary(all_micros),
        "scripts": {
            (names[i] if i < len(names) else str(i)): {
                "transactions": len(v),
                "latency_ms": latency_summary(v),
            }
            for i, v in sorted(per_script.items())
        },
    }
    print(json.dumps(row))


def ab_table(experiments, rows, resources):
    """The A/B runs (run.sh's experiments): each setting's mean over its
    rounds against the control's ("deployed", restarted the same way, in the
    same rounds); older runs without a control compare with the main run."""
    others = {r["label"]: r.get("cpu_cores", {}).get("others", 0) for r in resources if r.get("label")}
    groups = {}
    for e in experiments:
        groups.setdefault((e.get("experiment", "?"), e["scenario"], e["in_flight"]), []).append(e)
    main = {(r["scenario"], r["in_flight"]): [r["service"]] for r in rows}
    def control(scenario, n):
        return groups.get(("deployed", scenario, n)) or main.get((scenario, n), [])
    def mean(values):
        return sum(values) / len(values) if values else 0
    md = ["A/B: services restarted with one setting changed, same data and load, alternated in "
          "rounds; each setting's mean against the deployed configuration's (the control, "
          "restarted the same way in the same rounds):", "",
          "| Setting | Scenario | in flight | calls/s per round | mean | vs deployed | "
          "p99 ms (mean) | deployed p99 ms | others (cores, max) |",
          "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for (setting, scenario, n), runs in groups.items():
        base = control(scenario, n)
        calls = [r["calls_per_second"] for r in runs]
        worst = max(others.get(f"_{setting}_{r.get('round', '')}", 0) for r in runs)
        md.append(f"| {setting} | {scenario} | {n} | "
                  f"{', '.join(fmt(c) for c in calls)} | {fmt(mean(calls))} | "
                  f"{ratio(mean(calls), mean([b['calls_per_second'] for b in base])):.3f}× | "
                  f"{mean([r['latency_ms']['p99'] for r in runs]):.2f} | "
                  f"{mean([b['latency_ms']['p99'] for b in base]):.2f} | {worst:.2f} |")
    md.append("")
    return md


POOLER_CELLS = [("direct", "on"), ("direct", "off"), ("pgbouncer", "on"), ("pgbouncer", "off")]


def pooler_table(runs, resources):
    """run.sh --pooler: each scenario in the four cells (direct or through
    PgBouncer, prepared statements on or off), each cell's mean over its
    rounds, against direct + on (the deployed configuration without a
    pooler). Failed calls are counted, not hidden: PgBouncer + on is the
    combination that breaks."""
    others = {(r["scenario"], r["label"]): r.get("cpu_cores", {}).get("others", 0)
              for r in resources if r.get("label")}
    groups = {}
    for r in runs:
        groups.setdefault((r["scenario"], r["in_flight"], r.get("path"), r.get("prepared_statements")),
                          []).append(r)
    mean = lambda values: sum(values) / len(values) if values else 0
    md = ["Direct vs through PgBouncer (transaction pooling), DB_PREPARED_STATEMENTS on vs off: "
          "services restarted for each cell, alternated in rounds; each cell's mean against "
          "direct + on. Calls that failed count in *failed* and not in calls/s.", "",
          "| Scenario | in flight | path | prepared | calls/s per round | mean | vs direct+on | "
          "p50 ms | p99 ms | failed (of all) | status codes | others (cores, max) |",
          "|---|---:|---|---|---|---:|---:|---:|---:|---:|---|---:|"]
    scenarios = []
    for r in runs:
        if (r["scenario"], r["in_flight"]) not in scenarios:
            scenarios.append((r["scenario"], r["in_flight"]))
    for scenario, n in scenarios:
        base = groups.get((scenario, n, "direct", "on"), [])
        for path, prepared in POOLER_CELLS:
            cell = groups.get((scenario, n, path, prepared), [])
            if not cell:
                continue
            calls = [c["calls_per_second"] for c in cell]
            counts = {}
            for c in cell:
                for code, count in c.get("status_counts", {}).items():
                    counts[code] = counts.get(code, 0) + count
            total = sum(counts.values())
            failed = total - counts.get("OK", 0)
            worst = max(others.get((scenario, f"_{path}_{prepared}_{c.get('round', '')}"), 0)
                        for c in cell)
            md.append(f"| {scenario} | {n} | {path} | {prepared} | "
                      f"{', '.join(fmt(c) for c in calls)} | {fmt(mean(calls))} | "
                      f"{ratio(mean(calls), mean([b['calls_per_second'] for b in base])):.3f}× | "
                      f"{mean([c['latency_ms']['p50'] for c in cell]):.2f} | "
                      f"{mean([c['latency_ms']['p99'] for c in cell]):.2f} | "
                      f"{failed} ({total}) | {status_text(counts)} | {worst:.2f} |")
    md.append("")
    return md


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt(value, digits=1):
    return f"{value:,.{digits}f}"


def ratio(a, b):
    return a / b if b else 0.0


def target_verdict(scenario, n, top_n, ratio_tps, ratio_p99):
    if n != top_n:
        return ""
    if scenario in READ_TARGETS:
        ok = ratio_tps >= READ_MIN_RATIO and ratio_p99 <= READ_MAX_P99_RATIO
        return (f"{'met' if ok else 'MISSED'} (≥ {READ_MIN_RATIO}×, "
                f"p99 ≤ {READ_MAX_P99_RATIO:g}×)")
    if scenario in MIN_RATIO:
        ok = ratio_tps >= MIN_RATIO[scenario]
        return f"{'met' if ok else 'MISSED'} (≥ {MIN_RATIO[scenario]}×)"
    return ""


def status_text(counts):
    return " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "(none)"


def build_table(raw):
    meta = json.load(open(os.path.join(raw, "meta.json")))
    services = read_jsonl(os.path.join(raw, "service.jsonl"))
    pgbench = {(r["scenario"], r["clients"]): r for r in read_jsonl(os.path.join(raw, "pgbench.jsonl"))}
    resources = {(r["scenario"], r["in_flight"]): r
                 for r in read_jsonl(os.path.join(raw, "resources.jsonl")) if not r.get("label")}
    experiments = read_jsonl(os.path.join(raw, "experiments.jsonl"))
    pooler = read_jsonl(os.path.join(raw, "pooler.jsonl"))
    idle = json.load(open(os.path.join(raw, "idle.json")))
    pwhash = {p.get("label", "start"): p for p in read_jsonl(os.path.join(raw, "pwhash.jsonl"))}
    top_n = max((s["in_flight"] for s in services), default=0)

    rows = []
    for s in services:
        key = (s["scenario"], s["in_flight"])
        p = pgbench.get(key, {})
        res = resources.get(key, {})
        r_tps = ratio(s["calls_per_second"], p.get("tps", 0))
        r_p99 = ratio(s["latency_ms"]["p99"], p.get("latency_ms", {}).get("p99", 0))
        rows.append({
            "scenario": s["scenario"],
            "in_flight": s["in_flight"],
            "service": s,
            "pgbench": p,
            "resources": res,
            "ratio_throughput": round(r_tps, 3),
            "ratio_p99": round(r_p99, 3),
            "target": target_verdict(s["scenario"], s["in_flight"], top_n, r_tps, r_p99),
        })

    md = []
    md.append(f"Run of {meta['date']} on commit `{meta['commit']}`: {meta['nproc']} cores "
              f"({meta['cpu']}), load average {meta['load_before']} before, "
              f"{meta['load_after']} after. {meta['postgres']}, {meta['postgres_settings']}. "
              f"{meta['users']:,} users, {meta['posts']:,} posts; {meta['warmup_s']} s warm-up, "
              f"{meta['duration_s']} s measured per run; microblog-bench over "
              f"{meta['channels']} channels per service"
              + (". " if meta.get("pooler") else
                 f"; pgbench -M prepared -j {meta['pgbench_threads']} with as many clients as "
                 f"calls in flight. ") + "Services: "
              + (f"as deploy/k8s/base configures them (metrics on, loopback addresses): "
                 f"user-service `{meta['user_config']}`, post-service `{meta['post_config']}`; "
                 if 'user_config' in meta else "") +
              f"DB_POOL_SIZE={meta['db_pool_size']}, PASSWORD_HASH_THREADS="
              f"{meta['password_hash_threads']}, LOG_LEVEL={meta['log_level']}. "
              f"Load generator, services, PostgreSQL and pgbench share the same cores."
              + (f" PgBouncer: {meta.get('pgbouncer', '?')}, pool_mode=transaction, "
                 f"default_pool_size={meta.get('pooler_pool_size', '?')} per database and role."
                 if meta.get("pooler") else "")
              + (" **Quick run: not a measurement.**" if meta.get("quick") else ""))
    md.append("")
    if pooler:
        md.extend(pooler_table(pooler, read_jsonl(os.path.join(raw, "resources.jsonl"))))
    if not rows:  # a --pooler run: no scenario table, no pgbench
        data = {"meta": meta, "pooler": pooler, "idle": idle}
        return "\n".join(md), data
    md.append("| Scenario | in flight | service calls/s | pgbench tx/s | ratio | "
              "p50 ms svc / pgb | p99 ms svc / pgb | p99 ratio | p99.9 ms svc / pgb | "
              "status codes | target |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        s, p = r["service"], r["pgbench"]
        pl = p.get("latency_ms", {})
        md.append(
            f"| {r['scenario']} | {r['in_flight']} | {fmt(s['calls_per_second'])} | "
            f"{fmt(p.get('tps', 0))} | {r['ratio_throughput']:.2f} | "
            f"{s['latency_ms']['p50']:.2f} / {pl.get('p50', 0):.2f} | "
            f"{s['latency_ms']['p99']:.2f} / {pl.get('p99', 0):.2f} | {r['ratio_p99']:.2f} | "
            f"{s['latency_ms']['p999']:.2f} / {pl.get('p999', 0):.2f} | "
            f"{status_text(s['status_counts'])}; pgbench failed={p.get('failed', 0)} | "
            f"{r['target']} |")
    md.append("")
    md.append("For CreateUser and VerifyPassword pgbench runs only their SQL; their ceiling is "
              "Argon2id (one `crypto_pwhash_str` / `_verify` per call, 64 MiB, 2 passes), "
              "measured by `microblog-bench pwhash` right before the scenario:")
    md.append("")
    md.append("| Scenario | in flight | service calls/s | libsodium hashes/s | ratio |")
    md.append("|---|---:|---:|---:|---:|")
    for r in rows:
        if r["scenario"] in ARGON2_SCENARIOS:
            # The libsodium measurement taken right before this scenario.
            ph = pwhash.get(r["scenario"], pwhash.get("start", {}))
            hps = ph.get("hashes_per_second", 0)
            cps = r["service"]["calls_per_second"]
            md.append(f"| {r['scenario']} | {r['in_flight']} | {fmt(cps)} | {fmt(hps)} "
                      f"({ph.get('threads', '?')} threads) | {ratio(cps, hps):.2f} |")
    md.append("")
    md.append("Where the CPU went, in cores busy over the measured time (2 = the whole "
              "machine). *others* is the machine's busy time minus all of ours (load "
              "generator or pgbench, services, every PostgreSQL process): other work on "
              "the shared machine, i.e. the noise of that run.")
    md.append("")
    md.append("| Scenario | in flight | generator | user-service | post-service | postgres | "
              "**others** | pgbench client | postgres (pgbench) | **others** (pgbench) |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        c = r["resources"].get("cpu_cores", {})
        pc = r["pgbench"].get("cpu_cores", {})
        # An empty dict: the window could not be measured (the run ended early).
        g = lambda d, k: f"{d.get(k, 0):.2f}" if d else "?"
        md.append(f"| {r['scenario']} | {r['in_flight']} | {g(c, 'generator')} | "
                  f"{g(c, 'user-service')} | {g(c, 'post-service')} | {g(c, 'postgres')} | "
                  f"{g(c, 'others')} | {g(pc, 'pgbench')} | {g(pc, 'postgres')} | "
                  f"{g(pc, 'others')} |")
    md.append("")
    loaded = [r["resources"] for r in rows if r["in_flight"] == top_n and r["resources"]]
    mb = lambda kb: f"{kb / 1024:.1f} MiB"
    if loaded:
        md.append(f"Memory (VmRSS idle after start-up; largest VmRSS sampled halfway through the "
                  f"{top_n}-in-flight runs; VmHWM at the end):")
        md.append("")
        md.append("| Service | idle RSS | RSS under load | peak (VmHWM) |")
        md.append("|---|---:|---:|---:|")
        for name, key in (("user-service", "user"), ("post-service", "post")):
            md.append(f"| {name} | {mb(idle[key + '_rss_kb'])} | "
                      f"{mb(max(r[key + '_rss_kb'] for r in loaded))} | "
                      f"{mb(max(r[key + '_hwm_kb'] for r in loaded))} |")
        md.append("")
    if experiments:
        md.extend(ab_table(experiments, rows,
                           read_jsonl(os.path.join(raw, "resources.jsonl"))))
    data = {"meta": meta, "rows": rows, "pwhash": pwhash, "idle": idle,
            "experiments": experiments, "pooler": pooler}
    return "\n".join(md), data


def table(args):
    markdown, data = build_table(args.raw)
    meta = data["meta"]
    stamp = meta["date"].replace(":", "").replace("-", "")
    base = os.path.join(args.out_dir, f"{stamp}-{meta['commit']}")
    document = "# microblog benchmark\n\n" + markdown + "\n"
    for path in (base + ".md", os.path.join(args.out_dir, "latest.md")):
        open(path, "w").write(document)
    for path in (base + ".json", os.path.join(args.out_dir, "latest.json")):
        json.dump(data, open(path, "w"), indent=1)
    if args.readme:
        readme = open(args.readme).read()
        section = args.readme_section
        begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
        if begin in readme and end in readme:
            head, rest = readme.split(begin, 1)
            _, tail = rest.split(end, 1)
            open(args.readme, "w").write(head + begin + "\n" + markdown + "\n" + end + tail)
    print(markdown)
    print(f"\nwritten: {base}.md, {base}.json", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pgbench-summary")
    p.add_argument("--scenario", required=True)
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--log-prefix", required=True)
    t = sub.add_parser("table")
    t.add_argument("--raw", required=True)
    t.add_argument("--out-dir", required=True)
    t.add_argument("--readme")
    t.add_argument("--readme-section", default="results", choices=["results", "pooler"])
    args = parser.parse_args()
    {"pgbench-summary": pgbench_summary, "table": table}[args.command](args)


if __name__ == "__main__":
    main()
