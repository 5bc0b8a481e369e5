"""memcached's command lines start xdpcached unchanged: -d, -B, the flags and
-o sub-options for memcached's internals (accepted with a notice), memcached's
exit codes, the version clients see, SIGHUP, and the stats that go with them
(idle_kicks, get_flushed, listen_disabled_num, domain_socket)."""

import os
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from helpers import Conn
from servers import HOST, MEMCACHED_BIN, free_port, xdpcached_bin

# A memcached.conf line as Debian and memcached's own tests write them.
MEMCACHED_LINE = ["-o", "modern,no_modern,slab_chunk_max=524288,slab_reassign,"
                  "slab_automove=1,lru_maintainer,lru_crawler,hash_algorithm=murmur3,"
                  "read_buf_mem_limit=0,hot_lru_pct=20,warm_lru_pct=40,temporary_ttl=61",
                  "-f", "1.25", "-n", "48", "-L", "-W", "-N", "2", "-r"]


def test_memcached_command_line_starts_with_one_notice_each(server_factory):
    srv = server_factory(*MEMCACHED_LINE, udp=False)
    with Conn(srv.port) as c:
        assert c.set(b"k", b"v") == b"STORED"
        assert c.get(b"k") == b"v"
    notices = [line for line in srv.stderr_text().splitlines() if "notice:" in line]
    # one for each of the 11 internal -o options (lru_crawler is ours) and
    # each of -f -n -L -N (-W is ours: `watch` is off)
    assert len(notices) == 11 + 4, notices
    assert all(line.endswith("ignored") for line in notices)


def _exit_code(binary, args):
    argv = [binary, "-p", "0", "-U", "0"] + list(args)
    if binary == MEMCACHED_BIN:
        argv += ["-u", "nobody"]
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=10).returncode


@pytest.mark.parametrize("args", [
    ["-c", "0"], ["-t", "0"], ["-R", "0"], ["-o", "bogus"], ["-o", "hashpower=5"],
    ["-B", "bogus"], ["-I", "100"], ["-m", "1"], ["-I", "2m", "-m", "3"], ["-Q"],
])
def test_exit_codes_are_memcacheds(args):
    assert _exit_code(xdpcached_bin(), args) == _exit_code(MEMCACHED_BIN, args)


def _replies(port, payloads):
    """What the server sends back to each payload on a fresh connection
    within 300 ms (b"" when nothing)."""
    out = []
    for payload in payloads:
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(payload)
            s.settimeout(0.3)
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except socket.timeout:
                pass
            out.append(got)
    return out


BIN_VERSION = struct.pack(">BBHBBHIIQ", 0x80, 0x0B, 0, 0, 0, 0, 0, 7, 0)


@pytest.mark.protocol
@pytest.mark.parametrize("protocol", ["ascii", "binary", "auto"])
def test_protocol_binding_matches_memcached(server_factory, memcached_factory, protocol):
    payloads = [b"version\r\nset a 0 0 1\r\nx\r\nget a\r\n", BIN_VERSION,
                b"mn\r\n" + b"\0" * 24]
    ours = server_factory("-B", protocol, udp=False)
    ref = memcached_factory("-B", protocol, udp=False)
    got, want = _replies(ours.port, payloads), _replies(ref.port, payloads)
    assert got == want
    with Conn(ours.port) as c:
        if protocol != "binary":
            want_name = "auto-negotiate" if protocol == "auto" else protocol
            assert c.stats(b"settings")["binding_protocol"] == want_name


def test_version_reads_as_memcached_and_stats_name_xdpcached(server, memcached_factory):
    ref = memcached_factory(udp=False)
    with Conn(server.port) as c, Conn(ref.port) as r:
        assert c.cmd(b"version") == r.cmd(b"version") == b"VERSION 1.6.18"
        stats = c.stats()
        assert stats["version"] == "1.6.18"
        out = subprocess.run([xdpcached_bin(), "-V"], capture_output=True, text=True,
                             timeout=10).stdout
        assert out == f"xdpcached {stats['xdpcached_version']}\n"


def test_new_stats_present(server):
    with Conn(server.port) as c:
        stats = c.stats()
        for name in ("idle_kicks", "get_flushed", "listen_disabled_num",
                     "time_in_listen_disabled_us", "accepting_conns"):
            assert name in stats, name
        assert stats["accepting_conns"] == "1"
        settings = c.stats(b"settings")
        assert settings["domain_socket"] == "NULL"
        assert settings["auth_enabled_sasl"] == settings["auth_enabled_ascii"] == "no"
        assert settings["dump_enabled"] == "yes"


def test_idle_kicks_counted(server_factory):
    srv = server_factory("-o", "idle_timeout=1", udp=False)
    idle = socket.create_connection((HOST, srv.port), timeout=5)
    try:
        idle.sendall(b"version\r\n")
        idle.recv(100)
        with Conn(srv.port) as c:
            deadline = time.monotonic() + 10
            kicks = 0
            while time.monotonic() < deadline and kicks == 0:
                time.sleep(0.2)
                c.cmd(b"version")     # keeps this one from going idle
                kicks = int(c.stats()["idle_kicks"])
            assert kicks == 1
    finally:
        idle.close()


