"""A network namespace with a veth pair, and xdpcached daemons inside it, for
the XDP fast-path tests (test_xdp.py).

    root namespace (the tests)              namespace xdpc-<pid> (the daemon)
    xdpc<pid>c  10.199.N.2/24  <--veth-->   xdpc<pid>s  10.199.N.1/24
                fd00:199:N::2/64                        fd00:199:N::1/64

N is the first N for which the root namespace uses neither 10.199.N.0/24 nor
10.198.N.0/24, so two sessions on one machine do not collide. The client's
end also has 10.198.N.2/32 and fd00:198:N::2/128, outside the interface's
subnets (a source the default --udp-allow list does not take), with routes
back to them inside the namespace: a reply to them would arrive. The daemon attaches its XDP program
to the namespace's end; the tests talk to it from the root namespace, so
every request crosses the veth and meets the program. Native XDP_TX on a veth
is only delivered when the peer also runs an XDP program: Netns.attach_pass()
puts xdp_pass.bpf.o on the client's end for the native runs.

Nothing here sends traffic anywhere but to the namespace's addresses, and
every wait is bounded.

Environment (besides XDPCACHED_BIN, see servers.py):
  XDPCACHED_XDP_PASS_OBJ  the pass-everything XDP object for the client's
                          end (default: xdp_pass.bpf.o beside XDPCACHED_BIN,
                          else build/xdp_pass.bpf.o)
"""

import fcntl
import ipaddress
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import time

from helpers import Conn, Udp, udp_frame, udp_header
import servers
from servers import REPO, Server, ServerError, _read, kill_group, spawn, xdpcached_bin

# How long the fast path may take to come up after the daemon accepts TCP.
XDP_UP_TIMEOUT = 10.0
# Held while a session picks its subnet and creates its addresses.
LOCK_FILE = "/run/lock/xdpcached-test-netns.lock" if os.path.isdir("/run/lock") \
    else "/tmp/xdpcached-test-netns.lock"


class NetnsError(Exception):
    pass


def sh(*argv, check=True, timeout=30):
    """Runs a command; returns the CompletedProcess (text). Raises NetnsError
    when check and it fails."""
    try:
        p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise NetnsError(f"{' '.join(map(str, argv))}: no exit within {timeout} s") from None
    if check and p.returncode != 0:
        raise NetnsError(f"{' '.join(map(str, argv))}: exit {p.returncode}: "
                         f"{(p.stderr or p.stdout).strip()}")
    return p


def kill_pids(pids):
    """SIGKILLs these processes; returns how many were still there."""
    n = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            n += 1
        except ProcessLookupError:
            pass
    return n


def xdp_pass_obj():
    env = os.environ.get("XDPCACHED_XDP_PASS_OBJ")
    if env:
        return os.path.abspath(env)
    beside = os.path.join(os.path.dirname(xdpcached_bin()), "xdp_pass.bpf.o")
    if os.path.exists(beside):
        return beside
    return str(REPO / "build" / "xdp_pass.bpf.o")


def _used_v4_networks():
    out = sh("ip", "-j", "-4", "addr", "show", check=False).stdout or "[]"
    nets = []
    try:
        for link in json.loads(out):
            for a in link.get("addr_info", []):
                nets.append(ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False))
    except (ValueError, KeyError):
        pass
    routes = sh("ip", "-j", "-4", "route", "show", check=False).stdout or "[]"
    try:
        for r in json.loads(routes):
            dst = r.get("dst", "")
            if dst and dst != "default":
                nets.append(ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False))
    except (ValueError, KeyError):
        pass
    return nets


