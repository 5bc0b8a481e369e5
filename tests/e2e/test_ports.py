"""-p -1 / -U -1 (any free port) and memcached's port file: with
MEMCACHED_PORT_FILENAME set (and no -s), the server appends one line per
bound address, "TCP INET: <port>", "UDP INET6: <port>", ..., TCP first, to
"$MEMCACHED_PORT_FILENAME.lck" and renames it to $MEMCACHED_PORT_FILENAME
once every socket is bound. Each case runs memcached with the same flags and
compares the lines, ports the kernel picked standing as "random" (memcached's
t/issue_67.t checks the same cases), then talks to every port xdpcached
wrote."""

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from helpers import udp_frame
from servers import (MEMCACHED_BIN, SANITIZER_MARKERS, STOP_TIMEOUT, free_port, kill_group,
                     signal_group, spawn, xdpcached_bin)

pytestmark = pytest.mark.protocol

WAIT = 10.0
THREADS = 3


class Run:
    """A server's process; rc and stderr once it was stopped."""
    proc = None
    rc = None
    stderr = ""


@contextlib.contextmanager
def running(kind, args, port_file):
    """Starts memcached or xdpcached with args and MEMCACHED_PORT_FILENAME set to
    port_file (None: unset); on leaving, SIGTERM and wait, then SIGKILL whatever
    is left of its process group, whatever happened."""
    binary = MEMCACHED_BIN if kind == "memcached" else xdpcached_bin()
    argv = [binary, "-t", str(THREADS)] + list(args)
    if kind == "memcached":
        argv += ["-u", "nobody"]        # it refuses to run as root otherwise
    env = dict(os.environ)
    env.pop("MEMCACHED_PORT_FILENAME", None)
    if port_file is not None:
        env["MEMCACHED_PORT_FILENAME"] = str(port_file)
    fd, err_path = tempfile.mkstemp(prefix=f"{kind}-ports-", suffix=".stderr")
    run = Run()
    try:
        try:
            run.proc = spawn(argv, fd, env=env)
        finally:
            os.close(fd)
        yield run
    finally:
        if run.proc is not None:
            signal_group(run.proc, signal.SIGTERM)
            try:
                run.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            kill_group(run.proc)
            run.rc = run.proc.returncode
        with open(err_path, errors="replace") as f:
            run.stderr = f.read()
        os.unlink(err_path)


def stopped_cleanly(run):
    return run.rc == 0 and not any(m in run.stderr for m in SANITIZER_MARKERS)


def wait_for(path, run):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        if run.proc.poll() is not None:
            pytest.fail(f"exited with status {run.proc.returncode} before writing {path}")
        time.sleep(0.02)
    pytest.fail(f"no {path} after {WAIT} s")


def parse(text):
    """[(kind, port)] from the file's lines, kind such as "TCP INET"."""
    out = []
    for line in text.splitlines():
        kind, _, port = line.partition(": ")
        out.append((kind, int(port)))
    return out


def shape(lines, fixed):
    """The lines with every port not among `fixed` as "random"."""
    return [(kind, port if port in fixed else "random") for kind, port in lines]


def port_lines(kind, args, tmp):
    """What the server writes to the port file for args (and the file's
    .lck gone by then), and for xdpcached a check of every port in it."""
    path = tmp / f"ports.{kind}"
    with running(kind, args, path) as run:
        lines = parse(wait_for(path, run))
        assert not (tmp / f"ports.{kind}.lck").exists()
        if kind == "xdpcached":
            for transport, port in lines:
                answers(transport, port)
        path.unlink()
    if kind == "xdpcached":
        assert stopped_cleanly(run), run.stderr[-3000:]
    return lines


def answers(transport, port):
    """The server answers `version` on that port."""
    family = socket.AF_INET6 if transport.endswith("INET6") else socket.AF_INET
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    if transport.startswith("TCP"):
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"version\r\n")
            assert s.recv(100).startswith(b"VERSION ")
        return
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(udp_frame(7, b"version\r\n"), (host, port))
        reply = s.recv(1500)
        assert reply[:2] == (7).to_bytes(2, "big")
        assert reply[8:].startswith(b"VERSION ")
    # every worker's socket is on the port the first worker got
    table = "/proc/net/udp6" if family == socket.AF_INET6 else "/proc/net/udp"
    with open(table) as f:
        bound = [line for line in f.readlines()[1:]
                 if line.split()[1].endswith(f":{port:04X}")]
    assert len(bound) == THREADS


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# (id, flags with P and Q for two fixed free ports); -l as in each case
CASES = [
    ("tcp_ephemeral", ["-p", "-1"]),
    ("udp_ephemeral", ["-U", "-1"]),       # TCP too, on a port of its own
    ("tcp_fixed", ["-p", "P"]),
    ("udp_fixed", ["-U", "P"]),
    ("tcp_off", ["-p", "0"]),
    ("tcp_and_udp_fixed", ["-p", "P", "-U", "Q"]),
    ("udp_off", ["-p", "P", "-U", "0"]),
    ("tcp_ephemeral_udp_fixed", ["-p", "-1", "-U", "Q"]),
    ("tcp_fixed_udp_ephemeral", ["-p", "P", "-U", "-1"]),
    ("both_ephemeral", ["-p", "-1", "-U", "-1"]),
]


