"""`make bench` in miniature: bench/run.py --quick runs every step of the
benchmark with tiny sizes and durations. The numbers mean nothing; what is
checked is that every cell ran, every client request was answered without
error, the fast path answered in its cells, and the JSON, Markdown and chart
were written. Needs root (namespaces, XDP), like test_xdp.py."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from servers import REPO, signal_group, xdpcached_bin

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root: the benchmark creates network namespaces "
                                       "and attaches XDP programs")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    build = Path(xdpcached_bin()).parent
    argv = [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--build", str(build),
            "--out", str(out)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=900)
    except BaseException:
        # SIGTERM first: bench/testbed.py then stops its servers and removes
        # its namespaces; SIGKILL to whatever of the group is left.
        signal_group(p, signal.SIGTERM)
        try:
            p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        signal_group(p, signal.SIGKILL)
        p.communicate()
        raise
    assert p.returncode == 0, f"bench/run.py --quick failed:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    stems = {f.stem for f in out.iterdir()}
    assert len(stems) == 1, sorted(out.iterdir())
    base = out / stems.pop()
    return base, json.loads(base.with_suffix(".json").read_text()), stdout


def test_every_closed_loop_cell_ran(quick_run):
    _, data, _ = quick_run
    cells = {(c["workload"], c["server"], c["protocol"], c["threads"]) for c in data["closed_loop"]}
    want = {("W1", f"ceiling {m}", "udp", 0) for m in ("native", "generic")}
    for w in ("W1", "W2"):
        want |= {(w, f"xdpcached fast path {m}", "udp", 2) for m in ("native", "generic")}
        want |= {(w, s, p, t) for s in ("xdpcached no fast path", "memcached")
                 for p in ("udp", "tcp") for t in (1, 2)}
    assert cells == want
    for c in data["closed_loop"]:
        r = c["result"]
        assert r["requests"] > 0 and r["errors"] == 0, c
        if not c["server"].startswith("ceiling"):
            assert r["misses"] == 0, c     # preloaded: every key is there


def test_fast_path_answered_in_its_cells(quick_run):
    _, data, _ = quick_run
    fast = [c for c in data["closed_loop"] if c["server"].startswith("xdpcached fast path")]
    assert len(fast) == 4
    for c in fast:
        assert c["result"]["fastpath"]["xdp_hits"] > 0, c


def test_costs_instructions_and_memory_were_measured(quick_run):
    _, data, _ = quick_run
    assert {(c["program"], c["mode"]) for c in data["xdp_cost"]} == \
        {(p, m) for p in ("ceiling", "xdpcached") for m in ("native", "generic")}
    assert {(c["workload"], c["program"]) for c in data["xdp_cost"]} == \
        {("W1", "ceiling"), ("W1", "xdpcached"), ("W2", "xdpcached")}
    for c in data["xdp_cost"]:
        assert c["run_cnt"] > 0 and c["ns_per_run"] > 0, c
    assert set(data["verified_insns"]) == {"xdpcached", "xdpcached_mg"}
    assert all(0 < n <= 200000 for n in data["verified_insns"].values()), data["verified_insns"]
    assert {(i["server"], i["protocol"]) for i in data["instructions"]} == \
        {(s, p) for s in ("xdpcached", "memcached") for p in ("udp", "tcp")}
    for i in data["instructions"]:
        assert i["requests"] > 0 and i["per_request"] > 0, i
    keys = data["workloads"]["W3"]["keys"]
    assert {m["server"]: m["items"] for m in data["memory"]} == {"xdpcached": keys, "memcached": keys}


def test_hit_ratio_was_measured(quick_run):
    _, data, _ = quick_run
    assert [h["server"] for h in data["hit_ratio"]] == ["xdpcached", "memcached"]
    for h in data["hit_ratio"]:
        assert h["gets"] > 0 and 0 <= h["miss_ratio"] <= 1 and h["items"] > 0, h
        assert h["memory_mb"] == data["hit_ratio"][0]["memory_mb"], data["hit_ratio"]


def test_open_loop_stepped_up_the_rates(quick_run):
    _, data, _ = quick_run
    assert len(data["open_loop"]) == 7
    assert "xdpcached no fast path, workers pinned" in {s["server"] for s in data["open_loop"]}
    for s in data["open_loop"]:
        assert s["steps"], s
        for st in s["steps"]:
            assert st["result"]["requests"] > 0 and st["result"]["errors"] == 0, st
            assert st["result"]["rate_offered"] == st["rate"]


def test_open_loop_expiry_ran_both_ways(quick_run):
    _, data, _ = quick_run
    runs = [(e["server"], e["ttl"]) for e in data["open_loop_expiry"]]
    assert [r[0] for r in runs] == ["xdpcached no fast path"] * 2 + ["memcached"] * 2, runs
    ttls = [r[1] for r in runs]
    assert ttls[0] is None and ttls[2] is None and ttls[1] == ttls[3], runs
    low, high = map(int, ttls[1].split("-"))
    assert 0 < low < high, ttls[1]
    for e in data["open_loop_expiry"]:
        assert e["steps"], e
        for st in e["steps"]:
            assert st["result"]["requests"] > 0 and st["result"]["errors"] == 0, st


def test_report_files(quick_run):
    base, _, stdout = quick_run
    md = base.with_suffix(".md").read_text()
    for heading in ("## Targets", "## W1", "## W2", "## W3", "## W3 with expiry",
                    "## XDP programs' own cost",
                    "## User-space instructions", "## Memory"):
        assert heading in md
    assert md in stdout                  # and it was printed
    assert base.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
