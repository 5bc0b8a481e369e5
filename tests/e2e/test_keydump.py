"""Key listing: `stats cachedump` and `lru_crawler metadump`, byte for byte
as Debian's memcached 1.6.18 writes them (order aside: xdpcached lists in
table order), and the tools that use them: memcdump (libmemcached-tools),
memcached-tool's dump and keys, and php-memcached's getAllKeys."""

import re
import shutil
import subprocess

import pytest

from helpers import Conn

MEMCACHED_TOOL = "/usr/share/memcached/scripts/memcached-tool"

# Keys that need uri-encoding in metadump, a binary one among them; one
# with flags, one that expires; all small enough for memcached's class 1 (xdpcached
# reports every item in class 1).
ITEMS = [(b"k", b"x", 0, 100), (b"c%20d", b"xyz", 5, 0), (b"bin\xff\x01", b"y", 0, 0),
         (b"plain_key-1.2~", b"v" * 10, 7, 3600)]


def _fill(port):
    with Conn(port) as c:
        for key, value, flags, exptime in ITEMS:
            assert c.set(key, value, flags, exptime) == b"STORED"
        c.get(b"k")     # fetch=yes for one of them


def _ask(port, request):
    """The whole reply to a listing request, split into lines: up to END, or
    one error line. (metadump ends its lines with a bare LF, as memcached.)"""
    with Conn(port) as c:
        c.send(request)
        lines = []
        while True:
            parts = c.readline().split(b"\n")
            lines += parts
            if parts[-1] == b"END" or not parts[0].startswith((b"ITEM ", b"key=")):
                return lines


def _normalised(lines):
    """Sorted lines, with unix times (both servers started at different
    seconds) made relative to the first la= value."""
    return sorted(re.sub(rb"(exp|la)=\d{9,}", rb"\1=<t>",
                         re.sub(rb"\[(\d+) b; \d{9,} s\]", rb"[\1 b; <t> s]", line))
                  for line in lines)


REQUESTS = [b"lru_crawler metadump all\r\n", b"lru_crawler metadump hash\r\n",
            b"lru_crawler metadump 1\r\n", b"lru_crawler metadump 2,1\r\n",
            b"lru_crawler metadump 2\r\n", b"lru_crawler metadump 0\r\n",
            b"lru_crawler metadump 64\r\n", b"lru_crawler metadump 1,x\r\n",
            b"lru_crawler metadump\r\n", b"lru_crawler metadump all x\r\n", b"lru_crawler foo\r\n",
            b"stats cachedump 1 0\r\n", b"stats cachedump 2 0\r\n", b"stats cachedump 63 0\r\n",
            b"stats cachedump 64 0\r\n", b"stats cachedump 1\r\n", b"stats cachedump a 0\r\n",
            b"stats cachedump 1 -1\r\n", b"stats cachedump 1 0 x\r\n"]


@pytest.mark.protocol
@pytest.mark.parametrize("flags", [(), ("-X",), ("-o", "no_lru_crawler")],
                         ids=["default", "dumping_off", "crawler_off"])
def test_listings_match_memcached(server_factory, memcached_factory, flags):
    ours = server_factory(*flags, udp=False)
    ref = memcached_factory(*flags, udp=False)
    _fill(ours.port)
    _fill(ref.port)
    for request in REQUESTS:
        assert _normalised(_ask(ours.port, request)) == _normalised(_ask(ref.port, request)), request


def test_metadump_times_are_unix_times(server):
    with Conn(server.port) as c:
        c.cmd(b"flush_all")
        assert c.set(b"t", b"1", exptime=100) == b"STORED"
        now = int(c.stats()["time"])
    line = _ask(server.port, b"lru_crawler metadump all\r\n")[0]
    fields = dict(f.split(b"=", 1) for f in line.split())
    assert abs(int(fields[b"la"]) - now) <= 1
    assert abs(int(fields[b"exp"]) - (now + 100)) <= 1


def test_cachedump_limit(server):
    with Conn(server.port) as c:
        c.cmd(b"flush_all")
        for i in range(10):
            c.set(b"key%d" % i, b"v")
    assert len(_ask(server.port, b"stats cachedump 1 3\r\n")) == 3 + 1
    assert len(_ask(server.port, b"stats cachedump 1 0\r\n")) == 10 + 1


def test_cachedump_stops_at_two_megabytes(server_factory):
    srv = server_factory(udp=False)
    with Conn(srv.port) as c:
        key = b"k" * 240
        batch = b"".join(b"set %s%05d 0 0 1 noreply\r\nv\r\n" % (key, i) for i in range(10000))
        c.send(batch)
        assert c.cmd(b"version").startswith(b"VERSION")
    lines = _ask(srv.port, b"stats cachedump 1 0\r\n")
    assert lines[-1] == b"END"
    listed = sum(len(line) + 2 for line in lines)   # with CRLF
    assert 2 * 1024 * 1024 - 300 < listed <= 2 * 1024 * 1024
    assert len(_ask(srv.port, b"lru_crawler metadump all\r\n")) == 10000 + 1


def _many_keys(port, n=2000):
    keys = [b"key:%d" % i for i in range(n)]
    with Conn(port) as c:
        c.send(b"".join(b"set %s 0 0 2 noreply\r\nvv\r\n" % k for k in keys))
        assert c.cmd(b"version").startswith(b"VERSION")
    return keys


@pytest.mark.skipif(shutil.which("memcdump") is None, reason="memcdump (libmemcached-tools) not installed")
def test_memcdump(server_factory):
    srv = server_factory(udp=False)
    keys = _many_keys(srv.port)
    out = subprocess.run(["memcdump", f"--servers=127.0.0.1:{srv.port}"], capture_output=True,
                         timeout=30, check=True).stdout
    assert sorted(out.split()) == sorted(keys)


def _memcached_tool(port, mode):
    return subprocess.run(["perl", MEMCACHED_TOOL, f"127.0.0.1:{port}", mode], capture_output=True,
                          timeout=30, check=True).stdout


@pytest.mark.skipif(not shutil.os.path.exists(MEMCACHED_TOOL),
                    reason="memcached-tool (Debian's memcached package) not installed")
def test_memcached_tool_dump_and_keys(server_factory):
    srv = server_factory(udp=False)
    keys = _many_keys(srv.port, 500)
    dump = _memcached_tool(srv.port, "dump").split(b"\r\n")
    adds = [line.split() for line in dump if line.startswith(b"add ")]
    assert sorted(a[1] for a in adds) == sorted(keys)
    assert all(a[2:] == [b"0", b"0", b"2"] for a in adds)
    listed = [line.split()[0] for line in _memcached_tool(srv.port, "keys").splitlines()]
    assert sorted(listed) == sorted(b"key=" + k.replace(b":", b"%3A") for k in keys)


def _php_memcached():
    if shutil.which("php") is None:
        return False
    probe = subprocess.run(["php", "-r", "exit(class_exists('Memcached') ? 0 : 1);"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _php_memcached(), reason="php-cli with php-memcached not installed")
def test_php_get_all_keys(server_factory):
    srv = server_factory(udp=False)
    keys = _many_keys(srv.port, 300)
    script = ("$m = new Memcached(); $m->addServer('127.0.0.1', %d);"
              "$k = $m->getAllKeys(); if ($k === false) { echo 'FAILED ', $m->getResultMessage(); exit(1); }"
              "sort($k); echo implode(\"\\n\", $k);" % srv.port)
    out = subprocess.run(["php", "-r", script], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(out.stdout.split(b"\n")) == sorted(keys)