@pytest.mark.parametrize("flags", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_port_file_as_memcached_writes_it(flags, nobody_tmp):
    fixed = {"P": str(free_port()), "Q": str(free_port())}
    args = ["-l", "127.0.0.1"] + [fixed.get(a, a) for a in flags]
    ports = {int(p) for p in fixed.values()}
    ref = port_lines("memcached", args, nobody_tmp)
    got = port_lines("xdpcached", args, nobody_tmp)
    assert shape(got, ports) == shape(ref, ports)
    assert all(port > 0 for _, port in got)
    # each socket its own free port: TCP and UDP differ, as in memcached
    randoms = [port for _, port in got if port not in ports]
    assert len(set(randoms)) == len(randoms)


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
@pytest.mark.parametrize("listen", [["-l", "127.0.0.1,::1"], ["-l", "127.0.0.1", "-l", "[::1]"]],
                         ids=["comma", "repeated"])
def test_port_file_ipv4_and_ipv6(listen, nobody_tmp):
    args = listen + ["-p", "-1", "-U", "-1"]
    ref = port_lines("memcached", args, nobody_tmp)
    got = port_lines("xdpcached", args, nobody_tmp)
    assert shape(got, set()) == shape(ref, set())
    assert [kind for kind, _ in got] == ["TCP INET", "TCP INET6", "UDP INET", "UDP INET6"]


def test_no_port_file_with_unix_socket(nobody_tmp):
    for kind in ("memcached", "xdpcached"):
        path = nobody_tmp / f"ports.{kind}"
        sock = nobody_tmp / f"{kind}.sock"
        with running(kind, ["-s", str(sock), "-p", "-1"], path) as run:
            deadline = time.monotonic() + WAIT
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert sock.exists(), kind
            time.sleep(0.2)
            assert not path.exists() and not (nobody_tmp / f"ports.{kind}.lck").exists(), kind
        assert kind == "memcached" or stopped_cleanly(run), run.stderr


def test_stats_settings_show_minus_one(nobody_tmp):
    """memcached reports -1, not the ports it got."""
    reports = {}
    for kind in ("memcached", "xdpcached"):
        path = nobody_tmp / f"ports.{kind}"
        with running(kind, ["-l", "127.0.0.1", "-U", "-1"], path) as run:
            port = dict(parse(wait_for(path, run)))["TCP INET"]
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"stats settings\r\n")
                buf = b""
                while not buf.endswith(b"END\r\n"):
                    chunk = s.recv(65536)
                    assert chunk, kind
                    buf += chunk
            reports[kind] = [line for line in buf.decode().splitlines()
                             if line.split(" ")[1:2] in (["tcpport"], ["udpport"])]
    assert reports["xdpcached"] == reports["memcached"] == ["STAT tcpport -1", "STAT udpport -1"]


def test_no_file_without_the_variable(tmp_path):
    with running("xdpcached", ["-l", "127.0.0.1", "-p", "-1"], None) as run:
        time.sleep(0.5)
        assert run.proc.poll() is None
    assert not list(tmp_path.iterdir())
    assert stopped_cleanly(run), run.stderr


def test_fast_path_needs_a_named_udp_port(tmp_path):
    """The XDP program is built with its port: with -U -1 the daemon says so in
    one line and serves without the fast path (nothing is loaded)."""
    path = tmp_path / "ports"
    with running("xdpcached", ["-l", "127.0.0.1", "-U", "-1", "--xdp-iface", "lo"], path) as run:
        lines = parse(wait_for(path, run))
        for transport, port in lines:
            answers(transport, port)
    assert stopped_cleanly(run), run.stderr
    assert ("xdp: -U -1 leaves the UDP port to the kernel; the fast path needs it named "
            "(-U <port>); serving without the fast path") in run.stderr.splitlines()
