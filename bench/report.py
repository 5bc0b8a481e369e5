"""The benchmark's report: a Markdown table of every figure with the ratios
and targets, and a gnuplot chart of throughput and of latency at each rate."""

import subprocess
import tempfile
from pathlib import Path

MEMCACHED_ITEM_OVERHEAD = 56    # the yardstick: memcached's per-item bytes


def _cells(data, workload, server=None, protocol=None, threads=None):
    return [c for c in data["closed_loop"] if c["workload"] == workload
            and (server is None or c["server"] == server)
            and (protocol is None or c["protocol"] == protocol)
            and (threads is None or c["threads"] == threads)]


def _rate(data, workload, server, protocol="udp", threads=None):
    cells = _cells(data, workload, server, protocol, threads)
    return cells[0]["result"]["requests_per_s"] if cells else None


def _ratio(a, b):
    return a / b if a is not None and b else None


def _fmt(x, digits=2):
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _cost(data, program, mode, workload="W1"):
    for c in data["xdp_cost"]:
        if c["program"] == program and c["mode"] == mode and c.get("workload", "W1") == workload:
            return c["ns_per_run"]
    return None


def _xdp_share(data, workload, mode):
    for c in data["closed_loop"]:
        if c["workload"] == workload and c["server"] == f"xdpcached fast path {mode}":
            return c["result"].get("fastpath", {}).get("xdp_share")
    return None


def _w3_best(data, server, threads=None):
    rates = [s["best_rate"] for s in data["open_loop"]
             if s["server"] == server and (threads is None or s["threads"] == threads)]
    return max(rates) if rates else None


# -- targets --------------------------------------------------------------------

def targets(data):
    """(what, measured, target, met) rows."""
    rows = []

    def add(what, value, target, ok):
        rows.append((what, _fmt(value), target, "n/a" if value is None else ("yes" if ok(value) else "NO")))

    for mode in ("native", "generic"):
        add(f"W1 fast path ({mode}) / ceiling ({mode}), req/s",
            _ratio(_rate(data, "W1", f"xdpcached fast path {mode}"), _rate(data, "W1", f"ceiling {mode}")),
            ">= 0.90", lambda v: v >= 0.90)
    for mode in ("native", "generic"):
        add(f"XDP cost per request, xdpcached / ceiling ({mode}), ns per run",
            _ratio(_cost(data, "xdpcached", mode), _cost(data, "ceiling", mode)),
            "<= 2.00", lambda v: v <= 2.0)
        add(f"XDP cost per request, W2 (1,000,000 keys) / ceiling on W1 ({mode}), ns per run",
            _ratio(_cost(data, "xdpcached", mode, "W2"), _cost(data, "ceiling", mode)),
            "<= 3.00", lambda v: v <= 3.0)
        add(f"W2 gets XDP answers ({mode}, default map size)", _xdp_share(data, "W2", mode),
            ">= 0.90", lambda v: v >= 0.9)
    for prog, n in sorted(data.get("verified_insns", {}).items()):
        add(f"verified instructions, {prog}", n, "<= 200000", lambda v: v <= 200000)
    for w in ("W1", "W2"):
        add(f"{w} UDP -t 1, xdpcached no fast path / memcached",
            _ratio(_rate(data, w, "xdpcached no fast path", "udp", 1), _rate(data, w, "memcached", "udp", 1)),
            ">= 1.50", lambda v: v >= 1.5)
        add(f"{w} UDP, xdpcached no fast path -t 2 / -t 1",
            _ratio(_rate(data, w, "xdpcached no fast path", "udp", 2),
                   _rate(data, w, "xdpcached no fast path", "udp", 1)),
            "> 1.00 (scales)", lambda v: v > 1.0)
        for t in (1, 2):
            add(f"{w} TCP -t {t}, xdpcached / memcached",
                _ratio(_rate(data, w, "xdpcached no fast path", "tcp", t), _rate(data, w, "memcached", "tcp", t)),
                ">= 1.20", lambda v: v >= 1.2)
    add("W3 highest rate with p99.9 < 2 ms, fast path (best mode) / memcached (best -t)",
        _ratio(max(filter(None, [_w3_best(data, "xdpcached fast path native"),
                                 _w3_best(data, "xdpcached fast path generic")]), default=None),
               _w3_best(data, "memcached")),
        ">= 2.00", lambda v: v >= 2.0)
    expiry = {(e["server"], bool(e["ttl"])): e["best_rate"] for e in data.get("open_loop_expiry", [])}
    without = expiry.get(("xdpcached no fast path", False))
    add("W3 with a TTL on every item (10% expiring per step), highest rate with p99.9 < 2 ms, "
        "xdpcached -t 2 / the same without TTLs",
        _ratio(expiry.get(("xdpcached no fast path", True)), without),
        ">= 1.00 (no worse)", lambda v: v >= 1.0)
    overhead = {m["server"]: m["overhead_per_item"] for m in data["memory"]}
    add("bytes per item beyond key and value, xdpcached (W3 items; memcached measured: "
        f"{_fmt(overhead.get('memcached'), 1)})",
        overhead.get("xdpcached"), f"< {MEMCACHED_ITEM_OVERHEAD}",
        lambda v: v < MEMCACHED_ITEM_OVERHEAD)
    misses = {h["server"]: h["miss_ratio"] for h in data.get("hit_ratio", [])}
    add("W3 mix miss ratio with memory for a third of the keys, xdpcached (memcached measured: "
        f"{_fmt(misses.get('memcached'), 3)})",
        misses.get("xdpcached"), "<= memcached's",
        lambda v: misses.get("memcached") is not None and v <= misses["memcached"])
    return rows


