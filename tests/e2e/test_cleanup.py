"""The test and benchmark helpers stop what they started on every path
(issue 10, point 5): a server whose start fails leaves no process behind,
not even a child of it, and no namespace.

Each helper is given a stand-in daemon that runs but never answers (a shell
script with a child of its own), with a short start timeout, so that its
wait for the server fails as when the fast path does not come up. The
namespace tests need root (CI has it) and build/xdp_pass.bpf.o (`make
all`), which bench/testbed.py attaches on its client end.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import netns
import servers
from netns import Netns, NsServer
from servers import REPO, Server, ServerError

sys.path.insert(0, str(REPO / "bench"))
import testbed  # noqa: E402

# Runs, never listens, and has a child: a daemon stuck before it is ready.
STUCK_DAEMON = """#!/bin/sh
sleep 300 &
echo "$$ $!" > "$STUCK_DAEMON_PIDS"
exec sleep 301
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@pytest.fixture
def stuck_daemon(tmp_path, monkeypatch):
    """(path of the stand-in, function returning the pids it wrote)."""
    script = tmp_path / "xdpcached"
    script.write_text(STUCK_DAEMON)
    script.chmod(0o755)
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("STUCK_DAEMON_PIDS", str(pids_file))

    def pids():
        deadline = time.monotonic() + 5
        while not pids_file.exists() or len(pids_file.read_text().split()) < 2:
            assert time.monotonic() < deadline, "the stand-in daemon never started"
            time.sleep(0.02)
        return [int(p) for p in pids_file.read_text().split()]

    return script, pids


def assert_gone(pids):
    """Every pid has exited and been reaped (by us, or by init for the
    child): no /proc entry left, within a bounded wait."""
    deadline = time.monotonic() + 5
    left = pids
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [p for p in left if Path(f"/proc/{p}").exists()]
    assert not left, f"processes left behind: {left}"


def netns_names():
    return testbed.run("ip", "netns", "list").split()


def test_server_start_failure_leaves_nothing(stuck_daemon, monkeypatch):
    script, pids = stuck_daemon
    monkeypatch.setattr(servers, "START_TIMEOUT", 1.0)
    with pytest.raises(ServerError, match="not ready"):
        Server("xdpcached", binary=str(script)).start()
    assert_gone(pids())


@needs_root
def test_ns_server_start_failure_leaves_nothing(stuck_daemon, monkeypatch):
    script, pids = stuck_daemon
    monkeypatch.setattr(servers, "START_TIMEOUT", 1.0)
    monkeypatch.setenv("XDPCACHED_BIN", str(script))
    ns = Netns(tag="h")
    try:
        ns.create()
        with pytest.raises(ServerError, match="not ready"):
            NsServer(ns, xdp="off").start()
        assert_gone(pids())
        assert ns.pids() == []
        assert netns.kill_leftovers() == 0
    finally:
        problems = ns.destroy()
    assert problems == []
    assert ns.name not in netns_names()


@needs_root
def test_testbed_start_failure_leaves_nothing(stuck_daemon, monkeypatch, tmp_path):
    """bench/testbed.py's xdpcached() left the daemon running when
    wait_ready() raised, holding the namespace after the bed was gone."""
    script, pids = stuck_daemon
    xdp_pass = REPO / "build" / "xdp_pass.bpf.o"
    if not xdp_pass.exists():
        pytest.skip(f"{xdp_pass} is missing (make all)")
    (script.parent / "xdp_pass.bpf.o").symlink_to(xdp_pass)
    monkeypatch.setattr(testbed, "START_TIMEOUT", 1.0)
    workdir = tmp_path / "work"
    workdir.mkdir()
    with testbed.Testbed(script.parent, workdir) as bed:
        with pytest.raises(testbed.BenchError, match="no server"):
            bed.xdpcached(1)
        assert_gone(pids())
        assert testbed.run("ip", "netns", "pids", bed.server_ns).split() == []
        names = (bed.server_ns, bed.client_ns)
    left = [n for n in names if n in netns_names()]
    assert not left, f"namespaces left behind: {left}"


# Holds a bed with a server in it until SIGTERM, as bench/run.py does when
# test_bench.py's timeout strikes.
_HOLD_A_BED = """
import sys, time
sys.path.insert(0, sys.argv[1])
import testbed
from pathlib import Path
with testbed.Testbed(sys.argv[2], Path(sys.argv[3])) as bed:
    testbed.Server(bed, [sys.argv[4]], "stuck")
    print(bed.server_ns, bed.client_ns, flush=True)
    time.sleep(60)
"""


@needs_root
def test_testbed_cleans_up_on_sigterm(stuck_daemon, tmp_path):
    """SIGTERM to a process holding a bed (and only to it: its server does
    not get the signal) still stops the server and removes the namespaces."""
    script, pids = stuck_daemon
    xdp_pass = REPO / "build" / "xdp_pass.bpf.o"
    if not xdp_pass.exists():
        pytest.skip(f"{xdp_pass} is missing (make all)")
    (script.parent / "xdp_pass.bpf.o").symlink_to(xdp_pass)
    workdir = tmp_path / "work"
    workdir.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_A_BED, str(REPO / "bench"),
                               str(script.parent), str(workdir), str(script)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        names = holder.stdout.readline().split()
        assert len(names) == 2, holder.stderr.read()
        daemon_pids = pids()
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=90)
    finally:
        servers.kill_group(holder)
    assert holder.returncode == 128 + signal.SIGTERM, holder.stderr.read()
    assert_gone(daemon_pids)
    left = [n for n in names if n in netns_names()]
    assert not left, f"namespaces left behind: {left}"
