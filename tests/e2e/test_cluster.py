"""docs/cluster.md's recipe, run: three xdpcached nodes behind Debian's
nutcracker (twemproxy 0.5.0) with ketama over fnv1a_64, on 127.0.0.1.
10,000 keys go in through the proxy; after a kill -9 of one node the
others' keys still hit and the proxy ejects the dead node; a node started
again on the same port rejoins."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from helpers import Conn
from servers import HOST, free_port

NKEYS = 10000
BATCH = 500
# The proxy's settings, as docs/cluster.md gives them.
SERVER_RETRY_TIMEOUT_MS = 1000
SERVER_FAILURE_LIMIT = 1
TIMEOUT_MS = 500

pytestmark = pytest.mark.skipif(shutil.which("nutcracker") is None,
                                reason="nutcracker (Debian's twemproxy) not installed")


def _config(listen_port, nodes):
    servers = "\n".join(f"   - {HOST}:{n.port}:1 node{i}" for i, n in enumerate(nodes))
    return (f"cache:\n"
            f"  listen: {HOST}:{listen_port}\n"
            f"  hash: fnv1a_64\n"
            f"  distribution: ketama\n"
            f"  timeout: {TIMEOUT_MS}\n"
            f"  auto_eject_hosts: true\n"
            f"  server_retry_timeout: {SERVER_RETRY_TIMEOUT_MS}\n"
            f"  server_failure_limit: {SERVER_FAILURE_LIMIT}\n"
            f"  servers:\n{servers}\n")


def _wait_port(port, proc, what):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited with {proc.returncode}"
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"{what} not listening on {port}")


@pytest.fixture
def cluster(server_factory):
    nodes = [server_factory(udp=False, threads=1) for _ in range(3)]
    port, stats_port = free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="xdpcached-cluster-")
    conf = os.path.join(tmp, "nutcracker.yml")
    with open(conf, "w") as f:
        f.write(_config(port, nodes))
    proxy = subprocess.Popen(["nutcracker", "-c", conf, "-s", str(stats_port), "-a", HOST,
                              "-i", "100", "-o", os.path.join(tmp, "nutcracker.log"),
                              "-p", os.path.join(tmp, "nutcracker.pid")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    restarted = []
    try:
        _wait_port(port, proxy, "nutcracker")
        yield nodes, port, stats_port, restarted
    finally:
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait()
        codes = []
        for p in restarted:
            p.send_signal(signal.SIGTERM)
            codes.append(p.wait(timeout=20))
        shutil.rmtree(tmp, ignore_errors=True)
        assert codes == [0] * len(codes), f"a restarted node exited with {codes}"


def _pipelined(conn, requests):
    """Sends requests in batches; one reply line each."""
    replies = []
    for i in range(0, len(requests), BATCH):
        batch = requests[i:i + BATCH]
        conn.send(b"".join(batch))
        for _ in batch:
            replies.append(conn.readline())
    return replies


def _get_all(conn, keys):
    """key -> value (None on a miss, b"ERROR..." on an error) for each key,
    one get per key, pipelined."""
    out = {}
    for i in range(0, len(keys), BATCH):
        batch = keys[i:i + BATCH]
        conn.send(b"".join(b"get %s\r\n" % k for k in batch))
        for k in batch:
            line = conn.readline()
            if line.startswith(b"VALUE "):
                out[k] = conn.readline()
                assert conn.readline() == b"END"
            elif line == b"END":
                out[k] = None
            else:
                out[k] = line
    return out


def _owner(nodes, keys):
    """Which node holds each key, asked directly."""
    owner = {}
    for i, n in enumerate(nodes):
        with Conn(n.port) as c:
            for k, v in _get_all(c, keys).items():
                if v is not None:
                    assert k not in owner, "a key on two nodes"
                    owner[k] = i
    return owner


def _proxy_stats(stats_port):
    with socket.create_connection((HOST, stats_port), timeout=5) as s:
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def test_cluster_survives_a_killed_node_and_takes_it_back(cluster):
    nodes, port, stats_port, restarted = cluster
    keys = [b"key:%d" % i for i in range(NKEYS)]
    with Conn(port) as proxy:
        stored = _pipelined(proxy, [b"set %s 0 0 %d\r\n%s\r\n" % (k, len(k), k) for k in keys])
        assert stored == [b"STORED"] * NKEYS
        owner = _owner(nodes, keys)
        assert len(owner) == NKEYS
        counts = [list(owner.values()).count(i) for i in range(3)]
        assert all(c > NKEYS // 10 for c in counts), counts   # ketama spreads them

        dead = 1
        nodes[dead].kill()              # kill -9
        survivors = [k for k in keys if owner[k] != dead]
        lost = [k for k in keys if owner[k] == dead]

        # the first requests for the dead node's keys fail, which ejects it;
        # from then on its keys go to the others and miss
        deadline = time.monotonic() + 10
        while True:
            got = _get_all(proxy, lost[:50])
            if all(v is None for v in got.values()):
                break
            assert time.monotonic() < deadline, f"dead node not ejected: {list(got.values())[:3]}"
            time.sleep(0.05)
        # the other nodes' keys still hit, through the proxy
        got = _get_all(proxy, survivors)
        assert all(got[k] == k for k in survivors)
        # nutcracker publishes its counters once per stats interval (-i 100 ms),
        # so the eject shows up in the stats a little after it happened
        deadline = time.monotonic() + 5
        while _proxy_stats(stats_port)["cache"]["server_ejects"] < 1:
            assert time.monotonic() < deadline, "the proxy's stats never counted the eject"
            time.sleep(0.05)

        # a node started again on the same port rejoins once the proxy
        # retries it: a dead node's key set through the proxy lands there
        argv = nodes[dead].argv
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        restarted.append(proc)
        _wait_port(nodes[dead].port, proc, "the restarted node")
        probe = lost[0]
        deadline = time.monotonic() + 10
        with Conn(nodes[dead].port) as direct:
            while True:
                assert proxy.cmd(b"set %s 0 0 3\r\nnew" % probe) == b"STORED"
                if direct.get(probe) == b"new":
                    break
                assert time.monotonic() < deadline, "the restarted node did not rejoin"
                time.sleep(0.1)
        # and the survivors' keys did not move
        got = _get_all(proxy, survivors[:500])
        assert all(got[k] == k for k in survivors[:500])