# -- Markdown -------------------------------------------------------------------

def _table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_fmt(x) for x in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _closed_loop_rows(data, workload):
    rows = []
    for c in _cells(data, workload):
        r = c["result"]
        base = None
        if c["server"] != "memcached" and not c["server"].startswith("ceiling"):
            base = _rate(data, workload, "memcached", c["protocol"], c["threads"] or 2)
        rows.append((c["server"], c["protocol"], c["threads"] or "-", round(r["requests_per_s"]),
                     _ratio(r["requests_per_s"], base), _fmt(r["hit_ratio"], 3),
                     _share(r),
                     r["latency_us_p50"], r["latency_us_p99"], r["latency_us_p999"], r["latency_us_max"],
                     r["timeouts"], r["errors"]))
    return rows


def _share(result):
    """The share of keys read that XDP answered, for fast-path runs."""
    share = result.get("fastpath", {}).get("xdp_share")
    return "-" if share is None else _fmt(share, 3)


CLOSED_HEAD = ["server", "proto", "-t", "req/s", "x memcached (same proto, -t)", "hit ratio", "XDP share",
               "p50 us", "p99 us", "p99.9 us", "max us", "timeouts", "errors"]


def markdown(data):
    m = data["machine"]
    parts = [f"# xdpcached benchmark {data['timestamp']}\n",
             f"Machine: {m['cpus']} CPUs ({m['cpu']}), kernel {m['kernel']}. Client: mcload, "
             f"{data['client']['threads']} threads x {data['client']['conns']} sockets/connections, "
             f"{data['client']['window']} outstanding each (closed loop), in its own namespace across a veth.\n"]
    if data["quick"]:
        parts.append("**Quick smoke run: tiny sizes and durations; these numbers mean nothing.**\n")
    parts += ["## Targets\n", _table(["target", "measured", "wanted", "met"], targets(data))]
    for w in ("W1", "W2"):
        parts += [f"## {w}: {_describe(data['workloads'][w])}, closed loop\n",
                  _table(CLOSED_HEAD, _closed_loop_rows(data, w))]
    parts += [f"## W3: {_describe(data['workloads']['W3'])}, open loop over UDP\n",
              "Highest offered rate whose p99.9 stays under 2 ms (with at most 0.1% timeouts). Each step "
              "is run several times; the run with the median p99.9 stands for it:\n",
              _table(["server", "-t", "rate (req/s)"],
                     [(s["server"], s["threads"], s["best_rate"]) for s in data["open_loop"]]),
              "Every step:\n",
              _table(["server", "-t", "offered", "req/s", "p50 us", "p99 us", "p99.9 us", "p99.9 of each run",
                      "timeouts", "XDP share", "holds"],
                     [(s["server"], s["threads"], st["rate"], round(st["result"]["requests_per_s"]),
                       st["result"]["latency_us_p50"], st["result"]["latency_us_p99"],
                       st["result"]["latency_us_p999"], " / ".join(f"{x:.0f}" for x in st["p999_of_runs"]),
                       st["result"]["timeouts"],
                       _share(st["result"]), "yes" if st["holds"] else "no")
                      for s in data["open_loop"] for st in s["steps"]])]
    if data.get("open_loop_expiry"):
        parts += ["## W3 with expiry: the same steps without and with a TTL on every item\n",
                  "Each step stores every key again first (with its TTL) and warms up, so about "
                  "10% of the items expire during its measured runs:\n",
                  _table(["server", "-t", "ttl (s)", "offered", "p99.9 us", "p99.9 of each run",
                          "timeouts", "hit ratio", "holds"],
                         [(e["server"], e["threads"], e["ttl"] or "none", st["rate"],
                           st["result"]["latency_us_p999"],
                           " / ".join(f"{x:.0f}" for x in st["p999_of_runs"]),
                           st["result"]["timeouts"], _fmt(st["result"]["hit_ratio"], 3),
                           "yes" if st["holds"] else "no")
                          for e in data["open_loop_expiry"] for st in e["steps"]])]
    parts += ["## XDP programs' own cost (kernel.bpf_stats_enabled)\n",
              _table(["program", "workload", "mode", "ns per run", "runs", "req/s meanwhile"],
                     [(c["program"], c.get("workload", "W1"), c["mode"], _fmt(c["ns_per_run"], 0),
                       c["run_cnt"], round(c["requests_per_s"])) for c in data["xdp_cost"]])]
    parts += ["## User-space instructions per request (callgrind, -t 1, W1 gets)\n",
              _table(["server", "proto", "requests", "instructions per request"],
                     [(i["server"], i["protocol"], i["requests"], _fmt(i["per_request"], 0))
                      for i in data["instructions"]])]
    parts += ["## Memory: resident bytes per item (W3 items: 4-byte keys, 256-byte values)\n",
              _table(["server", "items", "RSS idle KiB", "RSS full KiB", "bytes per item",
                      "beyond key and value"],
                     [(x["server"], x["items"], x["rss_idle_kib"], x["rss_full_kib"],
                       _fmt(x["bytes_per_item"], 1), _fmt(x["overhead_per_item"], 1)) for x in data["memory"]])]
    if data.get("hit_ratio"):
        parts += ["## Hit ratio: W3's mix with memory for about a third of the keys (same -m for both)\n",
                  _table(["server", "-m MB", "items held", "evictions", "gets", "misses", "miss ratio"],
                         [(h["server"], h["memory_mb"], h["items"], h["evictions"], h["gets"], h["misses"],
                           _fmt(h["miss_ratio"], 4)) for h in data["hit_ratio"]])]
    return "\n".join(parts)


