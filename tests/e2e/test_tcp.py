"""Protocol tests over TCP against the running daemon: pymemcache and raw
sockets. Every loop is bounded in count and time; only 127.0.0.1 is used."""

import select
import socket
import threading
import time

import pytest
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError, MemcacheServerError

from helpers import Conn, proc_status_kb

pytestmark = pytest.mark.protocol

MAX_VALUE = 1048516      # largest value for a 1-byte key, flags 0, CAS on, -I 1m


def client(srv, **kw):
    return Client(("127.0.0.1", srv.port), connect_timeout=5, timeout=10,
                  default_noreply=False, **kw)


def unique(prefix, request):
    """A key prefix unique to the test, as the shared server keeps its data."""
    return (prefix + request.node.name).encode()[:200].replace(b" ", b"_")


# -- round trips ---------------------------------------------------------------

def test_set_get_roundtrip(server, request):
    k = unique("rt", request)
    c = client(server)
    assert c.set(k, b"hello", expire=0) is True
    assert c.get(k) == b"hello"
    assert c.set(k, b"world", flags=0) is True
    assert c.get(k) == b"world"
    assert c.add(k, b"x") is False
    assert c.replace(k, b"r") is True
    assert c.append(k, b"-end") is True
    assert c.prepend(k, b"start-") is True
    assert c.get(k) == b"start-r-end"
    assert c.delete(k) is True
    assert c.get(k) is None
    assert c.delete(k) is False
    assert c.replace(k, b"r") is False
    assert c.add(k, b"a") is True
    assert c.get(k) == b"a"
    c.close()


def test_flags_preserved(server, request):
    k = unique("fl", request)
    with Conn(server.port) as c:
        for flags in (0, 1, 12345, 2**31, 2**32 - 1):
            assert c.set(k, b"v", flags=flags) == b"STORED"
            assert c.get_multi(b"get", [k])[k][0] == flags


def test_binary_safe_values(server, request):
    k = unique("bin", request)
    values = [bytes(range(256)), b"\r\n", b"a\r\nb", b"END\r\n", b"\r\nEND\r\n\r\n",
              b"\x00" * 100, b"VALUE x 0 1\r\nx\r\nEND\r\n", bytes(range(256)) * 64, b""]
    with Conn(server.port) as c:
        for i, v in enumerate(values):
            key = k + b"%d" % i
            assert c.set(key, v) == b"STORED"
            assert c.get(key) == v
        got = c.get_multi(b"get", [k + b"%d" % i for i in range(len(values))])
        assert [got[k + b"%d" % i][1] for i in range(len(values))] == values
    c = client(server)
    assert c.set(k, bytes(range(256))) is True
    assert c.get(k) == bytes(range(256))
    c.close()


