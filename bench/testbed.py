"""The benchmark's test bed: a server namespace and a client namespace joined
by a veth pair, the servers under test inside the first, mcload inside the
second.

    namespace xbench-c<pid>                 namespace xbench-s<pid>
    xbc<pid>  10.210.0.2/24  <--veth-->     xbs<pid>  10.210.0.1/24
    (xdp_pass.bpf.o, native)                (xdpcached's or the ceiling's XDP)

Native XDP_TX on a veth is only delivered when the peer also runs an XDP
program, so the client's end always carries the pass-everything program
(for every server alike: the client is the same in every run).

Everything here talks only to addresses inside the two namespaces, and every
wait is bounded. Every process started here runs in a process group of its
own and is ended with its whole group: a server whose start fails is stopped
before the error goes up, and leaving the Testbed stops every server still
running and kills anything else left in the namespaces, so that no process
outlives the bed or keeps a deleted namespace alive. While a bed is up,
SIGTERM (a timeout's first signal) exits through that cleanup too.
"""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PORT = 11211
MEMCACHED_BIN = "/usr/bin/memcached"
START_TIMEOUT = 20.0
SUBNET = "10.210.0"


class BenchError(Exception):
    pass


def signal_group(proc, sig):
    """Sends sig to proc's process group (proc leads it: see _spawn)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _spawn(argv, **kwargs):
    """Popen in a session of its own, so that its whole group can be ended."""
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)


def run(*argv, timeout=60, check=True):
    """Runs a command, returns its stdout; raises BenchError when it fails.
    On a timeout, or any exception while waiting, its whole group is killed."""
    argv = [str(a) for a in argv]
    p = _spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_group(p, signal.SIGKILL)
        p.communicate()
        raise BenchError(f"{' '.join(argv)}: still running after {timeout} s") from None
    except BaseException:
        signal_group(p, signal.SIGKILL)
        p.communicate()
        raise
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: exit {p.returncode}: {(err or out).strip()}")
    return out


# A stats query from inside the client namespace: Python's socket module
# cannot enter a namespace, so a short script runs there.
_STATS_SCRIPT = r"""
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[3])
while True:
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("no server at %s:%s" % (sys.argv[1], sys.argv[2]))
        time.sleep(0.05)
s.settimeout(10)
s.sendall(b"stats\r\n")
buf = b""
while not buf.endswith(b"END\r\n"):
    chunk = s.recv(65536)
    if not chunk:
        sys.exit("connection closed during stats")
    buf += chunk
sys.stdout.write(buf.decode())
"""


class Server:
    """A server process in the server namespace; the bed stops it at the
    latest when it is removed."""

    def __init__(self, bed, argv, label):
        self.bed, self.label = bed, label
        self.log = open(bed.workdir / f"{label}.log", "w+")
        try:
            self.proc = _spawn(["ip", "netns", "exec", bed.server_ns] + [str(a) for a in argv],
                               stdout=self.log, stderr=self.log)
        except BaseException:
            self.log.close()
            raise
        bed.servers.append(self)

    @property
    def pid(self):
        # `ip netns exec` execs the command, so the pid is the server's.
        return self.proc.pid

    def stats(self, timeout=None):
        timeout = START_TIMEOUT if timeout is None else timeout
        if self.proc.poll() is not None:
            raise BenchError(f"{self.label} exited with status {self.proc.returncode}: {self.tail()}")
        out = self.bed.client_run("/usr/bin/python3", "-c", _STATS_SCRIPT, self.bed.server_ip, PORT,
                                  timeout, timeout=timeout + 15)
        return {f[1]: f[2] for f in (line.split() for line in out.splitlines())
                if len(f) >= 3 and f[0] == "STAT"}

    def wait_ready(self, want_stat=None):
        """Waits until it answers stats (and, if given, reports want_stat)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            st = self.stats()
            if want_stat is None or want_stat in st:
                return st
            if time.monotonic() > deadline:
                raise BenchError(f"{self.label}: no {want_stat} in stats after {START_TIMEOUT} s: "
                                 f"{self.tail()}")
            time.sleep(0.2)

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise BenchError(f"{self.label}: no VmRSS")

    def tail(self):
        self.log.seek(0)
        return " | ".join(self.log.read().strip().splitlines()[-5:])

    def stop(self):
        """SIGTERM to its group; SIGKILL to what is left after 60 s (or at
        once when it already exited). Once: later calls do nothing."""
        if self.log.closed:
            return
        if self.proc.poll() is None:
            signal_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        signal_group(self.proc, signal.SIGKILL)
        self.proc.wait()
        self.log.close()


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


