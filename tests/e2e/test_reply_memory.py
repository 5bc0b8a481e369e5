"""What a client can make the daemon hold (issue 11), read from /proc.

Big values go out by reference from their items, and what connections hold
in buffers and unsent replies is bounded by --buffer-memory, so no request
pattern raises RSS much beyond -m:
  - one get of the same 1 MB value 1,200 times, over TCP and UDP, while
    another client of the same worker (-t 1) is still answered (over UDP
    within 10 ms, the median of 9 gets: the one latency asserted, as the
    issue asks, since a worker that sends a long reply whole fails it by
    two orders of magnitude);
  - 200 connections pipelining gets of a 1 MB value and never reading;
  - 10,000 connections that each did one get (idle connections keep no
    buffers).
Other latencies are printed (pytest -s), not asserted: speed belongs to
make bench.
The bounds are the issue's, on the RSS itself (the growth for the 10,000
connections), and hold for the ASan build too.
"""

import resource
import select
import socket
import threading
import time

import pytest

from helpers import Conn, Udp, proc_status_kb, udp_frame
from servers import is_memcached, xdpcached_bin

pytestmark = pytest.mark.protocol

MEM_MB = 64
# The largest value a 1 MB item holds with a one-byte key (memcached's
# item_size_ok: 48-byte header, key + NUL, CRLF, 8 bytes of CAS).
BIG = 1024 * 1024 - 48 - 2 - 2 - 8
LIVENESS_S = 5.0
UDP_LIVENESS_S = 5.0
UDP_PROBES = 9
UDP_PROBE_MEDIAN_S = 0.010


def rss_mb(srv):
    return proc_status_kb(srv.pid()) / 1024


class RssSampler:
    """Samples the server's RSS in the background; peak_mb is the highest."""

    def __init__(self, srv):
        self.srv, self.peak_mb, self._stop = srv, rss_mb(srv), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.01):
            self.peak_mb = max(self.peak_mb, rss_mb(self.srv))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb(self.srv))


def big_server(server_factory, *extra):
    srv = server_factory("-m", str(MEM_MB), *extra, threads=1)
    with Conn(srv.port, timeout=30) as c:
        assert c.set(b"b", b"v" * BIG) == b"STORED"
        assert c.set(b"small", b"s") == b"STORED"
    return srv


def check_rss(what, base_mb, peak_mb, limit_mb):
    """Prints what was measured (pytest -s) and asserts the bound."""
    print(f"{what}: RSS {base_mb:.1f} MB before, peak {peak_mb:.1f} MB (bound {limit_mb:.1f})")
    assert peak_mb <= limit_mb, f"{what}: RSS {peak_mb:.0f} MB"


def timed_get_small(port):
    """Another client's get; returns its latency in seconds."""
    with Conn(port, timeout=LIVENESS_S) as other:
        t0 = time.monotonic()
        assert other.get(b"small") == b"s"
        return time.monotonic() - t0


def test_multiget_of_one_big_value_tcp(server_factory):
    srv = big_server(server_factory)
    base = rss_mb(srv)
    nkeys = 1200
    one = b"VALUE b 0 %d\r\n" % BIG + b"v" * BIG + b"\r\n"
    expected = nkeys * len(one) + len(b"END\r\n")
    with RssSampler(srv) as rss, Conn(srv.port, timeout=60) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        c.send(b"get" + b" b" * nkeys + b"\r\n")
        # The reply is pending (the socket is full) while another client asks.
        latencies = [timed_get_small(srv.port) for _ in range(5)]
        got, tail, buf = 0, b"", bytearray(4 << 20)
        deadline = time.monotonic() + 120
        while got < expected and time.monotonic() < deadline:
            n = c.sock.recv_into(buf)
            assert n > 0, "connection closed mid-reply"
            if got == 0:
                assert bytes(buf[:len(one) if n >= len(one) else n]) == one[:n]
            got += n
            tail = (tail + bytes(buf[max(0, n - 5):n]))[-5:]
        assert got == expected and tail == b"END\r\n"
    print(f"other client's get during the big reply: max {max(latencies) * 1000:.2f} ms")
    check_rss("1,200-key get of 1 MB over TCP", base, rss.peak_mb, MEM_MB + 64)


def udp_probe(other, request_id):
    """Another UDP client's get; returns its latency in seconds."""
    t0 = time.monotonic()
    other.send(udp_frame(request_id, b"get small\r\n"))
    answered = select.select([other.sock], [], [], UDP_LIVENESS_S)[0]
    latency = time.monotonic() - t0
    assert answered, "the other client got no answer"
    assert other.sock.recv(65536) == (udp_frame(request_id, b"VALUE small 0 1\r\ns\r\nEND\r\n")[:6]
                                      + b"\x00\x00" + b"VALUE small 0 1\r\ns\r\nEND\r\n")
    return latency


