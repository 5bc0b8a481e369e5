#!/usr/bin/python3
"""Peak RSS of a server under the request patterns of issue 11, next to
another client's latency meanwhile. Not a test: it prints numbers.

    bench/reply_memory.py BINARY [BINARY...]

Each binary (xdpcached or memcached) is started as
    BINARY -p PORT -U PORT -l 127.0.0.1 -m 64 [-c 11000 | -t 1] [-u nobody]
once per scenario (udp200 also with -t 1, so that the other client shares
the worker), and its VmRSS is read from /proc every 10 ms:
  tcp1200   one request `get b b ... b` (1,200 times a 1 MB value), never read
  udp200    one datagram `get b ...` (200 keys), its reply not read; the
            other client's latency is the slowest of 5 UDP gets sent as the
            reply begins
  slow200   200 connections, each pipelining 64 `get b` and never reading
  getline4m one 4 MB get line of a 1,000-byte value, never read
  idle10k   10,000 connections, each after one get of a 100-byte value
"""

import os
import resource
import select
import socket
import struct
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
BIG = 1024 * 1024 - 60


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, extra=()):
        self.port = free_port()
        argv = [binary, "-p", str(self.port), "-U", str(self.port), "-l", HOST, "-m", "64", *extra]
        if "memcached" in os.path.basename(binary):
            argv += ["-u", "nobody"]
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection((HOST, self.port)).close()
                break
            except OSError:
                time.sleep(0.05)
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb(self.proc.pid))

    def cmd(self, data, expect):
        with socket.create_connection((HOST, self.port)) as s:
            s.sendall(data)
            got = b""
            while not got.endswith(expect):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            return got

    def latency_ms(self):
        """Another client's get of a small key; None when unanswered in 5 s."""
        with socket.create_connection((HOST, self.port)) as s:
            s.settimeout(5)
            t0 = time.monotonic()
            s.sendall(b"get small\r\n")
            got = b""
            try:
                while not got.endswith(b"END\r\n"):
                    got += s.recv(4096)
            except socket.timeout:
                return None
            return (time.monotonic() - t0) * 1000

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.proc.terminate()
        self.proc.wait()


def store_values(srv):
    srv.cmd(b"set b 0 0 %d\r\n" % BIG + b"v" * BIG + b"\r\n", b"\r\n")
    srv.cmd(b"set c 0 0 1000\r\n" + b"c" * 1000 + b"\r\n", b"\r\n")
    srv.cmd(b"set small 0 0 1\r\ns\r\n", b"\r\n")
    srv.cmd(b"set k 0 0 100\r\n" + b"k" * 100 + b"\r\n", b"\r\n")


def tcp_request(srv, request, hold=3.0):
    s = socket.create_connection((HOST, srv.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(request)
    time.sleep(0.3)
    lat = srv.latency_ms()
    time.sleep(hold)
    s.close()
    return lat


def scenario_tcp1200(srv):
    return tcp_request(srv, b"get" + b" b" * 1200 + b"\r\n")


def scenario_getline4m(srv):
    return tcp_request(srv, b"get" + b" c" * ((4 * 1024 * 1024 - 16) // 2) + b"\r\n")


def scenario_udp200(srv):
    """The slowest of 5 UDP gets of another client, sent one after the other
    as soon as the big reply's first datagram is in (-t 1: the same worker)."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect((HOST, srv.port))
    u.send(struct.pack(">HHHH", 1, 0, 1, 0) + b"get" + b" b" * 200 + b"\r\n")
    if not select.select([u], [], [], 5)[0]:
        return None
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.connect((HOST, srv.port))
    lats = []
    for i in range(5):
        t0 = time.monotonic()
        other.send(struct.pack(">HHHH", 2 + i, 0, 1, 0) + b"get small\r\n")
        if not select.select([other], [], [], 5)[0]:
            return None
        other.recv(65536)
        lats.append((time.monotonic() - t0) * 1000)
    time.sleep(3)
    u.close()
    other.close()
    return max(lats)


def scenario_slow200(srv):
    socks = []
    for _ in range(200):
        s = socket.create_connection((HOST, srv.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"get b\r\n" * 64)
        socks.append(s)
    time.sleep(2)
    lat = srv.latency_ms()
    for s in socks:
        s.close()
    return lat


def scenario_idle10k(srv):
    socks = []
    reply_len = len(b"VALUE k 0 100\r\n") + 100 + len(b"\r\nEND\r\n")
    for _ in range(20):
        batch = [socket.create_connection((HOST, srv.port)) for _ in range(500)]
        for s in batch:
            s.sendall(b"get k\r\n")
        for s in batch:
            got = 0
            while got < reply_len:
                got += len(s.recv(4096))
        socks += batch
    time.sleep(0.5)
    lat = srv.latency_ms()
    for s in socks:
        s.close()
    return lat


SCENARIOS = [("tcp1200", scenario_tcp1200), ("udp200", scenario_udp200),
             ("slow200", scenario_slow200), ("getline4m", scenario_getline4m),
             ("idle10k", scenario_idle10k)]


EXTRA_ARGS = {"idle10k": ["-c", "11000"], "udp200": ["-t", "1"]}


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"{'binary':40} {'scenario':10} {'before MB':>9} {'peak MB':>8} {'other get ms':>12}")
    for binary in sys.argv[1:]:
        for name, run in SCENARIOS:
            srv = Server(binary, EXTRA_ARGS.get(name, []))
            try:
                store_values(srv)
                time.sleep(0.2)
                before = rss_mb(srv.proc.pid)
                srv.peak = before
                lat = run(srv)
                time.sleep(0.1)
                lat_s = "no answer" if lat is None else f"{lat:.2f}"
                print(f"{binary:40} {name:10} {before:9.1f} {srv.peak:8.1f} {lat_s:>12}", flush=True)
            finally:
                srv.stop()


if __name__ == "__main__":
    main()
