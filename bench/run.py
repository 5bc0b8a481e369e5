#!/usr/bin/python3
"""make bench: every figure of docs/benchmarks.md in one run.

In a server and a client namespace joined by a veth pair (bench/testbed.py),
with one client (mcload) and the same client settings throughout, it
measures:
  W1, W2  closed loop: the ceiling (bpf/xdp_ceiling.bpf.c; W1 only),
          xdpcached with the fast path (native, generic), xdpcached without
          it and Debian's memcached (UDP and TCP, -t 1 and -t 2);
  W3      open loop at rising rates: the highest rate whose p99.9 stays
          under 2 ms, for the fast path, the daemon and memcached;
  cost    the XDP programs' own run time per packet (kernel.bpf_stats_enabled);
          user-space instructions per request (callgrind), ours and memcached's;
  memory  resident bytes per item for 1,000,000 W3 items, ours and memcached's;
  W3 TTL  W3's rising rates without and with a TTL on every item (about 10%
          of them expiring during each step), the daemon and memcached;
  hits    the miss ratio of W3's Zipf 0.99 get/set mix on 1,000,000 keys when
          -m holds about a third of them, ours and memcached's at the same -m.
It writes bench/results/<timestamp>.json, .md and .png (bench/report.py) and
prints the Markdown. Needs root (namespaces, XDP).
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402
from testbed import MEMCACHED_BIN, PORT, REPO, BenchError, BpfStats, Testbed, run  # noqa: E402

WORKLOADS = {
    "W1": dict(keys=1000, key_size=8, value_size=8, dist="uniform", get_ratio=1.0),
    "W2": dict(keys=1_000_000, key_size=8, value_size=8, dist="zipf:0.99", get_ratio=0.9),
    "W3": dict(keys=1_000_000, key_size=4, value_size=256, dist="zipf:0.99", get_ratio=0.8),
}
# The client, the same for every server. Two threads with two sockets or
# connections each, 32 requests outstanding on each.
CLIENT = dict(threads=2, conns=2, window=32)
SERVER_MEMORY_MB = 2048       # room for 1,000,000 W3 items in both servers, no eviction
W3_P999_LIMIT_US = 2000


class Plan:
    """Durations and sizes: the full run, or --quick (a smoke run of the
    same steps, for the test suite; its numbers mean nothing)."""

    def __init__(self, quick):
        self.quick = quick
        self.warmup = 0.3 if quick else 2.0
        self.map_warmup = 0.6 if quick else 60.0
        self.duration = 0.3 if quick else 5.0
        self.step_duration = 0.3 if quick else 2.0
        self.keys_cap = 20_000 if quick else None
        self.rates = [2000, 4000] if quick else _rising_rates(20_000, 2_000_000)
        self.repeats = 1 if quick else 3
        self.callgrind_seconds = 0.5 if quick else 3.0

    def workload(self, name):
        w = dict(WORKLOADS[name])
        if self.keys_cap:
            w["keys"] = min(w["keys"], self.keys_cap)
        return w


def _rising_rates(lowest, highest):
    rates, r = [], lowest
    while r <= highest:
        rates.append(int(r))
        r *= 1.4
    return rates


def load_args(workload, protocol, command="get", **extra):
    args = {"protocol": protocol, "command": command, "keys": workload["keys"],
            "key-size": workload["key_size"], "value-size": workload["value_size"],
            "dist": workload["dist"], "get-ratio": workload["get_ratio"],
            "threads": CLIENT["threads"], "conns": CLIENT["conns"], "window": CLIENT["window"]}
    args.update(extra)
    out = []
    for k, v in args.items():
        out += [f"--{k}", str(v)]
    return out


def preload(bed, workload, ttl=None):
    bed.mcload(["--preload", "--keys", workload["keys"], "--key-size", workload["key_size"],
                "--value-size", workload["value_size"]] + (["--ttl", ttl] if ttl else []),
               duration_hint=120)


def measure(bed, srv, workload, protocol, plan, fastpath=False):
    """One closed-loop cell: a warm-up run (which also lets the fast path
    admit the hot keys), then the measured run; the server's counters around
    the measured run say who answered."""
    bed.mcload(load_args(workload, protocol, duration=plan.warmup), plan.warmup)
    if fastpath:
        warm_map(bed, srv, workload, protocol, plan)
    return counted_run(bed, srv, load_args(workload, protocol, duration=plan.duration), plan.duration,
                       fastpath)


def warm_map(bed, srv, workload, protocol, plan):
    """More warm-up runs until the fast path's map stops filling (fewer than
    1% more keys in a run), at most plan.map_warmup seconds: the measured run
    then sees the map a long-running server has, whatever the key count (a
    key is admitted after two reads, and W2's millionth key is rarely read)."""
    waited = 0.0
    entries = int(srv.stats().get("xdp_entries", 0))
    while waited < plan.map_warmup:
        bed.mcload(load_args(workload, protocol, duration=plan.warmup), plan.warmup)
        waited += plan.warmup
        now = int(srv.stats().get("xdp_entries", 0))
        if now <= entries * 1.01:
            break
        entries = now


def counted_run(bed, srv, args, duration, fastpath):
    """One mcload run; with the fast path, also how much of it XDP answered
    (the server's counters around the run)."""
    before = srv.stats() if fastpath else {}
    result = bed.mcload(args, duration)
    if fastpath:
        result["fastpath"] = _fastpath_share(before, srv.stats(), result)
    return result


def _fastpath_share(before, after, result):
    def grown(name):
        return int(after.get(name, 0)) - int(before.get(name, 0))
    keys_read = result["hits"] + result["misses"]
    return {"xdp_hits": grown("xdp_hits"), "xdp_passes": grown("xdp_passes"),
            "xdp_pass_no_room": grown("xdp_pass_no_room"),
            "xdp_share": grown("xdp_hits") / keys_read if keys_read else 0.0}


def cell(results, **fields):
    results.append(fields)
    r = fields["result"]
    print(f"  {fields['workload']} {fields['server']:<24} {fields['protocol']} -t {fields['threads']}: "
          f"{r['requests_per_s']:>10.0f} req/s, hit {r['hit_ratio']:.3f}, p99.9 {r['latency_us_p999']} us, "
          f"timeouts {r['timeouts']}, errors {r['errors']}", flush=True)


# -- W1 and W2: closed loop ----------------------------------------------------

def closed_loop(bed, plan, costs, verifier):
    results = []
    for name in ("W1", "W2"):
        w = plan.workload(name)
        print(f"{name}: {w}", flush=True)
        if name == "W1":
            ceiling(bed, plan, w, results, costs)
        for mode in ("native", "generic"):
            srv = bed.xdpcached(2, mode, ["-m", SERVER_MEMORY_MB])
            try:
                preload(bed, w)
                with BpfStats() as bs:
                    prog = bed.server_prog_id()
                    t0, n0 = bs.read(prog)
                    r = measure(bed, srv, w, "udp", plan, fastpath=True)
                    t1, n1 = bs.read(prog)
                costs.append(_cost("xdpcached", mode, t1 - t0, n1 - n0, r, name))
                verifier.update(_verified(srv))
                cell(results, workload=name, server=f"xdpcached fast path {mode}", protocol="udp",
                     threads=2, result=r)
            finally:
                srv.stop()
        for kind in ("xdpcached", "memcached"):
            for threads in (1, 2):
                srv = daemon(bed, kind, threads)
                try:
                    preload(bed, w)
                    for protocol in ("udp", "tcp"):
                        r = measure(bed, srv, w, protocol, plan)
                        label = "xdpcached no fast path" if kind == "xdpcached" else "memcached"
                        cell(results, workload=name, server=label, protocol=protocol,
                             threads=threads, result=r)
                finally:
                    srv.stop()
    return results


def ceiling(bed, plan, w, results, costs):
    for mode in ("native", "generic"):
        bed.attach_ceiling(mode)
        try:
            with BpfStats() as bs:
                prog = bed.server_prog_id()
                t0, n0 = bs.read(prog)
                r = measure(bed, None, w, "udp", plan)
                t1, n1 = bs.read(prog)
            costs.append(_cost("ceiling", mode, t1 - t0, n1 - n0, r, "W1"))
            cell(results, workload="W1", server=f"ceiling {mode}", protocol="udp", threads=0, result=r)
        finally:
            bed.detach_ceiling()


def _cost(program, mode, run_time_ns, run_cnt, result, workload):
    return {"program": program, "mode": mode, "workload": workload, "run_time_ns": run_time_ns,
            "run_cnt": run_cnt, "ns_per_run": run_time_ns / run_cnt if run_cnt else None,
            "requests_per_s": result["requests_per_s"]}


def _verified(srv):
    """The verifier's instruction count of each fast-path program, as the
    daemon read it when it loaded them (the budget is 200,000 each)."""
    st = srv.stats()
    return {"xdpcached": int(st["xdp_verified_insns"]),
            "xdpcached_mg": int(st["xdp_verified_insns_mg"])}


def daemon(bed, kind, threads, fastpath_mode=None, memory_mb=SERVER_MEMORY_MB):
    """kind: "xdpcached", "xdpcached pinned" (worker i on CPU i, --cpu-list)
    or "memcached"."""
    extra = ["-m", memory_mb]
    if kind == "xdpcached pinned":
        extra += ["--cpu-list", ",".join(str(cpu) for cpu in range(threads))]
    if kind.startswith("xdpcached"):
        return bed.xdpcached(threads, fastpath_mode, extra)
    return bed.memcached(threads, extra)


# -- W3: open loop at rising rates ---------------------------------------------

# name (for --servers): label, kind (see daemon()), threads, fast path mode
W3_SERVERS = {"fastpath-native": ("xdpcached fast path native", "xdpcached", 2, "native"),
              "fastpath-generic": ("xdpcached fast path generic", "xdpcached", 2, "generic"),
              "xdpcached-t1": ("xdpcached no fast path", "xdpcached", 1, None),
              "xdpcached-t2": ("xdpcached no fast path", "xdpcached", 2, None),
              "xdpcached-pinned-t2": ("xdpcached no fast path, workers pinned", "xdpcached pinned",
                                      2, None),
              "memcached-t1": ("memcached", "memcached", 1, None),
              "memcached-t2": ("memcached", "memcached", 2, None)}


def open_loop(bed, plan, servers=tuple(W3_SERVERS)):
    w = plan.workload("W3")
    print(f"W3: {w}, rates {plan.rates[0]}..{plan.rates[-1]} req/s", flush=True)
    series = []
    for label, kind, threads, mode in (W3_SERVERS[name] for name in servers):
        srv = daemon(bed, kind, threads, mode)
        try:
            preload(bed, w)
            # The first seconds after a preload are slow for every server.
            bed.mcload(load_args(w, "udp", duration=plan.warmup, rate=plan.rates[0]), plan.warmup)
            steps = rate_steps(bed, srv, w, plan, mode is not None)
        finally:
            srv.stop()
        best = max((s["rate"] for s in steps if s["holds"]), default=0)
        late = sum(s["client_late"] for s in steps)
        series.append({"server": label, "threads": threads, "protocol": "udp", "steps": steps,
                       "best_rate": best, "client_late_steps": late})
        print(f"  W3 {label} -t {threads}: highest rate with p99.9 < 2 ms: {best}"
              + (f" ({late} of {len(steps)} steps client_late: the client itself sent late)"
                 if late else ""), flush=True)
    return series


def rate_steps(bed, srv, w, plan, fastpath, extra=None, before_step=None):
    """Raises the offered rate until two steps in a row miss the limit. A
    step is plan.repeats runs; the run with the median p99.9 stands for it,
    so that one scheduling hiccup of this shared 2-core machine (a few ms,
    seen at any rate, for every server) does not decide the figure alone.
    extra: more mcload flags; before_step(rate) runs before each step."""
    steps, misses = [], 0
    # The latency counts from when each request was due, so it includes the
    # client's own lateness (send_lag_us_*): a step whose median run sent
    # half the limit late or more is marked client_late, a figure of the
    # machine (the client got no CPU), not of the server.
    for rate in plan.rates:
        if before_step:
            before_step(rate)
        args = load_args(w, "udp", duration=plan.step_duration, rate=rate, **(extra or {}))
        runs = [watched_run(bed, srv, args, plan.step_duration, fastpath) for _ in range(plan.repeats)]
        median = sorted(runs, key=lambda r: r["latency_us_p999"])[len(runs) // 2]
        steps.append({"rate": rate, "holds": rate_holds(median, rate, plan), "result": median,
                      "p999_of_runs": [r["latency_us_p999"] for r in runs],
                      "client_late": median["send_lag_us_p999"] >= W3_P999_LIMIT_US / 2})
        print(f"    {rate} req/s: p99.9 of runs {steps[-1]['p999_of_runs']} us, the client's own "
              f"send lag p99.9 {[r['send_lag_us_p999'] for r in runs]} us, timeouts "
              f"{[r['timeouts'] for r in runs]}, CPUs busy with other work "
              f"{[round(r['others_cpus'], 2) for r in runs]}", flush=True)
        misses = 0 if steps[-1]["holds"] else misses + 1
        if misses == 2:
            break
    return steps


# -- W3 with expiry: a TTL on every item ------------------------------------------

W3_EXPIRY_SERVERS = ("xdpcached-t2", "memcached-t2")


def expiry_ttl(plan):
    """mcload --ttl for W3 with expiry: the keys' TTLs spread evenly over
    ten times a step's measured time, starting when its measured runs do
    (after the warm-up run), so about 10% of the items expire during them."""
    first = math.ceil(plan.warmup) + 1
    return f"{first}-{first + math.ceil(10 * plan.step_duration * plan.repeats)}"


def open_loop_expiry(bed, plan, servers=W3_EXPIRY_SERVERS):
    """W3's rising rates for each server twice, without and with a TTL on
    every item (sets in the run carry it too). Both ways, each step first
    stores every key again and warms up at its rate, so each step starts
    from the same cache: the TTLs then expire about 10% of the items during
    the step's measured runs."""
    w = plan.workload("W3")
    ttl = expiry_ttl(plan)
    print(f"W3 with expiry: {w}, --ttl {ttl}", flush=True)
    out = []
    for name in servers:
        label, kind, threads, mode = W3_SERVERS[name]
        for step_ttl in (None, ttl):
            extra = {"ttl": step_ttl} if step_ttl else {}

            def refill(rate):
                preload(bed, w, step_ttl)
                bed.mcload(load_args(w, "udp", duration=plan.warmup, rate=rate, **extra), plan.warmup)

            srv = daemon(bed, kind, threads, mode)
            try:
                steps = rate_steps(bed, srv, w, plan, mode is not None, extra, refill)
            finally:
                srv.stop()
            best = max((s["rate"] for s in steps if s["holds"]), default=0)
            out.append({"server": label, "threads": threads, "ttl": step_ttl, "steps": steps,
                        "best_rate": best})
            print(f"  W3 {label} -t {threads}, ttl {step_ttl or 'none'}: highest rate with "
                  f"p99.9 < 2 ms: {best}", flush=True)
    return out


def watched_run(bed, srv, args, duration, fastpath):
    """counted_run, plus others_cpus: how many of the machine's CPUs, on
    average over the run, were busy with something other than this server
    and mcload (other sessions' work, and the kernel's softirq work, part
    of it this traffic's). /proc/stat counts in ticks: a rough figure."""
    before = (_machine_busy_s(), _process_cpu_s(srv.pid), _children_cpu_s())
    t0 = time.monotonic()
    result = counted_run(bed, srv, args, duration, fastpath)
    elapsed = time.monotonic() - t0
    machine, server, client = (_machine_busy_s() - before[0], _process_cpu_s(srv.pid) - before[1],
                               _children_cpu_s() - before[2])
    result["others_cpus"] = max(0.0, machine - server - client) / elapsed
    return result


def _machine_busy_s():
    """CPU seconds all CPUs spent busy so far: user, nice, system, irq,
    softirq and steal (/proc/stat's first line)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _process_cpu_s(pid):
    """CPU seconds a process (all its threads) used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s():
    """CPU seconds of the children this process waited for (each mcload)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def rate_holds(r, rate, plan):
    """p99.9 under 2 ms, at most 0.1% timed out (a lost request is a late
    one), and the client really offered the rate (within 5%)."""
    offered = rate * plan.step_duration
    return (r["latency_us_p999"] < W3_P999_LIMIT_US and r["errors"] == 0
            and r["timeouts"] <= 0.001 * max(r["requests"], 1)
            and r["requests"] + r["timeouts"] >= 0.95 * offered)


# -- instructions per request and memory per item -------------------------------

def instructions(bed, plan, workdir):
    """User-space instructions per request (callgrind), -t 1, W1 gets."""
    w = plan.workload("W1")
    out = []
    for kind in ("xdpcached", "memcached"):
        for protocol in ("udp", "tcp"):
            cg = workdir / f"callgrind-{kind}-{protocol}.out"
            srv = bed.under_callgrind(daemon_argv(bed, kind), cg, f"callgrind-{kind}")
            try:
                preload(bed, w)
                before = srv.stats()
                run("callgrind_control", "-i", "on", srv.pid)
                bed.mcload(load_args(w, protocol, duration=plan.callgrind_seconds, threads=1,
                                     conns=1, window=4, timeout=5000), plan.callgrind_seconds)
                run("callgrind_control", "-i", "off", srv.pid)
                requests = int(srv.stats()["cmd_get"]) - int(before["cmd_get"])
            finally:
                srv.stop()
            ir = callgrind_total(cg)
            out.append({"server": kind, "protocol": protocol, "requests": requests,
                        "instructions": ir, "per_request": ir / requests if requests else None})
            print(f"  instructions per {protocol} get, {kind} -t 1: {out[-1]['per_request']:.0f}",
                  flush=True)
    return out


def daemon_argv(bed, kind):
    common = ["-l", bed.server_ip, "-p", PORT, "-U", PORT, "-t", 1]
    if kind == "xdpcached":
        return [bed.build / "xdpcached", "--xdp", "off", "--udp-allow", bed.client_net] + common
    # -u root: valgrind's control channel (callgrind_control) stops working
    # once memcached has switched to another user.
    return [MEMCACHED_BIN, "-u", "root"] + common


def callgrind_total(path):
    """The instructions counted (the file's closing "totals:" line)."""
    with open(path) as f:
        totals = [int(line.split()[1]) for line in f if line.startswith("totals:")]
    if not totals:
        raise BenchError(f"{path}: no totals line")
    return totals[-1]


def settle_hash_table(srv, timeout=10.0):
    """Waits until the server's hash table has finished moving to its new
    size (hash_is_expanding 0): while it moves, both tables are resident,
    and the RSS would count the old one too."""
    deadline = time.monotonic() + timeout
    while srv.stats().get("hash_is_expanding", "0") != "0":
        if time.monotonic() > deadline:
            raise BenchError(f"{srv.label}: hash table still expanding after {timeout:.0f} s")
        time.sleep(0.1)


def memory(bed, plan):
    """Resident bytes per item beyond key and value, 1,000,000 W3 items,
    once the hash table has settled."""
    w = plan.workload("W3")
    out = []
    for kind in ("xdpcached", "memcached"):
        srv = daemon(bed, kind, 2)
        try:
            time.sleep(0.5)
            idle = srv.rss_kib()
            preload(bed, w)
            settle_hash_table(srv)
            items = int(srv.stats()["curr_items"])
            full = srv.rss_kib()
        finally:
            srv.stop()
        per_item = (full - idle) * 1024 / items if items else None
        out.append({"server": kind, "items": items, "rss_idle_kib": idle, "rss_full_kib": full,
                    "bytes_per_item": per_item,
                    "overhead_per_item": per_item - w["key_size"] - w["value_size"] if items else None})
        print(f"  memory {kind}: {items} items, {per_item:.1f} B/item, "
              f"{out[-1]['overhead_per_item']:.1f} B beyond key and value", flush=True)
    return out


# memcached stores a W3 item in a 384-byte slab chunk: -m for a third of
# W3's keys is keys * 384 / 3 (122 MB for 1,000,000 keys), and at least
# 8 MB, so that --quick's few keys still run memcached's slab classes.
MEMCACHED_W3_CHUNK = 384
HIT_RATIO_MIN_MB = 8


def hit_ratio_memory_mb(keys):
    return max(HIT_RATIO_MIN_MB, keys * MEMCACHED_W3_CHUNK // (3 << 20))


def hit_ratio(bed, plan):
    """The miss ratio of W3's mix (Zipf 0.99 over 1,000,000 keys, 80% gets,
    20% sets) with memory for about a third of the keys, the same -m for
    both servers: every key is stored once (so the cache starts full and
    evicting), a warm-up run lets the eviction policy settle, and the
    measured run's gets give the ratio."""
    w = plan.workload("W3")
    memory_mb = hit_ratio_memory_mb(w["keys"])
    out = []
    for kind in ("xdpcached", "memcached"):
        srv = daemon(bed, kind, 2, memory_mb=memory_mb)
        try:
            preload(bed, w)
            bed.mcload(load_args(w, "tcp", duration=plan.duration), plan.duration)
            result = bed.mcload(load_args(w, "tcp", duration=plan.duration), plan.duration)
            stats = srv.stats()
        finally:
            srv.stop()
        reads = result["hits"] + result["misses"]
        out.append({"server": kind, "memory_mb": memory_mb, "gets": reads,
                    "misses": result["misses"], "miss_ratio": result["misses"] / reads if reads else None,
                    "items": int(stats["curr_items"]), "evictions": int(stats["evictions"])})
        print(f"  hit ratio {kind} -m {memory_mb}: {out[-1]['items']} items held, "
              f"miss ratio {out[-1]['miss_ratio']:.4f} ({result['misses']} of {reads} gets)", flush=True)
    return out


# -- the run -------------------------------------------------------------------

# The measurements --only runs alone.
ONLY_STEPS = {"memory": memory, "hit_ratio": hit_ratio, "w3": open_loop,
              "w3_expiry": open_loop_expiry}


def _w3_servers(text):
    names = tuple(text.split(","))
    unknown = [n for n in names if n not in W3_SERVERS]
    if unknown or not text:
        raise argparse.ArgumentTypeError(f"unknown server {','.join(unknown)!r}; "
                                          f"known: {','.join(W3_SERVERS)}")
    return names


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "cpu": cpu}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"), help="where xdpcached, mcload and the "
                    "BPF objects are (default: build)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"), help="results directory")
    ap.add_argument("--quick", action="store_true", help="a smoke run: every step, tiny sizes and "
                    "durations (for the test suite; the numbers mean nothing)")
    ap.add_argument("--only", choices=sorted(ONLY_STEPS), help="run only this measurement and "
                    "print its JSON (no report files)")
    ap.add_argument("--servers", type=_w3_servers,
                    help="with --only w3 or w3_expiry: the servers to run, comma separated, in "
                    f"this order (default: all of {','.join(W3_SERVERS)} for w3, "
                    f"{','.join(W3_EXPIRY_SERVERS)} for w3_expiry)")
    opts = ap.parse_args()
    if opts.servers and opts.only not in ("w3", "w3_expiry"):
        ap.error("--servers needs --only w3 or --only w3_expiry")
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces, XDP)")
    plan = Plan(opts.quick)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ")
    out_dir = Path(opts.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {"timestamp": stamp, "quick": opts.quick, "machine": machine(), "client": CLIENT,
            "workloads": {n: plan.workload(n) for n in WORKLOADS}}
    with tempfile.TemporaryDirectory(prefix="xdpcached-bench-") as tmp, \
            Testbed(opts.build, tmp) as bed:
        if opts.only:
            extra = {"servers": opts.servers} if opts.servers else {}
            print(json.dumps(ONLY_STEPS[opts.only](bed, plan, **extra), indent=1))
            return
        costs, verifier = [], {}
        data["closed_loop"] = closed_loop(bed, plan, costs, verifier)
        data["xdp_cost"] = costs
        data["verified_insns"] = verifier
        data["open_loop"] = open_loop(bed, plan)
        data["open_loop_expiry"] = open_loop_expiry(bed, plan)
        data["instructions"] = instructions(bed, plan, Path(tmp))
        data["memory"] = memory(bed, plan)
        data["hit_ratio"] = hit_ratio(bed, plan)
    base = out_dir / stamp
    base.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    markdown = report.markdown(data)
    base.with_suffix(".md").write_text(markdown)
    report.chart(data, base.with_suffix(".png"))
    print(markdown)
    print(f"bench: wrote {base}.json, .md and .png")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        sys.exit(f"bench: {e}")
