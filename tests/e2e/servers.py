"""Starting and stopping the servers under test: xdpcached and Debian's memcached.

Every server listens on 127.0.0.1 only, on a TCP port and the UDP port of the
same number, chosen free at start, or (unix=PATH) on a unix socket only. Its stderr goes to a temporary file that is
checked for sanitizer reports; stopping it sends SIGTERM and checks that it
exits with status 0 (an ASan build also runs its leak check then).

Each server runs in a process group of its own (spawn()), and every way of
ending it signals the whole group, so that nothing it started outlives it. A
start that fails, for any reason, leaves no process behind.

XDPCACHED_BIN names the xdpcached binary (default build/xdpcached, relative to
the repository root).
"""

import os
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from helpers import close_after_server, stream_socket

REPO = Path(__file__).resolve().parents[2]
MEMCACHED_BIN = "/usr/bin/memcached"
HOST = "127.0.0.1"

# Text that only a sanitizer writes.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "ERROR: ThreadSanitizer",
    "WARNING: ThreadSanitizer",
    "ERROR: MemorySanitizer",
    "SUMMARY: AddressSanitizer",
    "SUMMARY: UndefinedBehaviorSanitizer",
    "runtime error:",
    "AddressSanitizer:DEADLYSIGNAL",
)

START_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0


def xdpcached_bin():
    path = Path(os.environ.get("XDPCACHED_BIN", "build/xdpcached"))
    if not path.is_absolute():
        path = REPO / path
    return str(path)


def is_memcached(binary):
    return os.path.basename(binary) == "memcached"


# Ports are taken below the kernel's ephemeral range, so that no client
# socket of the tests can be holding one, and never handed out twice.
_port_lock = threading.Lock()
_ports_given = set()
_rng = random.Random(os.getpid() ^ int(time.time()))


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 right now."""
    high = min(_ephemeral_low(), 65536) - 1
    low = 20000 if high > 21000 else 1025
    with _port_lock:
        for _ in range(1000):
            port = _rng.randint(low, high)
            if port in _ports_given:
                continue
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                tcp.bind((HOST, port))
                udp.bind((HOST, port))
            except OSError:
                continue
            finally:
                tcp.close()
                udp.close()
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port pair found")


class ServerError(Exception):
    pass


def spawn(argv, output_fd, env=None):
    """Starts argv in a new session (its own process group), output to output_fd,
    with env as its environment (None: ours)."""
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output_fd, stderr=output_fd,
                            close_fds=True, start_new_session=True, env=env)


def signal_group(proc, sig):
    """Sends sig to proc's process group (the group spawn() made, whose id is
    proc's pid); nothing when the group is gone."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def kill_group(proc):
    """SIGKILLs proc's whole process group and reaps proc."""
    signal_group(proc, signal.SIGKILL)
    proc.wait()