class Testbed:
    """Context manager: creates the namespaces and the veth pair, removes them."""

    def __init__(self, build, workdir):
        self.build = Path(build)
        self.workdir = Path(workdir)
        tag = os.getpid()
        self.server_ns, self.client_ns = f"xbench-s{tag}", f"xbench-c{tag}"
        self.server_if, self.client_if = f"xbs{tag}", f"xbc{tag}"
        # Both ends live in the bed's own namespaces, so every bed may use
        # the same subnet: nothing in the root namespace routes to it.
        self.subnet = SUBNET
        self.ceiling_mode = None
        self.servers = []           # every Server started, for _remove()

    @property
    def server_ip(self):
        return f"{self.subnet}.1"

    @property
    def client_net(self):
        return f"{self.subnet}.0/24"

    def __enter__(self):
        # Python's default SIGTERM ends the process without running any
        # cleanup; this one exits through __exit__ (main thread only).
        self._old_sigterm = None
        if threading.current_thread() is threading.main_thread():
            self._old_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            self._create()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self._old_sigterm is not None:     # a second SIGTERM must not cut the cleanup short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self._remove()
        finally:
            if self._old_sigterm is not None:
                signal.signal(signal.SIGTERM, self._old_sigterm)

    def _create(self):
        s, c = self.server_ns, self.client_ns
        run("ip", "netns", "add", s)
        run("ip", "netns", "add", c)
        run("ip", "link", "add", self.client_if, "netns", c, "type", "veth",
            "peer", "name", self.server_if, "netns", s)
        for ns, ifname, host in ((s, self.server_if, 1), (c, self.client_if, 2)):
            run("ip", "-n", ns, "addr", "add", f"{self.subnet}.{host}/24", "dev", ifname)
            run("ip", "-n", ns, "link", "set", ifname, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", c, "link", "set", "dev", self.client_if, "xdpdrv",
            "obj", self.build / "xdp_pass.bpf.o", "sec", "xdp")

    def _remove(self):
        """Stops every server, kills anything else still inside (it would
        keep the deleted namespace alive), then deletes the namespaces."""
        for srv in self.servers:
            srv.stop()
        for ns in (self.server_ns, self.client_ns):
            for pid in run("ip", "netns", "pids", ns, check=False).split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            run("ip", "netns", "del", ns, check=False)

    def _start(self, argv, label, want_stat=None):
        """A server in the server namespace, once it answers stats (and has
        want_stat); stopped again if it does not get there."""
        srv = Server(self, argv, label)
        try:
            srv.wait_ready(want_stat)
        except BaseException:
            srv.stop()
            raise
        return srv

    # -- running things -------------------------------------------------------

    def client_run(self, *argv, timeout=120):
        return run("ip", "netns", "exec", self.client_ns, *argv, timeout=timeout)

    def mcload(self, args, duration_hint=0):
        """Runs mcload in the client namespace; returns its JSON result."""
        argv = [self.build / "mcload", "-s", f"{self.server_ip}:{PORT}", "--json", "-"] + list(args)
        out = self.client_run(*argv, timeout=duration_hint + 120)
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            raise BenchError(f"mcload printed no JSON: {out[-300:]!r}") from None

    def xdpcached(self, threads, fastpath_mode=None, extra=()):
        argv = [self.build / "xdpcached", "-l", self.server_ip, "-p", PORT, "-U", PORT,
                "-t", threads, "--udp-allow", self.client_net] + list(extra)
        if fastpath_mode:
            argv += ["--xdp-iface", self.server_if, "--xdp-mode", fastpath_mode]
        else:
            argv += ["--xdp", "off"]
        label = f"xdpcached-t{threads}-{fastpath_mode or 'nofastpath'}"
        return self._start(argv, label, "xdp_mode" if fastpath_mode else None)

    def memcached(self, threads, extra=()):
        argv = [MEMCACHED_BIN, "-u", "nobody", "-l", self.server_ip, "-p", PORT, "-U", PORT,
                "-t", threads] + list(extra)
        return self._start(argv, f"memcached-t{threads}")

    def under_callgrind(self, argv, outfile, label):
        """A server run by valgrind's callgrind with instrumentation off until
        switched on (callgrind_control -i on)."""
        # Valgrind keeps 12 descriptors above the process's own and only lets
        # it set its descriptor limit to exactly what remains; memcached sets
        # it to its connection limit (-c, default 1024), so 1036 it is.
        vg = ["prlimit", "--nofile=1036:1036", "valgrind", "--tool=callgrind", "--instr-atstart=no",
              f"--callgrind-out-file={outfile}"]
        return self._start(vg + [str(a) for a in argv], label)

    def attach_ceiling(self, mode):
        run("ip", "-n", self.server_ns, "link", "set", "dev", self.server_if, _xdp_flag(mode),
            "obj", self.build / "xdp_ceiling.bpf.o", "sec", "xdp")
        self.ceiling_mode = mode

    def detach_ceiling(self):
        if self.ceiling_mode:
            run("ip", "-n", self.server_ns, "link", "set", "dev", self.server_if,
                _xdp_flag(self.ceiling_mode), "off")
            self.ceiling_mode = None

    def server_prog_id(self):
        """The id of the XDP program on the server's end of the veth."""
        out = run("ip", "netns", "exec", self.server_ns, "bpftool", "-j", "net", "show",
                  "dev", self.server_if)
        for entry in json.loads(out):
            for x in entry.get("xdp", []):
                return x["id"]
        raise BenchError(f"no XDP program on {self.server_if}")


def _xdp_flag(mode):
    return {"native": "xdpdrv", "generic": "xdpgeneric"}[mode]


class BpfStats:
    """kernel.bpf_stats_enabled for the lifetime of the context; reads one
    program's run time and run count."""

    def __enter__(self):
        self.old = run("sysctl", "-n", "kernel.bpf_stats_enabled").strip()
        run("sysctl", "-qw", "kernel.bpf_stats_enabled=1")
        return self

    def __exit__(self, *exc):
        run("sysctl", "-qw", f"kernel.bpf_stats_enabled={self.old}", check=False)

    @staticmethod
    def read(prog_id):
        p = json.loads(run("bpftool", "-j", "prog", "show", "id", prog_id))
        return p.get("run_time_ns", 0), p.get("run_cnt", 0)