def bytes_written(port):
    with Conn(port) as c:
        return int(c.stats()["bytes_written"])


def test_multiget_of_one_big_value_udp(server_factory):
    """1.2 GB of reply drains a bounded batch of datagrams per event-loop
    turn, so the worker's other client is answered meanwhile: the median of
    UDP_PROBES gets must take at most UDP_PROBE_MEDIAN_S (the issue's 10 ms;
    a median, as a shared machine may delay one probe). A worker that sends
    the reply whole answers after it, in about a second."""
    srv = big_server(server_factory)
    base = rss_mb(srv)
    nkeys = 1200
    # Over 1.2 GB, whatever is dropped on the way.
    reply_bytes = nkeys * (BIG + len(b"VALUE b 0 %d\r\n\r\n" % BIG))
    written_before = bytes_written(srv.port)
    with RssSampler(srv) as rss, Udp(srv.port) as u, Udp(srv.port) as other:
        u.send(udp_frame(7, b"get" + b" b" * nkeys + b"\r\n"))
        assert select.select([u.sock], [], [], LIVENESS_S)[0], "no datagram of the big reply"
        latencies = sorted(udp_probe(other, 9 + i) for i in range(UDP_PROBES))
        arriving = bytes_written(srv.port) - written_before < reply_bytes
    median = latencies[len(latencies) // 2]
    print(f"other UDP client's gets while the big reply drains: "
          f"{', '.join(f'{t * 1000:.1f}' for t in latencies)} ms")
    assert median <= UDP_PROBE_MEDIAN_S, f"median {median * 1000:.1f} ms"
    assert arriving, "the big reply ended before the probes did"
    check_rss("1,200-key get of 1 MB over UDP", base, rss.peak_mb, MEM_MB + 64)


def test_longest_get_line_of_copied_values(server_factory):
    """The longest get line (4 MB, 1.9 million keys) of a value just below
    the size sent by reference: 1.9 GB of reply, never read. The get runs in
    parts, each sent before the next, so the daemon stops at the socket."""
    if is_memcached(xdpcached_bin()):
        pytest.skip("memcached runs the whole line before it serves another client")
    srv = server_factory("-m", str(MEM_MB), threads=1)
    value = b"c" * 1000
    with Conn(srv.port) as c:
        assert c.set(b"c", value) == b"STORED"
        assert c.set(b"small", b"s") == b"STORED"
    base = rss_mb(srv)
    nkeys = (4 * 1024 * 1024 - 16) // 2
    with RssSampler(srv) as rss:
        s = socket.create_connection(("127.0.0.1", srv.port))
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(b"get" + b" c" * nkeys + b"\r\n")
            time.sleep(0.5)
            latency = timed_get_small(srv.port)
        finally:
            s.close()
    print(f"another client's get beside it: {latency * 1000:.2f} ms")
    check_rss("4 MB get line of a 1000-byte value", base, rss.peak_mb, MEM_MB + 64)


def test_slow_readers_of_a_big_value(server_factory):
    srv = big_server(server_factory)
    base = rss_mb(srv)
    socks = []
    try:
        with RssSampler(srv) as rss:
            for _ in range(200):
                s = socket.create_connection(("127.0.0.1", srv.port))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"get b\r\n" * 64)
                socks.append(s)
            time.sleep(1.0)     # let the server run what it will
            latency = timed_get_small(srv.port)
    finally:
        for s in socks:
            s.close()
    print(f"another client's get beside 200 slow readers: {latency * 1000:.2f} ms")
    check_rss("200 slow readers", base, rss.peak_mb, 1.1 * MEM_MB + 64)


def test_idle_connections_keep_no_buffers(server_factory):
    nconns = 10_000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < nconns + 200:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {nconns + 200}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        srv = server_factory("-c", str(nconns + 100), threads=2)
        with Conn(srv.port) as c:
            assert c.set(b"k", b"v" * 100) == b"STORED"
            assert c.get(b"k") == b"v" * 100
        base = rss_mb(srv)
        socks = []
        try:
            reply = b"VALUE k 0 100\r\n" + b"v" * 100 + b"\r\nEND\r\n"
            for start in range(0, nconns, 500):
                batch = [socket.create_connection(("127.0.0.1", srv.port))
                         for _ in range(500)]
                for s in batch:
                    s.sendall(b"get k\r\n")
                for s in batch:
                    s.settimeout(10)
                    got = b""
                    while len(got) < len(reply):
                        chunk = s.recv(4096)
                        assert chunk, "closed"
                        got += chunk
                    assert got == reply
                socks += batch
            peak = rss_mb(srv)
        finally:
            for s in socks:
                s.close()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    check_rss(f"{nconns} connections after one get each", base, peak, base + 20)
