#!/usr/bin/env python3
"""Summarise a bench/run.sh results directory: print the figures and write
summary.md there (the tables docs/performance.md records).  Standard library
only; never fails on slow figures, only on missing or broken results."""
import json
import os
import re
import statistics
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "build/bench/results"


def load(name):
    path = os.path.join(out, name)
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    return rows


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def by_label(rows):
    d = {}
    for r in rows:
        d.setdefault(r["label"], []).append(r)
    return d


def f(x, nd=1):
    return "n/a" if x is None else f"{x:,.{nd}f}"


meta = {}
with open(os.path.join(out, "meta.txt")) as fh:
    for line in fh:
        k, _, v = line.rstrip("\n").partition("=")
        meta[k] = v

TRANSPORT = {
    "direct": "stdio, client -> fixture",
    "relay": "stdio, a dumb byte relay in between (floor of any extra process)",
    "mcpguard": "stdio, --log-calls=false --quiet (security checks on, their default)",
    "mcpguard-nochecks": "the same with --block-secrets=false",
    "mcpguard-audit": "stdio, defaults: audit line per call (to a file) + stderr summary",
    "supergateway": "Streamable HTTP (stateful) -> stdio",
    "mcp-proxy": "Streamable HTTP -> stdio",
}
md = []
txt = []


def both(line=""):
    md.append(line)


def show(line=""):
    txt.append(line)


# ---- latency -----------------------------------------------------------------
lat = by_label(load("latency.jsonl"))
direct = lat.get("direct", [])
order = [k for k in ["direct", "relay", "mcpguard", "mcpguard-nochecks", "mcpguard-audit",
                     "supergateway", "mcp-proxy"] if k in lat]
d50 = med([r["p50_us"] for r in direct])
g50 = med([r["p50_us"] for r in lat.get("mcpguard", [])])
added = {}
for k in order:
    rows = lat[k]
    p50 = med([r["p50_us"] for r in rows])
    added[k] = p50 - d50 if p50 is not None and d50 is not None else None

