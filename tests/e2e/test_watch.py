"""`watch` against Debian's memcached 1.6.18: the log lines of fetches,
stores, evictions and connections, the skipped-lines notice of a slow
watcher, the watcher limit and -W. Times, ids, descriptors and client
ports differ between any two servers and are masked."""

import re
import socket
import time

import pytest

from helpers import HOST, Conn

pytestmark = pytest.mark.protocol

# memcached logs a descriptor as the class of an item too large to make
MASKS = [(re.compile(r"ts=\d+\.\d+ gid=\d+ "), "ts gid "), (re.compile(r"cfd=\d+"), "cfd=N"),
         (re.compile(r"rport=\d+"), "rport=N"),
         (re.compile(r"status=too_large (.*) clsid=\d+"), r"status=too_large \1 clsid=N")]


def masked(line):
    for pattern, repl in MASKS:
        line = pattern.sub(repl, line)
    return line


class Watcher:
    def __init__(self, port, kinds=b"", rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5)
        self.sock.connect((HOST, port))
        self.sock.sendall(b"watch" + (b" " + kinds if kinds else b"") + b"\r\n")
        self.buf = b""
        assert self.line() == "OK"

    def line(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            assert chunk, "watcher closed"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode()

    def lines(self, n):
        return [masked(self.line()) for _ in range(n)]

    def close(self):
        self.sock.close()


def both(server_factory, memcached_factory, *args):
    return [f(*args, udp=False) for f in (memcached_factory, server_factory)]


def test_mutations_and_connevents_match_memcached(server_factory, memcached_factory):
    seen = []
    for srv in both(server_factory, memcached_factory):
        w = Watcher(srv.port, b"mutations connevents")
        with Conn(srv.port) as c:
            c.send(b"set foo 0 100 5\r\nhello\r\nadd foo 0 0 1\r\nx\r\nset a%b 0 0 1\r\nz\r\n"
                   b"cas foo 0 0 1 1\r\ny\r\nappend nope 0 0 1\r\nq\r\nms k 2 T0\r\nhi\r\n"
                   b"set big 0 0 2000000\r\n")
            c.send(b"x" * 2000000 + b"\r\nquit\r\n")
            assert c.is_closed()
        with socket.create_connection((HOST, srv.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\n")
            s.recv(10)
        seen.append(w.lines(11))
        w.close()
    # memcached merges its workers' logs in its own time: the two
    # connections' lines may interleave either way there
    assert sorted(seen[1]) == sorted(seen[0])
    assert seen[1][1] == "ts gid type=item_store key=foo status=stored cmd=set ttl=100 " \
                         "clsid=1 cfd=N size=5"


def test_fetchers_match_memcached(server_factory, memcached_factory):
    """Only reads by clients: memcached also logs the lookups its storage
    commands make inside, which nobody asked for (docs/differences.md)."""
    seen = []
    for srv in both(server_factory, memcached_factory):
        with Conn(srv.port) as c:
            assert c.cmd(b"set foo 0 0 5\r\nhello") == b"STORED"
            assert c.cmd(b"set short 0 1 1\r\nx") == b"STORED"
            w = Watcher(srv.port)
            c.send(b"get foo nope\r\ngets foo\r\ngat 100 foo\r\nmg foo v\r\nmg nope v\r\n")
            c.read_until(b"EN\r\n")
        seen.append(w.lines(6))
        w.close()
    assert seen[1] == seen[0]
    assert seen[1][0] == "ts gid type=item_get key=foo status=found clsid=1 cfd=N size=5"


def test_evictions_are_logged(server_factory, memcached_factory):
    value = b"B" * 11000
    for srv in both(server_factory, memcached_factory, "-m", "8"):
        with Conn(srv.port) as c:
            for i in range(1200):
                c.send(b"set n,foo%d 0 0 11000 noreply\r\n%s\r\n" % (i, value))
            assert c.cmd(b"version").startswith(b"VERSION")
            w = Watcher(srv.port, b"evictions")
            c.send(b"set bfoo 0 0 11000 noreply\r\n%s\r\n" % value)
            line = w.line()
        w.close()
        assert re.fullmatch(r"ts=\d+\.\d+ gid=\d+ type=eviction key=n%2Cfoo\d+ fetch=no "
                            r"ttl=-1 la=\d+ clsid=\d+ size=11000", line), (srv.kind, line)


BATCHES = 60


def test_a_slow_watcher_is_told_what_it_missed(server_factory):
    """A watcher that does not read loses lines instead of holding up the
    server; once there is room again it reads "skipped=N" first."""
    srv = server_factory("-o", "watcher_logbuf_size=8", udp=False)
    w = Watcher(srv.port, rcvbuf=4096)
    spacer = b"X" * 180
    with Conn(srv.port) as c:
        # more than the socket buffers on the way hold (a few MB)
        for batch in range(BATCHES):
            c.send(b"".join(b"get foo%d%s\r\n" % (batch * 500 + i, spacer) for i in range(500)))
            c.read_until(b"END\r\n" * 500)
        lines = []
        while True:
            try:
                lines.append(w.line(timeout=1.0))
            except TimeoutError:
                break
        c.send(b"get after\r\n")
        c.read_until(b"END\r\n")
        while "key=after" not in lines[-1]:
            lines.append(w.line())
    w.close()
    notices = [int(l.split("=")[1]) for l in lines if l.startswith("skipped=")]
    assert notices and all(n > 0 for n in notices), lines[-5:]
    assert len(lines) - len(notices) + sum(notices) == BATCHES * 500 + 1
    assert "key=after status=not_found" in lines[-1]


def test_limit_disable_and_bad_kinds_as_memcached(server_factory, memcached_factory):
    for srv in both(server_factory, memcached_factory):
        watchers = [Watcher(srv.port, b"mutations") for _ in range(20)]
        with Conn(srv.port) as c:
            assert c.cmd(b"watch") == b"WATCHER_TOO_MANY log watcher limit reached"
            assert c.cmd(b"watch fetchers bogus") == b"ERROR"
        watchers.pop().close()
        deadline = time.monotonic() + 5
        while True:   # the server notices the close in its own time
            with Conn(srv.port) as c:
                if c.cmd(b"watch") == b"OK":
                    break
            assert time.monotonic() < deadline, srv.kind
            time.sleep(0.05)
        for w in watchers:
            w.close()
    for srv in both(server_factory, memcached_factory, "-W"):
        with Conn(srv.port) as c:
            assert c.cmd(b"watch") == b"CLIENT_ERROR watch commands not allowed"


@pytest.mark.parametrize("args,size", [((), "262144"), (("-o", "watcher_logbuf_size=8"), "8192")])
def test_buffer_size_in_settings(args, size, server_factory, memcached_factory):
    for srv in both(server_factory, memcached_factory, *args):
        with Conn(srv.port) as c:
            assert c.stats(b"settings")["watcher_logbuf_size"] == size, srv.kind


def test_input_after_watch_is_ignored(server_factory):
    srv = server_factory(udp=False)
    w = Watcher(srv.port, b"fetchers")
    w.sock.sendall(b"get x\r\nversion\r\n")
    with Conn(srv.port) as c:
        assert c.cmd(b"get k") == b"END"
    assert "key=k status=not_found" in w.line()
    w.close()


def test_log_stats_as_memcached(server_factory, memcached_factory):
    """log_watchers, log_watcher_sent and log_watcher_skipped, which a
    `stats reset` zeroes (log_watchers stays: it is a level)."""
    for srv in both(server_factory, memcached_factory):
        w = Watcher(srv.port, b"mutations")
        with Conn(srv.port) as c:
            assert c.cmd(b"set k 0 0 1\r\nv") == b"STORED"
            w.line()
            st = c.stats()
            assert (st["log_watchers"], st["log_watcher_sent"], st["log_watcher_skipped"]) == \
                ("1", "1", "0"), srv.kind
            assert c.cmd(b"stats reset") == b"RESET"
            st = c.stats()
            assert (st["log_watchers"], st["log_watcher_sent"]) == ("1", "0"), srv.kind
        w.close()