class Server:
    """One server process. kind is "xdpcached" or "memcached"."""

    def __init__(self, kind, extra_args=(), binary=None, udp=True, threads=2, unix=None):
        self.kind = kind
        self.unix = unix            # a path: listen on this unix socket only (-s)
        if binary is None:
            binary = MEMCACHED_BIN if kind == "memcached" else xdpcached_bin()
        self.binary = binary
        self.extra_args = [str(a) for a in extra_args]
        self.udp = udp
        self.threads = threads
        self.port = None
        self.proc = None
        self.stderr_path = None
        self._stderr_checked = 0
        self.argv = None

    # -- life cycle --------------------------------------------------------
    def start(self):
        if not os.path.exists(self.binary):
            raise ServerError(f"{self.kind} binary not found: {self.binary} "
                              f"(build it first, or set XDPCACHED_BIN)")
        last = ""
        for _ in range(8):
            port = self.unix or free_port()
            argv = [self.binary, "-t", str(self.threads)]
            argv += (["-s", self.unix] if self.unix else
                     ["-l", HOST, "-p", str(port), "-U", str(port if self.udp else 0)])
            if is_memcached(self.binary):
                argv += ["-u", "nobody"]    # memcached refuses to run as root otherwise
            argv += self.extra_args
            fd, path = tempfile.mkstemp(prefix=f"{self.kind}-{os.path.basename(str(port))}-",
                                        suffix=".stderr")
            try:
                proc = spawn(argv, fd)
            finally:
                os.close(fd)
            try:
                ok, why = self._wait_ready(proc, port)
            except BaseException:
                kill_group(proc)
                os.unlink(path)
                raise
            if ok:
                self.port, self.proc, self.stderr_path, self.argv = port, proc, path, argv
                self._stderr_checked = 0
                return self
            kill_group(proc)        # not ready, or exited leaving children
            err = _read(path)
            os.unlink(path)
            last = f"{' '.join(argv)}: {why}; stderr: {err[-2000:]!r}"
            if self.unix or ("in use" not in err.lower() and "in use" not in why):
                break
        raise ServerError(f"could not start {self.kind}: {last}")

    def _wait_ready(self, proc, port):
        """Until the TCP port (or the unix socket) accepts and (with UDP) the
        UDP port is bound: a datagram sent before that would be refused."""
        deadline = time.monotonic() + START_TIMEOUT
        tcp_ok = False
        while time.monotonic() < deadline:
            rc = proc.poll()
            if rc is not None:
                return False, f"exited with status {rc} before accepting connections"
            if not tcp_ok:
                try:
                    close_after_server(stream_socket(port, 1))
                    tcp_ok = True
                except OSError:
                    pass
            if tcp_ok and (self.unix or not self.udp or _udp_bound(port)):
                return True, ""
            time.sleep(0.005)
        return False, f"not ready on port {port} after {START_TIMEOUT} s (TCP accepting: {tcp_ok})"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        return _read(self.stderr_path) if self.stderr_path else ""

    def new_problems(self):
        """Problems seen since the last call: the process died, or it wrote a
        sanitizer report. Returns a list of strings (empty when all is well)."""
        problems = []
        text = self.stderr_text()
        fresh = text[self._stderr_checked:]
        self._stderr_checked = len(text)
        if any(m in fresh for m in SANITIZER_MARKERS):
            problems.append(f"{self.kind} wrote a sanitizer report:\n{fresh[-6000:]}")
        if self.proc is not None and self.proc.poll() is not None:
            problems.append(f"{self.kind} died with status {self.proc.returncode}; "
                            f"stderr tail:\n{text[-3000:]}")
        return problems

    def kill(self):
        """SIGKILL, for a reference server whose exit does not matter."""
        if self.proc is None:
            return
        kill_group(self.proc)
        self.proc = None
        try:
            os.unlink(self.stderr_path)
        except OSError:
            pass

    def stop(self):
        """SIGTERM, wait, and return a list of problems (empty when it exited
        with status 0 and wrote no sanitizer report)."""
        if self.proc is None:
            return []
        problems = []
        already_dead = self.proc.poll() is not None
        if not already_dead:
            signal_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append(f"{self.kind} did not exit within {STOP_TIMEOUT} s of SIGTERM")
        kill_group(self.proc)       # whatever is left of its group
        text = self.stderr_text()
        rc = self.proc.returncode
        if already_dead:
            problems.append(f"{self.kind} had died before the stop, status {rc}")
        elif rc != 0 and not problems:
            problems.append(f"{self.kind} exited with status {rc} on SIGTERM")
        if any(m in text for m in SANITIZER_MARKERS):
            problems.append(f"{self.kind} wrote a sanitizer report")
        if problems:
            problems.append(f"{self.kind} command: {' '.join(self.argv)}\n"
                            f"stderr tail:\n{text[-8000:]}")
        try:
            os.unlink(self.stderr_path)
        except OSError:
            pass
        self.proc = None
        return problems

    def pid(self):
        return self.proc.pid

    def __repr__(self):
        return f"<{self.kind} port={self.port} args={self.extra_args}>"


def _udp_bound(port):
    """Is some socket bound to 127.0.0.1:port (or 0.0.0.0:port) for UDP?"""
    want = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    try:
        with open("/proc/net/udp") as f:
            next(f)
            return any(line.split()[1] in want for line in f)
    except (OSError, StopIteration, IndexError):
        return True


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