if lat:
    show("Single session, tools/call echo (16-byte message), client + path + server pinned to one core")
    show(f"{'path':<16}{'p50 us':>10}{'p90 us':>10}{'p99 us':>10}{'mean us':>10}"
         f"{'added p50':>11}{'x direct':>10}{'x mcpguard':>12}{'calls/s':>10}{'RSS MiB':>9}")
    both("| path | transport | p50 µs | p90 µs | p99 µs | mean µs | added p50 µs | × direct | × mcpguard | rounds × calls | peak RSS of the middle process |")
    both("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k in order:
        rows = lat[k]
        p50 = med([r["p50_us"] for r in rows])
        p90 = med([r["p90_us"] for r in rows])
        p99 = med([r["p99_us"] for r in rows])
        mean = med([r["mean_us"] for r in rows])
        cps = med([r["calls_per_s"] for r in rows])
        rss = med([r.get("child_peak_rss_kb") for r in rows])
        xd = p50 / d50 if d50 else None
        xg = p50 / g50 if g50 else None
        rss_s = f"{rss / 1024:.1f} MiB" if rss and k != "direct" else "–"
        show(f"{k:<16}{f(p50):>10}{f(p90):>10}{f(p99):>10}{f(mean):>10}"
             f"{(f(added[k]) if k != 'direct' else '-'):>11}{f(xd, 2):>10}{f(xg, 2):>12}"
             f"{f(cps, 0):>10}{(f(rss / 1024) if rss else '-'):>9}")
        both(f"| {k} | {TRANSPORT.get(k, '')} | {f(p50)} | {f(p90)} | {f(p99)} | {f(mean)} | "
             f"{f(added[k]) if k != 'direct' else '–'} | {f(xd, 2)} | {f(xg, 2)} | "
             f"{len(rows)} × {rows[0]['calls']} | {rss_s} |")
    if "mcpguard" in added:
        a = added["mcpguard"]
        verdict = "met" if a is not None and a <= 50 else "NOT met"
        show(f"mcpguard added p50: {f(a)} us (target <= 50 us: {verdict}); "
             f"with default audit logging: {f(added.get('mcpguard-audit'))} us")
        both()
        both(f"mcpguard adds **{f(a)} µs** at p50 over the direct connection "
             f"(target ≤ 50 µs: {verdict}); with the default audit logging "
             f"{f(added.get('mcpguard-audit'))} µs. A process that only copies bytes adds "
             f"{f(added.get('relay'))} µs.")
    show()

# ---- a TypeScript SDK server -----------------------------------------------------
ev = by_label(load("everything.jsonl"))
if ev.get("direct") and ev.get("mcpguard"):
    show(f"Single session against @modelcontextprotocol/server-everything "
         f"{meta.get('version.everything', '')} (echo), pinned")
    both()
    both(f"| server-everything {meta.get('version.everything', '')} echo | p50 µs | p90 µs | "
         "p99 µs | mean µs | added p50 µs | × direct | rounds × calls |")
    both("|---|---:|---:|---:|---:|---:|---:|---:|")
    e50 = med([r["p50_us"] for r in ev["direct"]])
    for k in ["direct", "mcpguard"]:
        rows = ev[k]
        p50, p90, p99, mean = (med([r[x] for r in rows]) for x in ("p50_us", "p90_us", "p99_us", "mean_us"))
        ad = p50 - e50 if k != "direct" else None
        show(f"{k:<16}{f(p50):>10}{f(p90):>10}{f(p99):>10}{f(mean):>10}"
             f"{(f(ad) if ad is not None else '-'):>11}{f(p50 / e50, 2):>10}")
        both(f"| {k} | {f(p50)} | {f(p90)} | {f(p99)} | {f(mean)} | "
             f"{f(ad) if ad is not None else '–'} | {f(p50 / e50, 2)} | {len(rows)} × {rows[0]['calls']} |")
    show()

# ---- sizes ---------------------------------------------------------------------
sizes = load("sizes.jsonl")
if sizes:
    show("Message size (pinned, one session): p50 us")
    show(f"{'bytes':>10}{'direct':>12}{'mcpguard':>12}{'added':>12}{'x direct':>10}")
    both()
    both("| message bytes | direct p50 µs | mcpguard p50 µs | added µs | × direct | calls |")
    both("|---:|---:|---:|---:|---:|---:|")
    for size in sorted({r["message_size"] for r in sizes}):
        d = [r for r in sizes if r["message_size"] == size and r["label"] == "direct"]
        g = [r for r in sizes if r["message_size"] == size and r["label"] == "mcpguard"]
        if not d or not g:
            continue
        dp, gp = d[0]["p50_us"], g[0]["p50_us"]
        show(f"{size:>10}{f(dp):>12}{f(gp):>12}{f(gp - dp):>12}{f(gp / dp, 2):>10}")
        both(f"| {size:,} | {f(dp)} | {f(gp)} | {f(gp - dp)} | {f(gp / dp, 2)} | {g[0]['calls']} |")
    show()

# ---- throughput ------------------------------------------------------------------
tp = by_label(load("throughput.jsonl"))
if tp:
    def totals_by_round(rows):
        t = {}
        for r in rows:
            t[r.get("round", 0)] = t.get(r.get("round", 0), 0) + r["calls_per_s"]
        return t

    tot = {k: med(list(totals_by_round(rows).values())) for k, rows in tp.items()}
    dt, gt = tot.get("direct"), tot.get("mcpguard")
    show("Throughput, concurrent sessions (each its own chain), both cores: median total over rounds")
    show(f"{'path':<16}{'sessions':>9}{'calls/s':>11}{'x direct':>10}{'x mcpguard':>12}"
         f"{'p50 us':>10}  {'rounds (calls/s)':<24}per session min-max")
    both()
    both("| path | sessions | calls/s (sum, median of rounds) | × direct | × mcpguard | "
         "median per-session p50 µs | each round's total | slowest–fastest session |")
    both("|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in [k for k in ["direct", "mcpguard", "mcpguard-audit", "supergateway", "mcp-proxy"] if k in tp]:
        rows = tp[k]
        rounds = totals_by_round(rows)
        n = len(rows) // max(len(rounds), 1)
        p50 = med([r["p50_us"] for r in rows])
        per = [r["calls_per_s"] for r in rows]
        rs = " / ".join(f"{v:,.0f}" for _, v in sorted(rounds.items()))
        show(f"{k:<16}{n:>9}{f(tot[k], 0):>11}{f(tot[k] / dt if dt else None, 2):>10}"
             f"{f(tot[k] / gt if gt else None, 2):>12}{f(p50):>10}  {rs:<24} {min(per):,.0f}-{max(per):,.0f}")
        both(f"| {k} | {n} | {f(tot[k], 0)} | {f(tot[k] / dt if dt else None, 2)} | "
             f"{f(tot[k] / gt if gt else None, 2)} | {f(p50)} | {rs} | {min(per):,.0f}–{max(per):,.0f} |")
    show()

# ---- start-up --------------------------------------------------------------------
st = by_label(load("startup.jsonl"))
if st:
    show("Start-up (pinned): spawn -> initialize answer, then the first echo call (median ms)")
    both()
    both("| start | initialize answered after (median ms) | first echo call after that (median ms) | starts |")
    both("|---|---:|---:|---:|")
    names = {"direct": "fixture alone (direct)",
             "cold": "mcpguard --no-cache (cold: starts the server, lists it, then answers)",
             "warm": "mcpguard with a filled cache (answers from it; server starts on first call)"}
    for k in ["direct", "cold", "warm"]:
        rows = st.get(k, [])
        if not rows:
            continue
        i, c = med([r["init_ms"] for r in rows]), med([r["first_call_ms"] for r in rows])
        show(f"  {k:<8} initialize {f(i, 2):>8} ms   first call {f(c, 2):>8} ms   ({len(rows)} starts)")
        both(f"| {names[k]} | {f(i, 2)} | {f(c, 2)} | {len(rows)} |")
    for k in ["supergateway", "mcp-proxy"]:
        rows = lat.get(k, [])
        if rows:
            i, c = med([r["init_ms"] for r in rows]), med([r["first_call_ms"] for r in rows])
            show(f"  {k:<8} initialize {f(i, 2):>8} ms   first call {f(c, 2):>8} ms   "
                 f"({len(rows)} starts, from the latency runs)")
            both(f"| {k} (from its latency runs; includes connecting over HTTP) | {f(i, 2)} | {f(c, 2)} | {len(rows)} |")
    show()

# ---- sandbox (bench/sandbox.sh) ---------------------------------------------------
SBX = {
    "host": ("floor", "fork+exec of /bin/true on the host (posix_spawn + waitpid)"),
    "host-vfork": ("floor", "vfork + _exit + waitpid on the host: process creation alone"),
    "host-vfork-exec": ("floor", "vfork, stdio, execve /bin/true, waitpid: how init starts a "
                        "process, without hardening"),
    "host-prespawned": ("floor", "/bin/true exec'd by a process made ahead of time (clone "
                        "CLONE_VM, stdio placed, waiting on a pipe): wake-up, exec, exit"),
    "host-prefork": ("floor", "the same with an own address space (fork): its exec tears the "
                     "copy down"),
    "mcpguard": ("create", "sbx_spawn: 7 namespaces, own uid range, private root, curated /etc, "
                 "/dev, masked /proc, caps dropped, uid 1000, no_new_privs, rlimits, seccomp; "
                 "until /bin/true exited"),
    "mcpguard-cgroups": ("create", "the same plus memory, pids and cpu cgroup limits"),
    "bwrap": ("create", "bwrap, same namespaces, ro /usr, /proc, /dev, tmpfs /tmp and /workspace, "
              "--cap-drop ALL, uid 1000, mcpguard's seccomp programs"),
    "unshare": ("create", "unshare --user --map-root-user --pid --fork --net --ipc --uts --mount "
                "(namespaces only)"),
    "mcpguard-exec": ("exec", "sbx_exec into a running sandbox, the payload's full hardening, "
                      "until exited"),
    "mcpguard-exec-noent": ("exec", "sbx_exec of a missing program: round trip to init, vfork, "
                            "full hardening under seccomp, failing execve, report"),
    "nsenter-unshare": ("exec", "nsenter -U -m -p -n -i -u into a running unshare sandbox "
                        "(no hardening)"),
    "nsenter-bwrap": ("exec", "nsenter -U -m -p -n -i -u -r -w into a running bwrap sandbox "
                      "(no hardening)"),
}
sbx = {r["label"]: r for r in load("sandbox.jsonl")}
if sbx:
    smeta = {}
    sm = os.path.join(out, "sandbox-meta.txt")
    if os.path.exists(sm):
        with open(sm) as fh:
            for line in fh:
                k, _, v = line.rstrip("\n").partition("=")
                smeta[k] = v
    b50 = sbx["bwrap"]["p50_ms"] if "bwrap" in sbx else None
    h50 = sbx["host"]["p50_ms"] if "host" in sbx else None
    show("Sandbox: creation (until the first /bin/true exited) and exec in a running sandbox, "
         "interleaved, unpinned (ms)")
    show(f"{'variant':<21}{'group':<8}{'n':>5}{'p50':>9}{'p90':>9}{'p99':>9}{'min':>9}"
         f"{'x bwrap':>9}{'x host':>8}")
    both()
    both(f"Sandbox ({smeta.get('sbx.bwrap', 'bwrap ?')}, {smeta.get('sbx.util_linux', '')}; "
         f"{smeta.get('sbx.settings', '')}; {smeta.get('sbx.busy', '')}):")
    both()
    both("| variant | what | n | p50 ms | p90 ms | p99 ms | min ms | × bwrap p50 | × host p50 |")
    both("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in [k for k in SBX if k in sbx]:
        r = sbx[k]
        xb = r["p50_ms"] / b50 if b50 else None
        xh = r["p50_ms"] / h50 if h50 else None
        show(f"{k:<21}{SBX[k][0]:<8}{r['n']:>5}{f(r['p50_ms'], 2):>9}{f(r['p90_ms'], 2):>9}"
             f"{f(r['p99_ms'], 2):>9}{f(r['min_ms'], 2):>9}{f(xb, 2):>9}{f(xh, 2):>8}")
        name = f"**{k}**" if k.startswith("mcpguard") else k
        both(f"| {name} | {SBX[k][1]} | {r['n']} | {f(r['p50_ms'], 2)} | {f(r['p90_ms'], 2)} | "
             f"{f(r['p99_ms'], 2)} | {f(r['min_ms'], 2)} | {f(xb, 2)} | {f(xh, 2)} |")
    if "mcpguard" in sbx and b50:
        c50 = sbx["mcpguard"]["p50_ms"]
        e50 = sbx.get("mcpguard-exec", {}).get("p50_ms")
        show(f"mcpguard creation p50 {f(c50, 2)} ms vs bwrap {f(b50, 2)} ms "
             f"(target: at or below bwrap: {'met' if c50 <= b50 else 'NOT met'}); "
             f"exec p50 {f(e50, 2)} ms (target < 1.5 ms: "
             f"{'met' if e50 is not None and e50 < 1.5 else 'NOT met'}; the host's own fork+exec "
             f"{f(h50, 2)} ms, so {f(e50 - h50 if e50 is not None and h50 else None, 2)} ms added)")
        if "host-vfork-exec" in sbx and "host-prespawned" in sbx:
            v50 = sbx["host-vfork-exec"]["p50_ms"]
            z50 = sbx["host-prespawned"]["p50_ms"]
            show(f"process made ahead of time (host-prespawned) {f(z50, 2)} ms vs vfork at the "
                 f"request (host-vfork-exec) {f(v50, 2)} ms: {f(z50 - v50, 2)} ms")
    show()

# ---- callgrind ---------------------------------------------------------------------


def totals(path):
    try:
        with open(path) as fh:
            for line in fh:
                m = re.match(r"(?:totals|summary):\s+(\d+)", line)
                if m:
                    return int(m.group(1))
    except OSError:
        return None
    return None


cg = {}
for who in ["mcpguard", "mcpguard-nochecks", "fixture"]:
    a = totals(os.path.join(out, f"callgrind.{who}.1000"))
    b = totals(os.path.join(out, f"callgrind.{who}.2000"))
    if a and b:
        cg[who] = ((b - a) / 1000, a, b)
if cg:
    show("Instructions per echo round trip (callgrind, (I(2000 calls) - I(1000 calls)) / 1000)")
    both()
    both("| process | instructions per echo round trip | total, 1000 calls | total, 2000 calls |")
    both("|---|---:|---:|---:|")
    for who, (per, a, b) in cg.items():
        show(f"  {who:<9} {per:>10,.0f} instructions/call   (totals {a:,} / {b:,})")
        both(f"| {who} | **{per:,.0f}** | {a:,} | {b:,} |")
    if "mcpguard" in cg and "mcpguard-nochecks" in cg:
        d = cg["mcpguard"][0] - cg["mcpguard-nochecks"][0]
        show(f"  the default security checks cost {d:,.0f} instructions per echo round trip")
        both()
        both(f"The default security checks (the secrets check on every message) cost **{d:,.0f}** "
             f"instructions per echo round trip.")
    selfp = os.path.join(out, "callgrind-self.txt")
    if os.path.exists(selfp):
        rows = []
        with open(selfp) as fh:
            for line in fh:
                m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)", line)
                if m and "PROGRAM TOTALS" not in line:
                    rows.append((m.group(2), m.group(3)))
        if rows:
            show("  top self cost in the gateway (2000-call run):")
            for pct, fn in rows[:8]:
                show(f"    {pct:>6}%  {fn[:110]}")
    show()

leakp = os.path.join(out, "leak.txt")
if os.path.exists(leakp):
    show("Secrets scanner alone (bench/leak_bench, one core, the tests' npm packages as text):")
    with open(leakp) as fh:
        for line in fh:
            show("  " + line.rstrip())
            both("    " + line.rstrip())
    show()

if "node" in meta:
    show(f"{meta.get('date', '')}  {meta.get('cpu', '')}, {meta.get('cores', '')} cores, "
         f"{meta.get('kernel', '')}; {meta.get('mcpguard', '')} git {meta.get('git', '')}; "
         f"node {meta.get('node', '')}; peers: "
         + ", ".join(f"{p} {meta.get('version.' + p, '')}" for p in meta.get("peers", "").split() if p)
         + f"; {meta.get('settings', '')}; took {meta.get('elapsed_s', '?')} s; "
         + meta.get("busy", ""))
else:   # bench/sandbox.sh on its own
    show(f"{meta.get('date', '')}  {meta.get('cpu', '')}, {meta.get('cores', '')} cores, "
         f"{meta.get('kernel', '')}; git {meta.get('git', '')}")
show(f"results: {out}/ (summary.md, *.jsonl, callgrind.*)")

head = [f"Run {meta.get('date', '')} on {meta.get('cpu', '')} ({meta.get('cores', '')} cores), "
        f"{meta.get('kernel', '')}; git {meta.get('git', '')}.", ""] if "node" not in meta else \
       [f"Run {meta.get('date', '')} on {meta.get('cpu', '')} ({meta.get('cores', '')} cores), "
        f"{meta.get('kernel', '')}; {meta.get('mcpguard', '')}, git {meta.get('git', '')}; "
        f"node {meta.get('node', '')}; {meta.get('valgrind', '')}; "
        + "peers: " + (", ".join(f"{p} {meta.get('version.' + p, '')}"
                                for p in meta.get("peers", "").split() if p) or "none")
        + f". Settings: {meta.get('settings', '')}. The run took {meta.get('elapsed_s', '?')} s; "
        + meta.get("busy", "") + ".", ""]
with open(os.path.join(out, "summary.md"), "w") as fh:
    fh.write("\n".join(head + md) + "\n")
print("\n".join(txt))
