"""mcload, the load generator (user/loadgen), against a real xdpcached and
Debian's memcached on loopback: preloaded keys all hit with no error, and
the client's counts equal what the server counted (exact counts; nothing
here asserts a speed)."""

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from helpers import Conn
from servers import HOST, MEMCACHED_BIN, xdpcached_bin

MCLOAD = str(Path(xdpcached_bin()).parent / "mcload")
KEYS = 500
RUN_TIMEOUT = 60

JSON_KEYS = {
    "protocol", "command", "server", "threads", "conns", "window", "keys", "key_size",
    "value_size", "dist", "get_ratio", "multiget", "rate_offered", "duration_s", "requests",
    "requests_per_s", "gets", "sets", "hits", "misses", "hit_ratio", "timeouts", "errors",
    "late", "latency_us_p50", "latency_us_p90", "latency_us_p99", "latency_us_p999",
    "latency_us_max", "latency_us_mean", "send_lag_us_p999", "send_lag_us_max",
}

pytestmark = pytest.mark.skipif(not os.path.exists(MCLOAD), reason=f"{MCLOAD} not built")


def mcload(srv, *args, check=True):
    argv = [MCLOAD, "-s", f"{HOST}:{srv.port}", *map(str, args)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(argv)}: status {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def run_json(srv, *args):
    p = mcload(srv, "--json", "-", *args)
    result = json.loads(p.stdout)
    assert set(result) == JSON_KEYS
    return result


def preload(srv, keys=KEYS, *args):
    p = mcload(srv, "--preload", "-k", keys, *args)
    assert f"preload: {keys} keys" in p.stdout
    assert ", 0 errors" in p.stdout


def server_stats(srv):
    with Conn(srv.port) as c:
        return {k: int(v) for k, v in c.stats().items() if v.isdigit()}


def counted(srv, before, name):
    return server_stats(srv)[name] - before[name]


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_closed_loop_counts_match_the_server(server_factory, protocol):
    srv = server_factory()
    preload(srv)
    before = server_stats(srv)
    r = run_json(srv, "-P", protocol, "-k", KEYS, "-D", "0.5", "-t", 2, "-C", 2)
    assert r["errors"] == 0 and r["timeouts"] == 0
    assert r["hit_ratio"] == 1.0 and r["misses"] == 0
    assert r["gets"] > 0 and r["sets"] == 0
    assert r["requests"] == r["gets"]
    assert counted(srv, before, "cmd_get") == r["gets"]
    assert counted(srv, before, "get_hits") == r["hits"]
    assert r["send_lag_us_max"] == 0   # no schedule in the closed loop


def test_tcp_sets_and_multiget_counts(server_factory):
    srv = server_factory()
    preload(srv)
    before = server_stats(srv)
    r = run_json(srv, "-P", "tcp", "-k", KEYS, "-D", "0.5", "-g", "0.8", "-m", 3,
                 "-d", "zipf:0.99", "-c", "gets")
    assert r["errors"] == 0 and r["hit_ratio"] == 1.0
    assert r["sets"] > 0 and r["gets"] > 0
    assert r["hits"] == 3 * r["gets"]
    assert counted(srv, before, "cmd_set") == r["sets"]
    assert counted(srv, before, "cmd_get") == r["hits"]


def test_wrong_values_are_errors(server_factory):
    """A value that is not the key's counts as an error: the check has teeth."""
    srv = server_factory()
    preload(srv, 10)
    with Conn(srv.port) as c:
        assert c.set(b"00000003", b"XXXXXXXX") == b"STORED"
    r = run_json(srv, "-P", "tcp", "-k", 10, "-D", "0.3")
    assert r["errors"] > 0 and r["hit_ratio"] == 1.0


def test_misses_counted(server_factory):
    srv = server_factory()
    preload(srv, 10)
    r = run_json(srv, "-k", 20, "-D", "0.3")
    assert r["errors"] == 0 and 0.3 < r["hit_ratio"] < 0.7
    assert r["hits"] + r["misses"] == r["gets"]


@pytest.mark.skipif(not os.path.exists(MEMCACHED_BIN), reason="memcached not installed")
def test_memcached_udp_multiget_in_several_datagrams(memcached_factory):
    """memcached answers a multi-get over UDP with one datagram per key."""
    srv = memcached_factory()
    preload(srv, KEYS, "--value-size", 100)
    before = server_stats(srv)
    r = run_json(srv, "-k", KEYS, "--value-size", 100, "-m", 8, "-D", "0.5")
    assert r["errors"] == 0 and r["timeouts"] == 0 and r["hit_ratio"] == 1.0
    assert counted(srv, before, "cmd_get") == r["hits"] == 8 * r["gets"]


@pytest.mark.skipif(not os.path.exists(MEMCACHED_BIN), reason="memcached not installed")
@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_memcached_meta_get(memcached_factory, protocol):
    srv = memcached_factory()
    preload(srv)
    for multiget in (1, 4):
        r = run_json(srv, "-P", protocol, "-k", KEYS, "-c", "mg", "-m", multiget, "-D", "0.3")
        assert r["errors"] == 0 and r["timeouts"] == 0 and r["hit_ratio"] == 1.0
        assert r["hits"] == multiget * r["gets"] > 0


def test_open_loop(server_factory):
    srv = server_factory()
    preload(srv)
    before = server_stats(srv)
    r = run_json(srv, "-k", KEYS, "-r", 4000, "-t", 2, "-D", "0.5", "--timeout", 500)
    assert r["rate_offered"] == 4000 and r["duration_s"] == 0.5
    # Requests are sent on schedule: 2,000 in 0.5 s, each answered or timed out.
    assert r["requests"] + r["timeouts"] == 2000
    assert counted(srv, before, "cmd_get") == r["requests"] + r["timeouts"]
    assert r["errors"] == 0
    assert 0 < r["latency_us_p50"] <= r["latency_us_p99"] <= r["latency_us_max"]
    # How late the client itself sent (its latency includes it).
    assert 0 <= r["send_lag_us_p999"] <= r["send_lag_us_max"]


def test_setup_errors(server_factory):
    srv = server_factory()
    p = mcload(srv, "--bogus", check=False)
    assert p.returncode != 0 and "bogus" in p.stderr
    p = mcload(srv, "-k", 100000, "--key-size", 2, check=False)
    assert p.returncode != 0 and "do not fit" in p.stderr
    srv.stop()
    p = mcload(srv, "-P", "tcp", "-D", "0.1", check=False)
    assert p.returncode != 0 and "cannot connect" in p.stderr


def test_udp_open_loop_to_a_silent_peer_times_out():
    """Nothing answers: every request of the measured time ends as exactly
    one timeout (the expiry scan finds each outstanding slot once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((HOST, 0))
        argv = [MCLOAD, "-s", f"{HOST}:{silent.getsockname()[1]}", "--json", "-", "-k", KEYS,
                "-r", 2000, "-D", "0.5", "-t", 2, "-C", 2, "--timeout", 100]
        p = subprocess.run(list(map(str, argv)), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    r = json.loads(p.stdout)
    assert r["requests"] == 0 and r["errors"] == 0
    assert r["timeouts"] == 1000   # 2,000/s for 0.5 s
