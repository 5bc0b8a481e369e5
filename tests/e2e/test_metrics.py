"""--metrics-listen: GET /metrics in Prometheus' text format, checked by
`promtool check metrics` (Debian's prometheus package), with the memcached
exporter's names and every numeric `stats` line."""

import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from helpers import Conn
from servers import HOST, free_port


@pytest.fixture
def metrics_server(server_factory):
    port = free_port()
    srv = server_factory("--metrics-listen", f"{HOST}:{port}")
    return srv, port


def _scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=10) as r:
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return r.read().decode()


def _samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_exporter_names_and_values(metrics_server):
    srv, port = metrics_server
    with Conn(srv.port) as c:
        c.set(b"a", b"1")
        c.set(b"b", b"2")
        c.get(b"a")
        c.get(b"missing")
        c.cmd(b"incr a 5")
        c.cmd(b"delete b")
        c.cmd(b"cas a 0 0 1 999\r\nz")
        stats = c.stats()
    m = _samples(_scrape(port))
    assert m["memcached_up"] == 1
    assert m['memcached_version{version="1.6.18"}'] == 1
    assert m['memcached_commands_total{command="get",status="hit"}'] == 1
    assert m['memcached_commands_total{command="get",status="miss"}'] == 1
    assert m['memcached_commands_total{command="incr",status="hit"}'] == 1
    assert m['memcached_commands_total{command="delete",status="hit"}'] == 1
    assert m['memcached_commands_total{command="cas",status="badval"}'] == 1
    # cmd_set counts the cas too; the exporter's set does not
    assert m['memcached_commands_total{command="set",status="hit"}'] == 2
    assert m["memcached_current_items"] == 1
    assert m["memcached_items_total"] == int(stats["total_items"])
    assert m["memcached_limit_bytes"] == 64 * 1024 * 1024
    assert m["memcached_max_connections"] == 1024
    assert m["xdpcached_cmd_get_total"] == 2
    # every numeric stats line is somewhere
    text = _scrape(port)
    for name, value in stats.items():
        if re.fullmatch(r"[0-9.]+", value) and name not in ("pid", "pointer_size", "version",
                                                            "xdpcached_version"):
            assert re.search(rf"^\S*{name}\S* ", text, re.M) or name in (
                "curr_items", "total_items", "bytes", "limit_maxbytes", "uptime", "time",
                "rusage_user", "rusage_system", "max_connections", "curr_connections",
                "total_connections", "rejected_connections", "conn_yields",
                "listen_disabled_num", "evictions", "reclaimed", "store_too_large",
                "store_no_memory", "bytes_read", "bytes_written", "cmd_set", "cmd_flush",
                "get_hits", "get_misses", "get_expired", "get_flushed", "delete_hits",
                "delete_misses", "incr_hits", "incr_misses", "decr_hits", "decr_misses",
                "cas_hits", "cas_misses", "cas_badval", "touch_hits", "touch_misses",
                "time_in_listen_disabled_us"), name
    # in seconds, as Prometheus counts time
    assert m["xdpcached_listener_disabled_seconds_total"] == \
        int(stats["time_in_listen_disabled_us"]) / 1e6


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool (Debian's prometheus package) not installed")
def test_promtool_check_metrics(metrics_server):
    srv, port = metrics_server
    with Conn(srv.port) as c:
        c.set(b"k", b"v")
    check = subprocess.run(["promtool", "check", "metrics"], input=_scrape(port), text=True,
                           capture_output=True, timeout=60)
    assert check.returncode == 0 and check.stdout + check.stderr == "", check.stdout + check.stderr


def test_bad_requests(metrics_server):
    _, port = metrics_server
    with pytest.raises(urllib.error.HTTPError) as e:
        _scrape(port, "/nothing")
    assert e.value.code == 404
    req = urllib.request.Request(f"http://{HOST}:{port}/metrics", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 405
    # a request head over 4 KB is refused, and the endpoint still serves
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"y" * 8192 + b"\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    assert "memcached_up 1" in _scrape(port)


def test_a_silent_client_is_dropped_and_others_are_served(metrics_server):
    _, port = metrics_server
    with socket.create_connection((HOST, port), timeout=10) as silent:
        start = time.monotonic()
        assert "memcached_up 1" in _scrape(port)
        # served after the silent one's 2-second read timeout at most
        assert time.monotonic() - start < 8
        silent.settimeout(5)
        assert silent.recv(100).startswith(b"HTTP/1.1 400")


def test_busy_metrics_port_fails_at_start():
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        from servers import xdpcached_bin
        rc = subprocess.run([xdpcached_bin(), "-l", HOST, "-p", str(free_port()), "-U", "0",
                             "--metrics-listen", f"{HOST}:{port}"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=10)
        assert rc.returncode == 71
        assert "metrics: failed to listen" in rc.stderr