def test_listen_disabled_num_counts_pauses_at_the_connection_limit(server_factory):
    # -c 16 leaves a handful of client slots after the reserved descriptors
    srv = server_factory("-c", "16", "-o", "no_maxconns_fast", udp=False, threads=1)
    conns = []
    try:
        with Conn(srv.port) as c:
            started = time.monotonic()
            slots = 0
            for _ in range(16):
                s = socket.create_connection((HOST, srv.port), timeout=5)
                conns.append(s)
                s.sendall(b"version\r\n")
                s.settimeout(0.5)
                try:
                    if s.recv(100).startswith(b"VERSION"):
                        slots += 1
                        continue
                except socket.timeout:
                    pass
                break
            assert 0 < slots < 16
            time.sleep(0.3)     # the last connection waits unaccepted meanwhile
            for s in conns:
                s.close()
            conns.clear()
            # accepting resumes once connections close
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and c.stats()["accepting_conns"] != "1":
                time.sleep(0.05)
            stats = c.stats()
            assert stats["accepting_conns"] == "1"
            assert int(stats["listen_disabled_num"]) >= 1
            # the pause lasted at least the last connection's 0.5 s wait and
            # the 0.3 s sleep, and no longer than the test so far
            paused_us = int(stats["time_in_listen_disabled_us"])
            assert 700_000 <= paused_us <= (time.monotonic() - started) * 1e6, paused_us
            c.cmd(b"stats reset")
            stats = c.stats()
            assert stats["listen_disabled_num"] == stats["time_in_listen_disabled_us"] == "0"
    finally:
        for s in conns:
            s.close()


def test_sighup_does_not_stop_the_daemon(server_factory):
    srv = server_factory(udp=False)
    for _ in range(3):
        os.kill(srv.pid(), signal.SIGHUP)
    time.sleep(0.2)
    assert srv.alive()
    with Conn(srv.port) as c:
        assert c.cmd(b"version") == b"VERSION 1.6.18"


def test_daemonize_with_pidfile():
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        pidfile = os.path.join(tmp, "xdpcached.pid")
        rc = subprocess.run([xdpcached_bin(), "-d", "-P", pidfile, "-l", HOST, "-p", str(port),
                             "-U", "0", "-t", "1"], stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=10)
        assert rc.returncode == 0, rc.stderr
        pid = None
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and pid is None:
                try:
                    with open(pidfile) as f:
                        pid = int(f.read())
                except (OSError, ValueError):
                    time.sleep(0.02)
            assert pid is not None, "no pid file"
            with Conn(port) as c:
                assert c.cmd(b"version") == b"VERSION 1.6.18"
            # a daemon: its own session, not our child
            assert os.getsid(pid) == pid
        finally:
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and os.path.exists(pidfile):
                    time.sleep(0.02)
        assert not os.path.exists(pidfile), "the daemon did not exit on SIGTERM"


def test_daemonize_busy_port_fails_in_the_foreground():
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        rc = subprocess.run([xdpcached_bin(), "-d", "-l", HOST, "-p", str(port), "-U", "0"],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        assert rc.returncode == 71, rc.stderr


def _thread_cpus(pid):
    """Cpus_allowed_list of each thread but the main one."""
    out = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        if int(tid) == pid:
            continue
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            out += [line.split()[1] for line in f if line.startswith("Cpus_allowed_list")]
    return out


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to pin to")
def test_cpu_list_pins_one_worker_per_cpu(server_factory):
    first, second = sorted(os.sched_getaffinity(0))[:2]
    srv = server_factory(f"--cpu-list={second},{first}", threads=2)
    unpinned = server_factory(threads=2)
    # an answer means the workers run (the port accepts before they start);
    # -t 2 from the test harness agrees with the list's two CPUs
    for server in (srv, unpinned):
        with Conn(server.port) as c:
            assert c.cmd(b"version") == b"VERSION 1.6.18"
            assert c.stats()["threads"] == "2"
    assert sorted(_thread_cpus(srv.pid())) == sorted([str(first), str(second)])
    unpinned_cpus = _thread_cpus(unpinned.pid())
    assert len(unpinned_cpus) == 2
    assert all(cpus not in (str(first), str(second)) for cpus in unpinned_cpus)


def test_sigterm_as_soon_as_the_port_accepts_exits_0():
    """The port accepts before the workers start; a stop signal then must
    still stop the daemon cleanly (seen as status -15 under load)."""
    for _ in range(20):
        port = free_port()
        proc = subprocess.Popen([xdpcached_bin(), "-l", HOST, "-p", str(port), "-U", "0",
                                 "-t", "2"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 15
            while True:
                assert proc.poll() is None and time.monotonic() < deadline
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.001)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