class Netns:
    """The namespace and its veth pair. create() and destroy() are idempotent
    enough to be called from finalizers; destroy() never raises."""

    def __init__(self, tag=""):
        """tag (a letter or two) tells apart two namespaces of one process."""
        pid = os.getpid()
        self.name = f"xdpc-{pid}{tag}"
        self.srv_if = f"xdpc{pid}{tag}s"      # inside the namespace: the daemon's
        self.cli_if = f"xdpc{pid}{tag}c"      # root namespace: the tests'
        self.created = False
        self.pass_attached = False
        self._next_port = 20000
        self._set_subnet(0)

    def _set_subnet(self, n):
        self.srv4, self.cli4 = f"10.199.{n}.1", f"10.199.{n}.2"
        self.net4 = f"10.199.{n}.0/24"
        self.srv6, self.cli6 = f"fd00:199:{n:x}::1", f"fd00:199:{n:x}::2"
        self.net6 = f"fd00:199:{n:x}::/64"
        self.other4 = f"10.199.{n}.99"               # in the subnet, not the client
        self.out4, self.out6 = f"10.198.{n}.2", f"fd00:198:{n:x}::2"   # outside it

    @staticmethod
    def _pick_subnet():
        used = _used_v4_networks()
        for n in range(256):
            nets = [ipaddress.ip_network(f"10.199.{n}.0/24"), ipaddress.ip_network(f"10.198.{n}.0/24")]
            if not any(net.overlaps(u) for net in nets for u in used):
                return n
        raise NetnsError("no free 10.199.N.0/24 and 10.198.N.0/24 in the root namespace")

    def create(self):
        """Picks the subnet and sets everything up, under a lock so that two
        sessions starting at once do not pick the same subnet."""
        if os.path.exists(f"/var/run/netns/{self.name}"):
            raise NetnsError(f"network namespace {self.name} already exists")
        with open(LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._set_subnet(self._pick_subnet())
                self._create()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return self

    def _create(self):
        try:
            sh("ip", "netns", "add", self.name)
            self.created = True
            sh("ip", "link", "add", self.cli_if, "type", "veth", "peer", "name", self.srv_if,
               "netns", self.name)
            sh("ip", "-n", self.name, "link", "set", "lo", "up")
            sh("ip", "-n", self.name, "addr", "add", f"{self.srv4}/24", "dev", self.srv_if)
            sh("ip", "-n", self.name, "addr", "add", f"{self.srv6}/64", "dev", self.srv_if, "nodad")
            sh("ip", "-n", self.name, "link", "set", self.srv_if, "up")
            sh("ip", "addr", "add", f"{self.cli4}/24", "dev", self.cli_if)
            sh("ip", "addr", "add", f"{self.cli6}/64", "dev", self.cli_if, "nodad")
            sh("ip", "addr", "add", f"{self.out4}/32", "dev", self.cli_if)
            sh("ip", "addr", "add", f"{self.out6}/128", "dev", self.cli_if, "nodad")
            sh("ip", "link", "set", self.cli_if, "up")
            sh("ip", "-n", self.name, "route", "add", f"{self.out4}/32", "dev", self.srv_if)
            sh("ip", "-n", self.name, "route", "add", f"{self.out6}/128", "dev", self.srv_if)
            self._wait_up()
        except Exception:
            self.destroy()
            raise

    def _wait_up(self):
        """Both ends have carrier (bounded)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            a = sh("ip", "-j", "link", "show", "dev", self.cli_if).stdout
            b = sh("ip", "-n", self.name, "-j", "link", "show", "dev", self.srv_if).stdout
            if '"LOWER_UP"' in a and '"LOWER_UP"' in b:
                return
            time.sleep(0.05)
        raise NetnsError(f"veth {self.cli_if}/{self.srv_if} has no carrier after 5 s")

    def pids(self):
        """The processes inside the namespace."""
        out = sh("ip", "netns", "pids", self.name, check=False).stdout
        return [int(p) for p in out.split()]

    def destroy(self):
        """Detaches xdp_pass, kills whatever still runs inside (it would keep
        the deleted namespace alive), deletes the veth (synchronously:
        deleting the namespace alone frees the veth later, in the kernel's
        cleanup work) and the namespace. Returns a list of problems (empty
        when clean)."""
        problems = []
        if self.pass_attached:
            self.detach_pass()
        if self.created:
            stray = kill_pids(self.pids())
            if stray:
                problems.append(f"{stray} process(es) still running in {self.name} were killed")
        sh("ip", "link", "del", self.cli_if, check=False)
        if self.created:
            p = sh("ip", "netns", "del", self.name, check=False)
            if p.returncode != 0 and os.path.exists(f"/var/run/netns/{self.name}"):
                problems.append(f"ip netns del {self.name}: {p.stderr.strip()}")
            self.created = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if sh("ip", "link", "show", "dev", self.cli_if, check=False).returncode != 0:
                break
            time.sleep(0.05)
        else:
            problems.append(f"{self.cli_if} still exists 5 s after deletion")
        return problems

    # -- XDP on the two ends -------------------------------------------------
    def attach_pass(self):
        """xdp_pass in native mode on the client's end (for native XDP_TX)."""
        obj = xdp_pass_obj()
        if not os.path.exists(obj):
            raise NetnsError(f"{obj} not found (build it, or set XDPCACHED_XDP_PASS_OBJ)")
        sh("ip", "link", "set", "dev", self.cli_if, "xdpdrv", "obj", obj, "sec", "xdp")
        self.pass_attached = True

    def detach_pass(self):
        sh("ip", "link", "set", "dev", self.cli_if, "xdpdrv", "off", check=False)
        self.pass_attached = False

    def server_xdp(self):
        """The XDP attachment of the daemon's end: None, or a dict with mode
        ("native"/"generic"/...) and prog id and name, from `ip -j link`."""
        out = sh("ip", "-n", self.name, "-j", "link", "show", "dev", self.srv_if).stdout
        info = json.loads(out)[0].get("xdp")
        if not info:
            return None
        modes = {1: "native", 2: "generic", 3: "offload", 4: "multi"}
        prog = info.get("prog") or (info.get("attached") or [{}])[0].get("prog") or {}
        return {"mode": modes.get(info.get("mode"), str(info.get("mode"))),
                "id": prog.get("id"), "name": prog.get("name")}

    def wait_server_xdp_gone(self, timeout=5.0):
        """True once the daemon's end has no XDP program (polled, bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.server_xdp() is None:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def link_show(self):
        return sh("ip", "-n", self.name, "link", "show", "dev", self.srv_if).stdout

    def bpftool_net(self):
        return sh("ip", "netns", "exec", self.name, "bpftool", "net", "show", check=False).stdout

    def port(self):
        """A port no earlier daemon of this session used (the namespace is
        ours, so nothing else can hold it)."""
        self._next_port += 1
        return self._next_port


# -- clients for an address other than 127.0.0.1 -----------------------------

class HConn(Conn):
    """helpers.Conn to any host (IPv4 or IPv6)."""

    def __init__(self, host, port, timeout=10.0, source=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""


class HUdp(Udp):
    """helpers.Udp to any host. An ICMP port unreachable (a dead server)
    counts as no reply."""

    def __init__(self, host, port, source=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.host, self.port = host, port

    def send(self, datagram):
        try:
            self.sock.send(datagram)
        except ConnectionRefusedError:      # an ICMP error from an earlier datagram
            self.sock.send(datagram)

    def _recv(self):
        try:
            return self.sock.recv(65536)
        except ConnectionRefusedError:
            return None

    def drain(self):
        """Drops whatever is queued (late replies of earlier requests)."""
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65536)
        except (BlockingIOError, ConnectionRefusedError):
            pass
        finally:
            self.sock.setblocking(True)

    def ask(self, payload, request_id=1, timeout=2.0, quiet=0.03, frame=None):
        """Sends one request frame and returns the datagrams of the reply to
        it, sorted by sequence number: waits until every datagram of a
        response carrying this request id has arrived (its `total`), then
        `quiet` more seconds for anything extra (a second response, or a
        duplicate: XDP must never both answer and pass a request). Datagrams
        for other request ids are dropped. [] when nothing came in time.
        A get/gets is only complete with END (the daemon answers a multi-key
        get with a datagram per key, END in the last)."""
        expect_end = payload is not None and payload.startswith(b"get")
        self.drain()
        self.send(frame if frame is not None else udp_frame(request_id, payload))
        out = []
        deadline = time.monotonic() + timeout
        complete_at = None
        while True:
            now = time.monotonic()
            if complete_at is not None:
                left = complete_at + quiet - now
            else:
                left = deadline - now
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                break
            try:
                d = self.sock.recv(65536)
            except ConnectionRefusedError:
                continue
            if len(d) < 8 or udp_header(d)[0] != request_id:
                continue
            out.append(d)
            if complete_at is None and _complete(out) and \
                    (not expect_end or any(x.endswith(b"END\r\n") for x in out)):
                complete_at = time.monotonic()
        return sorted(out, key=lambda d: udp_header(d)[1])


def _complete(grams):
    """Do these datagrams hold at least one whole response?"""
    seqs = {}
    for d in grams:
        _, seq, total, _ = udp_header(d)
        seqs.setdefault(total, set()).add(seq)
    return any(total > 0 and len(s) >= total for total, s in seqs.items())


# -- the daemon inside the namespace ------------------------------------------

# Every daemon started here, for kill_leftovers().
_STARTED = []


def kill_leftovers():
    """SIGKILLs every daemon started by this process that still runs (a
    safety net for the end of a session; the fixtures stop each daemon).
    Returns how many there were."""
    n = 0
    for srv in _STARTED:
        if srv.proc is not None and srv.proc.poll() is None:
            kill_group(srv.proc)
            n += 1
    _STARTED.clear()
    return n


class NsServer(Server):
    """xdpcached started with `ip netns exec` (which execs it: the Popen pid
    is the daemon's), listening on the namespace's IPv4 and IPv6 address.
    xdp: None for no XDP flags at all, "off" for `--xdp off`, else the mode
    for `--xdp-iface <srv_if> --xdp-mode <mode>`. stop() and new_problems()
    are servers.Server's: SIGTERM must give exit status 0 and no sanitizer
    report."""

    def __init__(self, ns, xdp="generic", extra_args=(), threads=2, listen=None):
        super().__init__("xdpcached", extra_args, threads=threads)
        self.ns = ns
        self.xdp = xdp
        self.listen = listen or f"{ns.srv4},[{ns.srv6}]"
        self.host = ns.srv4
        self.host6 = ns.srv6

    def xdp_args(self):
        if self.xdp is None:
            return []
        if self.xdp == "off":
            return ["--xdp", "off"]
        return ["--xdp-iface", self.ns.srv_if, "--xdp-mode", self.xdp]

    def start(self, expect_fastpath=None):
        """Starts and waits until TCP accepts, the UDP port is bound and (when
        expect_fastpath, by default when XDP is asked for) `stats` shows the
        fast path up."""
        if not os.path.exists(self.binary):
            raise ServerError(f"xdpcached binary not found: {self.binary} "
                              f"(build it first, or set XDPCACHED_BIN)")
        if expect_fastpath is None:
            expect_fastpath = self.xdp not in (None, "off")
        port = self.ns.port()
        argv = ["ip", "netns", "exec", self.ns.name, self.binary, "-l", self.listen,
                "-p", str(port), "-U", str(port), "-t", str(self.threads)]
        argv += self.xdp_args() + self.extra_args
        fd, path = tempfile.mkstemp(prefix=f"xdpcached-ns-{port}-", suffix=".stderr")
        try:
            proc = spawn(argv, fd)
        finally:
            os.close(fd)
        self.port, self.proc, self.stderr_path, self.argv = port, proc, path, argv
        self._stderr_checked = 0
        _STARTED.append(self)
        try:                            # never leave a daemon behind
            why = self._wait_ns_ready(expect_fastpath)
        except Exception as e:
            why = f"{type(e).__name__}: {e}"
        except BaseException:
            self.kill()
            raise
        if why:
            err = _read(path)
            self.kill()
            raise ServerError(f"{' '.join(argv)}: {why}; stderr: {err[-3000:]!r}")
        return self

    def _wait_ns_ready(self, expect_fastpath):
        deadline = time.monotonic() + servers.START_TIMEOUT
        tcp_ok = udp_ok = False
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return f"exited with status {rc} before it was ready"
            if not tcp_ok:
                try:
                    socket.create_connection((self.host, self.port), timeout=1).close()
                    tcp_ok = True
                except OSError:
                    pass
            if tcp_ok and not udp_ok:
                udp_ok = self._udp_bound()
            if tcp_ok and udp_ok:
                break
            time.sleep(0.01)
        else:
            return (f"not ready after {servers.START_TIMEOUT} s (TCP accepting: {tcp_ok}, "
                    f"UDP bound: {udp_ok})")
        if not expect_fastpath:
            return ""
        deadline = time.monotonic() + XDP_UP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with status {self.proc.returncode}"
            try:
                state = self.stats().get("xdp_state")
            except (OSError, TimeoutError, AssertionError):
                state = None    # not answering yet
            if state == "attached":
                return ""
            if state == "failed":
                return "the fast path did not come up"
            time.sleep(0.05)
        return (f"the fast path is not up {XDP_UP_TIMEOUT} s after start: `stats` has no "
                f"xdp_state attached; {self.ns.srv_if}: {self.ns.server_xdp()}")

    def _udp_bound(self):
        want = f":{self.port:04X}"
        for name in ("udp", "udp6"):
            try:
                with open(f"/proc/{self.proc.pid}/net/{name}") as f:
                    next(f)
                    if any(line.split()[1].endswith(want) for line in f):
                        return True
            except (OSError, StopIteration, IndexError):
                pass
        return False

    # -- clients ---------------------------------------------------------------
    def conn(self, v6=False, source=None):
        return HConn(self.host6 if v6 else self.host, self.port, source=source)

    def udp_client(self, v6=False, source=None):
        return HUdp(self.host6 if v6 else self.host, self.port, source=source)

    def stats(self):
        with self.conn() as c:
            return c.stats()

    def xstats(self):
        """The integer stats (xdp_* and the rest)."""
        out = {}
        for k, v in self.stats().items():
            try:
                out[k] = int(v)
            except ValueError:
                pass
        return out

    def stderr_tail(self, n=3000):
        return self.stderr_text()[-n:]
