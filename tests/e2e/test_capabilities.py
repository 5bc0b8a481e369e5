"""The systemd unit's capabilities are the fast path's minimum: as an
unprivileged user holding exactly the unit's AmbientCapabilities, the daemon
loads and attaches the XDP program (`xdp_state attached`); without any one
of them it serves without it (`xdp_state failed`, one log line saying why).

Each daemon runs in a network namespace of its own, attached to that
namespace's loopback in generic mode, so nothing else on the machine sees
its program. Needs root (to create the namespace and to hand out the
capabilities)."""

import os
import re
import socket
import subprocess
import time
import uuid

import pytest

from servers import REPO, xdpcached_bin

UNIT = REPO / "dist" / "xdpcached.service.in"
NOBODY = 65534
PORT = 11211
STATE_TIMEOUT = 20.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root: network namespaces and setpriv's capabilities")


def unit_capabilities():
    """The unit's AmbientCapabilities, e.g. ["bpf", "perfmon", "net_admin"]."""
    m = re.search(r"^AmbientCapabilities=(.+)$", UNIT.read_text(), re.M)
    assert m, f"{UNIT} has no AmbientCapabilities line"
    caps = [c.lower().removeprefix("cap_") for c in m.group(1).split()]
    bounding = re.search(r"^CapabilityBoundingSet=(.+)$", UNIT.read_text(), re.M)
    assert bounding and sorted(bounding.group(1).split()) == sorted(m.group(1).split()), \
        "the bounding set must be the ambient set"
    return caps


@pytest.fixture
def namespace():
    name = f"xcap{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def stats_in(ns):
    """`stats` of the daemon in namespace ns, or None while it does not answer."""
    script = ("import socket,sys\n"
              f"s=socket.create_connection(('127.0.0.1',{PORT}),timeout=2)\n"
              "s.sendall(b'stats\\r\\n'); b=b''\n"
              "while not b.endswith(b'END\\r\\n'):\n"
              "    c=s.recv(65536)\n"
              "    if not c: break\n"
              "    b+=c\n"
              "sys.stdout.write(b.decode())\n")
    p = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", script],
                       capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        return None
    return {f[1]: f[2] for f in (line.split() for line in p.stdout.splitlines())
            if len(f) >= 3 and f[0] == "STAT"}


def run_with(ns, caps, tmp_path):
    """Starts the daemon in ns as nobody holding caps; returns its settled
    xdp_state and its log."""
    log = tmp_path / "stderr"
    spec = ",".join("+" + c for c in caps) or "-all"
    argv = ["ip", "netns", "exec", ns, "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
            "--clear-groups", f"--inh-caps={spec}", f"--ambient-caps={spec}",
            xdpcached_bin(), "-l", "127.0.0.1", "-p", str(PORT), "-U", str(PORT),
            "--xdp-iface", "lo", "--xdp-mode", "generic"]
    with open(log, "w") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                env={**os.environ, "RUNTIME_DIRECTORY": str(tmp_path)})
    try:
        deadline = time.monotonic() + STATE_TIMEOUT
        state = None
        while time.monotonic() < deadline and proc.poll() is None:
            st = stats_in(ns)
            state = st.get("xdp_state") if st else None
            if state in ("attached", "failed"):
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"the daemon exited: {log.read_text()}"
        return state, log.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_unit_capabilities_attach(namespace, tmp_path):
    caps = unit_capabilities()
    state, log = run_with(namespace, caps, tmp_path)
    assert state == "attached", f"with {caps}: xdp_state {state}; log: {log}"


@pytest.mark.parametrize("missing", ["bpf", "perfmon", "net_admin"])
def test_each_capability_is_needed(namespace, tmp_path, missing):
    caps = unit_capabilities()
    assert missing in caps, caps
    state, log = run_with(namespace, [c for c in caps if c != missing], tmp_path)
    assert state == "failed", f"without {missing}: xdp_state {state}; log: {log}"
    reasons = [line for line in log.splitlines() if "serving without the fast path" in line]
    assert len(reasons) == 1, log