def _describe(w):
    return (f"{w['keys']:,} keys, {w['key_size']}-byte keys, {w['value_size']}-byte values, "
            f"{w['dist']}, {round(w['get_ratio'] * 100)}% get")


# -- chart ----------------------------------------------------------------------

GNUPLOT = """
set terminal pngcairo size 1400,600 font ",9"
set output '{png}'
set multiplot layout 1,2 title "xdpcached benchmark {stamp}"
set title "W1 and W2, closed loop: requests/s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set offsets 0, 0, graph 0.05, 0
set bmargin 9
set boxwidth 0.9
set xtics rotate by -35 left
set ylabel "requests/s"
set grid ytics
set key top right
plot '{bars}' using 2:xtic(1) title 'W1', '' using 3 title 'W2'
unset xtics
set xtics auto
set xtics norotate
set title "W3, open loop: p99.9 latency at each offered rate"
set style data linespoints
set logscale y
set xlabel "offered requests/s"
set ylabel "p99.9 latency (us)"
set key top left
plot {lines}, 2000 with lines dashtype 2 title '2 ms'
unset multiplot
"""


def _label(cell):
    return f"{cell['server']} {cell['protocol']}" + (f" -t{cell['threads']}" if cell["threads"] else "")


def chart(data, png):
    with tempfile.TemporaryDirectory(prefix="xdpcached-chart-") as tmp:
        tmp = Path(tmp)
        bars = tmp / "bars.dat"
        labels = list(dict.fromkeys(_label(c) for c in data["closed_loop"]))
        with open(bars, "w") as f:
            for label in labels:
                rates = [next((f"{c['result']['requests_per_s']:.0f}" for c in _cells(data, w)
                               if _label(c) == label), "0") for w in ("W1", "W2")]
                f.write(f"\"{label}\" {' '.join(rates)}\n")
        lines = []
        for i, s in enumerate(data["open_loop"]):
            path = tmp / f"w3-{i}.dat"
            with open(path, "w") as f:
                for st in s["steps"]:
                    f.write(f"{st['rate']} {max(st['result']['latency_us_p999'], 1)}\n")
            lines.append(f"'{path}' using 1:2 title '{s['server']} -t{s['threads']}'")
        script = GNUPLOT.format(png=png, stamp=data["timestamp"], bars=bars, lines=", ".join(lines))
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True, timeout=60)