def test_value_at_item_size_limit(server, request):
    k = b"L"            # a 1-byte key: the limit depends on the key length
    big = bytes(range(256)) * (MAX_VALUE // 256) + b"z" * (MAX_VALUE % 256)
    assert len(big) == MAX_VALUE
    with Conn(server.port, timeout=30) as c:
        assert c.set(k, big) == b"STORED"
        assert c.get(k) == big
        assert c.set(k, big + b"1") == b"SERVER_ERROR object too large for cache"
        # memcached drops the old item when a set is too large.
        assert c.get(k) is None
        assert c.cmd(b"version").startswith(b"VERSION ")
        half = b"h" * (512 * 1024)
        assert c.set(unique("half", request), half) == b"STORED"
        assert c.get(unique("half", request)) == half


def test_multiget_100_keys(server, request):
    p = unique("mg", request)
    keys = [p + b"-%03d" % i for i in range(100)]
    c = client(server)
    for i, k in enumerate(keys):
        if i % 2 == 0:
            assert c.set(k, b"value-%d" % i) is True
    got = c.get_many(keys)
    assert got == {k: b"value-%d" % i for i, k in enumerate(keys) if i % 2 == 0}
    c.close()
    with Conn(server.port) as raw:
        got = raw.get_multi(b"gets", keys)
        assert sorted(got) == sorted(k for i, k in enumerate(keys) if i % 2 == 0)
        assert all(cas and cas > 0 for _f, _v, cas in got.values())


def test_pipelined_requests_in_one_write(server, request):
    p = unique("pl", request)
    n = 300
    data = b"".join(b"set %s%d 0 0 3\r\nv%02d\r\n" % (p, i, i % 100) for i in range(n))
    data += b"".join(b"get %s%d\r\n" % (p, i) for i in range(n))
    with Conn(server.port) as c:
        c.send(data)
        for i in range(n):
            assert c.readline() == b"STORED"
        for i in range(n):
            assert c.read_values() == {p + b"%d" % i: (0, b"v%02d" % (i % 100), None)}


# -- expiry --------------------------------------------------------------------

def test_expiry(server, request):
    p = unique("exp", request)
    now = int(time.time())
    with Conn(server.port) as c:
        assert c.set(p + b"rel1", b"v", exptime=1) == b"STORED"
        assert c.set(p + b"rel2", b"v", exptime=2) == b"STORED"
        assert c.set(p + b"abs2", b"v", exptime=now + 2) == b"STORED"
        assert c.set(p + b"neg", b"v", exptime=-1) == b"STORED"
        assert c.set(p + b"past", b"v", exptime=now - 100) == b"STORED"
        assert c.set(p + b"future", b"v", exptime=now + 1000) == b"STORED"
        assert c.set(p + b"long", b"v", exptime=1000) == b"STORED"
        assert c.set(p + b"touched", b"v", exptime=1) == b"STORED"
        assert c.cmd(b"touch " + p + b"touched 1000") == b"TOUCHED"
        assert c.set(p + b"gat", b"v", exptime=1) == b"STORED"
        assert p + b"gat" in c.get_multi(b"gat", [p + b"gat"], exptime=1000)
        assert c.set(p + b"shortened", b"v", exptime=1000) == b"STORED"
        assert c.cmd(b"touch " + p + b"shortened 1") == b"TOUCHED"
        # Right away: relative and future ones are there, negative and past gone.
        for k in (b"rel2", b"abs2", b"future", b"long"):
            assert c.get(p + k) == b"v", k
        assert c.get(p + b"neg") is None
        assert c.get(p + b"past") is None
        time.sleep(3.2)
        for k in (b"rel1", b"rel2", b"abs2", b"neg", b"past", b"shortened"):
            assert c.get(p + k) is None, k
        for k in (b"future", b"long", b"touched", b"gat"):
            assert c.get(p + k) == b"v", k


def test_flush_all(server_factory):
    srv = server_factory()
    with Conn(srv.port) as c:
        for i in range(10):
            c.set(b"k%d" % i, b"v")
        assert c.cmd(b"flush_all") == b"OK"
        assert all(c.get(b"k%d" % i) is None for i in range(10))
        assert c.set(b"after", b"v") == b"STORED"
        assert c.get(b"after") == b"v"
        c.send(b"flush_all noreply\r\n")
        assert c.cmd(b"version").startswith(b"VERSION")
        assert c.get(b"after") is None
        # Delayed: the items stay until the time comes.
        assert c.set(b"d1", b"v") == b"STORED"
        assert c.cmd(b"flush_all 2") == b"OK"
        assert c.get(b"d1") == b"v"
        deadline = time.monotonic() + 4
        while c.get(b"d1") is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert c.get(b"d1") is None
        assert int(c.stats()["cmd_flush"]) == 3
        # pymemcache's flush_all.
        cl = client(srv)
        assert cl.set(b"p", b"v") is True
        assert cl.flush_all(noreply=False) is True
        assert cl.get(b"p") is None
        cl.close()


# -- cas, incr/decr, touch/gat -------------------------------------------------

def test_cas(server, request):
    k = unique("cas", request)
    c = client(server)
    assert c.set(k, b"1") is True
    v, cas = c.gets(k)
    assert v == b"1" and int(cas) > 0
    assert c.cas(k, b"2", cas) is True
    assert c.cas(k, b"3", cas) is False          # EXISTS: stale CAS
    v2, cas2 = c.gets(k)
    assert v2 == b"2" and cas2 != cas
    assert c.cas(k + b"missing", b"x", cas2) is None   # NOT_FOUND
    c.close()
    with Conn(server.port) as raw:
        _, cas3 = raw.gets(k)
        assert raw.cmd(b"touch " + k + b" 100") == b"TOUCHED"
        assert raw.store(b"cas", k, b"4", cas=cas3) == b"STORED"
        _, cas4 = raw.gets(k)
        assert raw.cmd(b"incr " + k + b" 1") == b"5"
        assert raw.store(b"cas", k, b"6", cas=cas4) == b"EXISTS"


def test_incr_decr(server, request):
    k = unique("num", request)
    c = client(server)
    assert c.set(k, b"10") is True
    assert c.incr(k, 5) == 15
    assert c.decr(k, 20) == 0
    assert c.incr(k + b"missing", 1) is None
    assert c.set(k, b"18446744073709551615") is True
    assert c.incr(k, 2) == 1
    c.close()
    with Conn(server.port) as raw:
        raw.set(k, b"10")
        assert raw.cmd(b"decr " + k + b" 1") == b"9"
        assert raw.get(k) == b"9 "          # memcached pads in place
        raw.set(k, b"abc")
        assert raw.cmd(b"incr " + k + b" 1") == \
            b"CLIENT_ERROR cannot increment or decrement non-numeric value"
        assert raw.cmd(b"incr " + k + b" -1") == b"CLIENT_ERROR invalid numeric delta argument"


def test_touch_and_gat(server, request):
    k = unique("t", request)
    with Conn(server.port) as c:
        assert c.cmd(b"touch " + k + b" 10") == b"NOT_FOUND"
        c.set(k, b"v", flags=9)
        assert c.cmd(b"touch " + k + b" 10") == b"TOUCHED"
        got = c.get_multi(b"gat", [k, k + b"x"], exptime=100)
        assert got == {k: (9, b"v", None)}
        got = c.get_multi(b"gats", [k], exptime=100)
        assert got[k][:2] == (9, b"v") and got[k][2] > 0
        assert c.get_multi(b"gat", [k], exptime=-1) == {k: (9, b"v", None)}
        assert c.get(k) is None
    cl = client(server)
    assert cl.set(k, b"v") is True
    assert cl.touch(k, 100) is True
    assert cl.touch(k + b"x", 100) is False
    cl.close()


# -- stats ---------------------------------------------------------------------

GENERAL_STATS = ("pid", "uptime", "time", "version", "pointer_size", "rusage_user", "rusage_system",
                 "max_connections", "curr_connections", "total_connections", "rejected_connections",
                 "connection_structures", "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "get_hits",
                 "get_misses", "get_expired", "delete_misses", "delete_hits", "incr_misses", "incr_hits",
                 "decr_misses", "decr_hits", "cas_misses", "cas_hits", "cas_badval", "touch_hits",
                 "touch_misses", "store_too_large", "store_no_memory", "threads", "bytes_read",
                 "bytes_written", "limit_maxbytes", "accepting_conns", "curr_items", "total_items",
                 "bytes", "evictions", "reclaimed", "hash_power_level", "hash_bytes", "expired_unfetched",
                 "evicted_unfetched", "conn_yields")


def test_stats_fields_present(server):
    with Conn(server.port) as c:
        st = c.stats()
    missing = [f for f in GENERAL_STATS if f not in st]
    assert not missing, f"missing stats: {missing}"
    assert int(st["pid"]) == server.pid()
    assert int(st["threads"]) == 2
    assert int(st["limit_maxbytes"]) == 64 * 1024 * 1024
    assert int(st["time"]) == pytest.approx(time.time(), abs=3)
    assert st["version"]


def test_stats_counters_move(server_factory):
    srv = server_factory()
    with Conn(srv.port) as c:
        s0 = c.stats()
        assert int(s0["curr_items"]) == 0 and int(s0["total_items"]) == 0
        c.set(b"a", b"1")
        c.set(b"b", b"22")
        c.set(b"a", b"333")
        c.get(b"a")
        c.get(b"missing")
        c.get_multi(b"get", [b"a", b"b", b"nope"])
        c.cmd(b"delete b")
        c.cmd(b"delete b")
        c.cmd(b"incr a 1")
        c.cmd(b"incr nope 1")
        c.cmd(b"decr a 1")
        c.cmd(b"decr nope 1")
        c.cmd(b"touch a 100")
        c.cmd(b"touch nope 100")
        _, cas = c.gets(b"a")
        c.store(b"cas", b"a", b"9", cas=cas)
        c.store(b"cas", b"a", b"9", cas=cas)
        c.store(b"cas", b"nope", b"9", cas=cas)
        s1 = c.stats()
        d = {k: int(s1[k]) - int(s0[k]) for k in (
            "cmd_get", "get_hits", "get_misses", "cmd_set", "delete_hits", "delete_misses",
            "incr_hits", "incr_misses", "decr_hits", "decr_misses", "touch_hits", "touch_misses",
            "cmd_touch", "cas_hits", "cas_badval", "cas_misses", "curr_items", "total_items")}
        # gets counts as a get; incr/decr rewrite in place (no new item).
        assert d == {"cmd_get": 6, "get_hits": 4, "get_misses": 2, "cmd_set": 6, "delete_hits": 1,
                     "delete_misses": 1, "incr_hits": 1, "incr_misses": 1, "decr_hits": 1,
                     "decr_misses": 1, "touch_hits": 1, "touch_misses": 1, "cmd_touch": 2,
                     "cas_hits": 1, "cas_badval": 1, "cas_misses": 1, "curr_items": 1,
                     "total_items": 4}
        assert int(s1["bytes_read"]) > int(s0["bytes_read"])
        assert int(s1["bytes_written"]) > int(s0["bytes_written"])
        assert int(s1["bytes"]) > 0
        # Connections: one more while a second client is connected. The
        # start-up probe's connection may still be counted until its worker
        # sees it close: take the base once the count holds still.
        base = int(s1["curr_connections"])
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = int(c.stats()["curr_connections"])
            if now == base:
                break
            base = now
        total = int(c.stats()["total_connections"])
        other = Conn(srv.port)
        other.cmd(b"version")
        assert int(c.stats()["curr_connections"]) == base + 1
        assert int(c.stats()["total_connections"]) == total + 1
        other.close()
        deadline = time.monotonic() + 3
        while int(c.stats()["curr_connections"]) != base and time.monotonic() < deadline:
            time.sleep(0.05)
        assert int(c.stats()["curr_connections"]) == base
        # stats reset clears the counters but not the items.
        assert c.cmd(b"stats reset") == b"RESET"
        s2 = c.stats()
        assert int(s2["cmd_get"]) == 0 and int(s2["get_hits"]) == 0 and int(s2["cmd_set"]) == 0
        assert int(s2["curr_items"]) == 1
    cl = client(srv)
    st = cl.stats()
    assert st[b"curr_items"] == 1
    cl.close()


SETTINGS_FLAGS = ("-m", "32", "-c", "77", "-I", "2m", "-R", "7", "-C", "-F", "-M", "-b", "99")
SETTINGS_KEYS = ("maxbytes", "maxconns", "tcpport", "udpport", "inter", "verbosity", "evictions",
                 "num_threads", "reqs_per_event", "cas_enabled", "tcp_backlog", "item_size_max",
                 "flush_enabled", "shutdown_command", "maxconns_fast", "hashpower_init",
                 "idle_timeout", "lru_crawler")


@pytest.mark.parametrize("flags", [(), SETTINGS_FLAGS, ("-A", "-v", "-o", "idle_timeout=30,hashpower=18")],
                         ids=["defaults", "many_flags", "options"])
def test_stats_settings_reflects_flags(server_factory, memcached_factory, flags):
    """Every setting xdpcached reports has memcached's value for the same flags."""
    x, m = server_factory(*flags), memcached_factory(*flags)
    with Conn(x.port) as c:
        xs = c.stats(b"settings")
    with Conn(m.port) as c:
        ms = c.stats(b"settings")
    missing = [k for k in SETTINGS_KEYS if k not in xs]
    assert not missing, f"stats settings lacks {missing}"
    assert xs["tcpport"] == str(x.port) and xs["udpport"] == str(x.port)
    unknown = [k for k in xs if k not in ms]
    assert not unknown, f"settings that memcached does not have: {unknown}"
    diff = {k: (ms[k], xs[k]) for k in xs if k not in ("tcpport", "udpport") and xs[k] != ms[k]}
    assert not diff, f"(memcached, xdpcached) values differ: {diff}"


def test_stats_subcommands_answer(server, request):
    k = unique("s", request)
    with Conn(server.port) as c:
        c.set(k, b"v" * 100)
        for sub in (b"items", b"slabs", b"sizes", b"settings", b""):
            c.send(b"stats " + sub + b"\r\n" if sub else b"stats\r\n")
            reply = c.read_until(b"END\r\n", timeout=5)
            lines = reply.split(b"\r\n")[:-2]
            assert all(line.startswith(b"STAT ") and len(line.split(b" ")) >= 3 for line in lines), reply[:500]
        assert c.cmd(b"stats nosuchthing") == b"ERROR"
        assert c.cmd(b"stats detail") == b"CLIENT_ERROR usage: stats detail on|off|dump"


def test_stats_sizes_is_a_live_histogram(server_factory):
    # A deliberate difference: memcached answers "STAT sizes_status disabled"
    # unless started with -o track_sizes; xdpcached always counts.
    srv = server_factory()
    with Conn(srv.port) as c:
        assert c.cmd(b"stats sizes") == b"END"
        for i in range(10):
            c.set(b"small%d" % i, b"v")
        c.set(b"big", b"v" * 5000)
        c.send(b"stats sizes\r\n")
        lines = c.read_until(b"END\r\n", timeout=5)
        rows = [line.split(b" ") for line in lines.split(b"\r\n")[:-2]]
        counts = {int(size): int(count) for _, size, count in rows}
        assert sum(counts.values()) == 11, lines
        assert sorted(counts.values()) == [1, 10], lines
        assert all(size % 32 == 0 for size in counts), lines
        assert max(counts) > 5000 > min(counts), lines


# -- limits and options ----------------------------------------------------------

def test_connection_limit(server_factory):
    srv = server_factory("-c", "20")
    accepted, rejected = [], 0
    try:
        for _ in range(30):
            c = Conn(srv.port, timeout=5)
            line = c.cmd(b"version")
            if line.startswith(b"VERSION"):
                accepted.append(c)
                continue
            assert line == b"ERROR Too many open connections"
            assert c.is_closed(timeout=3), "rejected connection left open"
            c.close()
            rejected += 1
        assert 1 <= len(accepted) <= 20
        assert rejected == 30 - len(accepted)
    finally:
        for c in accepted[1:]:
            c.close()
    # Closing connections makes room again.
    deadline = time.monotonic() + 5
    while True:
        c = Conn(srv.port)
        line = c.cmd(b"version")
        c.close()
        if line.startswith(b"VERSION") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert line.startswith(b"VERSION")
    st = accepted[0].stats()
    accepted[0].close()
    assert int(st["rejected_connections"]) >= rejected
    assert int(st["max_connections"]) == 20


def test_no_eviction_out_of_memory(server_factory):
    srv = server_factory("-m", "8", "-M")
    val = b"v" * 10000
    errors, stored = 0, 0
    with Conn(srv.port) as c:
        for i in range(4 * 8 * 1024 * 1024 // len(val)):
            r = c.store(b"set", b"key%d" % i, val)
            if r == b"STORED":
                stored += 1
                assert errors == 0, "stored after the first out-of-memory error"
            else:
                assert r == b"SERVER_ERROR out of memory storing object"
                errors += 1
        assert stored > 0 and errors > 0
        assert c.get(b"key0") == val
        assert c.get(b"key%d" % (stored - 1)) == val
        st = c.stats()
        assert int(st["evictions"]) == 0
        assert int(st["curr_items"]) == stored
        assert int(st["bytes"]) <= int(st["limit_maxbytes"]) == 8 * 1024 * 1024
        # Deleting makes room again.
        for i in range(stored):
            c.send(b"delete key%d noreply\r\n" % i)
        assert c.cmd(b"version").startswith(b"VERSION")
        assert c.store(b"set", b"again", val) == b"STORED"


def test_eviction_keeps_memory_bounded(server_factory):
    srv = server_factory("-m", "8")
    val = b"e" * 10000
    n = 4 * 8 * 1024 * 1024 // len(val)
    with Conn(srv.port, timeout=30) as c:
        batch = 100
        for start in range(0, n, batch):
            c.send(b"".join(b"set key%d 0 0 %d\r\n%s\r\n" % (i, len(val), val)
                            for i in range(start, min(n, start + batch))))
            for _ in range(start, min(n, start + batch)):
                assert c.readline() == b"STORED"
        st = c.stats()
        assert int(st["bytes"]) <= int(st["limit_maxbytes"]) == 8 * 1024 * 1024
        assert int(st["evictions"]) > 0
        assert int(st["total_items"]) == n
        assert int(st["curr_items"]) < n
        assert c.get(b"key%d" % (n - 1)) == val       # the newest survive
        assert c.get(b"key0") is None                  # the oldest went
    rss_mb = proc_status_kb(srv.pid()) / 1024
    limit = 8 + 64 if "asan" not in srv.binary else 8 + 512
    assert rss_mb < limit, f"RSS {rss_mb:.0f} MB with -m 8"


def test_cache_memlimit_changes_the_limit(server_factory, memcached_factory):
    """cache_memlimit moves maxbytes and limit_maxbytes as in memcached; a
    limit below the bytes in use is reached by evicting on the next write."""
    srv, ref = server_factory("-m", "64"), memcached_factory("-m", "64")
    val = b"m" * 10000
    for port in (srv.port, ref.port):
        with Conn(port) as c:
            assert c.cmd(b"cache_memlimit 16") == b"OK"
            assert c.stats(b"settings")["maxbytes"] == str(16 << 20)
            assert c.stats()["limit_maxbytes"] == str(16 << 20)
    with Conn(srv.port, timeout=30) as c:
        assert c.cmd(b"cache_memlimit 64") == b"OK"
        n = 3000                                  # about 30 MB
        c.send(b"".join(b"set key%d 0 0 %d noreply\r\n%s\r\n" % (i, len(val), val)
                        for i in range(n)))
        st = c.stats()
        assert int(st["curr_items"]) == n and int(st["evictions"]) == 0
        assert c.cmd(b"cache_memlimit 8") == b"OK"
        assert c.store(b"set", b"after", val) == b"STORED"
        st = c.stats()
        assert int(st["bytes"]) <= int(st["limit_maxbytes"]) == 8 << 20
        assert int(st["evictions"]) == n + 1 - int(st["curr_items"])
        assert c.get(b"after") == val
        assert c.stats(b"settings")["maxbytes"] == str(8 << 20)


def test_lru_crawler_switch_shows_in_settings(server_factory, memcached_factory):
    """lru_crawler disable/enable move stats settings' lru_crawler, as in
    memcached (whose crawler thread stops a moment after disable)."""
    for port in (server_factory().port, memcached_factory().port):
        with Conn(port) as c:
            assert c.stats(b"settings")["lru_crawler"] == "yes"
            assert c.cmd(b"lru_crawler disable") == b"OK"
            for _ in range(50):
                if c.stats(b"settings")["lru_crawler"] == "no":
                    break
                time.sleep(0.02)
            assert c.stats(b"settings")["lru_crawler"] == "no"
            assert c.cmd(b"lru_crawler crawl all") == b"CLIENT_ERROR lru crawler disabled"
            assert c.cmd(b"lru_crawler enable") == b"OK"
            assert c.stats(b"settings")["lru_crawler"] == "yes"


def test_cas_disabled(server_factory):
    srv = server_factory("-C")
    with Conn(srv.port) as c:
        c.set(b"a", b"1")
        assert c.get_multi(b"gets", [b"a"]) == {b"a": (0, b"1", 0)}
        assert c.get_multi(b"gats", [b"a"], exptime=100) == {b"a": (0, b"1", 0)}
        assert c.stats(b"settings")["cas_enabled"] == "no"


def test_flush_disabled(server_factory):
    srv = server_factory("-F")
    with Conn(srv.port) as c:
        c.set(b"a", b"1")
        assert c.cmd(b"flush_all") == b"CLIENT_ERROR flush_all not allowed"
        assert c.cmd(b"flush_all 0") == b"CLIENT_ERROR flush_all not allowed"
        assert c.get(b"a") == b"1"
        assert c.stats(b"settings")["flush_enabled"] == "no"


def test_small_item_size_max(server_factory):
    srv = server_factory("-I", "512k")
    with Conn(srv.port) as c:
        assert c.set(b"a", b"v" * 524228) == b"STORED"
        assert c.set(b"b", b"v" * 524229) == b"SERVER_ERROR object too large for cache"
        assert c.get(b"a") == b"v" * 524228
        assert c.stats(b"settings")["item_size_max"] == str(512 * 1024)


def test_quit_closes(server):
    c = Conn(server.port)
    c.send(b"quit\r\n")
    assert c.is_closed(timeout=3)
    c.close()
    c = Conn(server.port)
    c.send(b"version\r\nquit\r\nversion\r\n")
    assert c.readline().startswith(b"VERSION")
    assert c.is_closed(timeout=3)
    assert c.buf == b""
    c.close()
    cl = client(server)
    cl.quit()


def test_server_survives_abrupt_clients(server, request):
    k = unique("ab", request)
    for data in (b"set " + k + b" 0 0 100\r\nabc", b"get " + k, b"gets " + b"x " * 2000, b"\x00\xff" * 100):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(data)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()       # RST
    with Conn(server.port) as c:
        assert c.cmd(b"version").startswith(b"VERSION")


def test_slow_reader_memory_bounded(server):
    """Many gets of a big value, never read: the server must stop reading
    instead of queueing replies without bound."""
    with Conn(server.port) as c:
        c.set(b"slowbig", b"x" * 500000)
    pid = server.pid()
    base = proc_status_kb(pid)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.setblocking(False)
    req = b"get slowbig\r\n" * 1000
    sent, peak = 0, base
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3 and sent < 100_000_000:
        _, w, _ = select.select([], [s], [], 0.1)
        if w:
            try:
                sent += s.send(req)
            except BlockingIOError:
                pass
        peak = max(peak, proc_status_kb(pid))
    s.close()
    growth_mb = (peak - base) / 1024
    # Each request asks for 500 kB: had the server queued the replies to what
    # it read, it would need (sent / 13) * 0.5 MB.
    print(f"RSS growth {growth_mb:.1f} MB")
    assert growth_mb < 100, f"RSS grew by {growth_mb:.0f} MB after {sent} bytes of requests"
    with Conn(server.port) as c:
        assert c.cmd(b"version").startswith(b"VERSION")


def test_concurrent_clients(server, request):
    p = unique("cc", request)
    nthreads, nops = 8, 200
    errors = []
    with Conn(server.port) as c:
        assert c.set(p + b"counter", b"0") == b"STORED"

    def worker(t):
        try:
            cl = client(server)
            for i in range(nops):
                k = p + b"-%d-%d" % (t, i)
                assert cl.set(k, b"%d:%d" % (t, i)) is True
                assert cl.get(k) == b"%d:%d" % (t, i)
                cl.incr(p + b"counter", 1)
            got = cl.get_many([p + b"-%d-%d" % (t, i) for i in range(nops)])
            assert len(got) == nops
            cl.close()
        except Exception as e:    # reported below
            errors.append(f"thread {t}: {e!r}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "client threads hung"
    assert not errors, errors
    with Conn(server.port) as c:
        assert c.get(p + b"counter") == b"%d" % (nthreads * nops)


def test_errors_keep_connection(server):
    with Conn(server.port) as c:
        assert c.cmd(b"bogus") == b"ERROR"
        assert c.cmd(b"set a 0 0 x") == b"CLIENT_ERROR bad command line format"
        assert c.cmd(b"get " + b"k" * 251) == b"CLIENT_ERROR bad command line format"
        c.send(b"set a 0 0 2\r\nabcd\r\n")
        assert c.readline() == b"CLIENT_ERROR bad data chunk"
        assert c.readline() == b"ERROR"
        assert c.cmd(b"version").startswith(b"VERSION")


def test_pymemcache_misc(server, request):
    k = unique("pm", request)
    cl = client(server)
    assert cl.version()
    assert cl.set_many({k + b"1": b"a", k + b"2": b"b"}) == []
    assert cl.get_many([k + b"1", k + b"2"]) == {k + b"1": b"a", k + b"2": b"b"}
    assert cl.delete_many([k + b"1", k + b"2"]) is True
    with pytest.raises(MemcacheClientError):
        cl.set(b"k" * 251, b"v")
    with pytest.raises(MemcacheServerError):
        cl.set(k, b"v" * (2 * 1024 * 1024))
    assert cl.get(k) is None
    cl.close()
