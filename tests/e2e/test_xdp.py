"""The XDP fast path, end to end (docs/xdp.md).

The daemon runs in a network namespace behind a veth pair (netns.py) with its
XDP program on the namespace's end; these tests talk to it from the root
namespace, over TCP and UDP, IPv4 and IPv6. Every XDP test runs twice: with
the program attached in native mode (xdp_pass.bpf.o on the client's end, so
that native XDP_TX is delivered) and in generic mode.

Which path answered a request is never guessed: the xdp_* counters of `stats`
are read before and after it. A key is admitted to the map after the daemon
has served XDP_ADMIT_READS (2) UDP get/gets hits of it, so "admit" below is:
set over TCP, get twice over UDP (the daemon answers), and the third UDP get
must be answered by XDP (xdp_replies +1).

Replies: a single-key reply from XDP must be the daemon's datagram byte for
byte; a multi-key reply is one datagram holding the bytes of the daemon's
per-key datagrams, in order (docs/differences.md, j). A reply more than
SURE_GROWTH bytes longer than its request that the program passes for lack
of room in the frame (xdp_pass_no_room, as docs/xdp.md allows; a veth leaves
little) is checked as the daemon's reply instead, with a warning in pytest's
summary that names the growth.

Needs root (namespaces, veth, XDP); skipped otherwise, and when XDPCACHED_BIN
is memcached. Also in the `protocol` subset, so run-all.sh runs it against
the ASan+UBSan build too.
"""

import itertools
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import warnings

import pytest

from helpers import udp_frame, udp_header
from netns import HConn, Netns, NetnsError, NsServer, kill_leftovers, sh
from servers import REPO, ServerError, is_memcached, xdpcached_bin

XDP_ADMIT_READS = 2
UDP_MAX = 1400                   # MC_UDP_MAX_DATAGRAM, header included
UDP_MAX_DATA = UDP_MAX - 8       # a reply's payload in one datagram
XDP_MAX_VALUE_LIMIT = 1369       # largest --xdp-max-value the daemon takes
END = b"END\r\n"

# The shared fast-path daemon serves every value that can fit one datagram.
SHARED_ARGS = ("--xdp-max-value", str(XDP_MAX_VALUE_LIMIT))


def _skip_reason():
    if is_memcached(xdpcached_bin()):
        return "XDPCACHED_BIN is memcached, which has no XDP fast path"
    if os.geteuid() != 0:
        return "needs root: creates a network namespace, a veth pair and attaches XDP programs"
    if shutil.which("ip") is None:
        return "iproute2's ip not found"
    return None


if _skip_reason() is not None:
    pytest.skip(f"XDP fast-path tests: {_skip_reason()}", allow_module_level=True)

pytestmark = pytest.mark.protocol


def xdp_counter_names():
    """Every counter of shared/xdp_counters.h, as `stats` names them."""
    text = (REPO / "shared" / "xdp_counters.h").read_text()
    names = re.findall(r"\bX\((\w+)\)", text)
    assert "requests" in names and "drops_not_allowed" in names, names
    return ["xdp_" + n for n in names]


MIRROR_STATS = ["xdp_state", "xdp_entries", "xdp_capacity", "xdp_memory", "xdp_admissions",
                "xdp_evictions", "xdp_updates", "xdp_removals", "xdp_verified_insns",
                "xdp_verified_insns_mg"]
BUCKET_SLOTS = 7    # shared/xdp_cache.h, XDP_BUCKET_SLOTS


def capacity_for(keys):
    """The slots the daemon makes for --xdp-entries keys: a power of two of
    buckets, about 70% full (xdp_mirror_buckets_for)."""
    buckets = 1
    while buckets < keys // 5 + 1:
        buckets *= 2
    return buckets * BUCKET_SLOTS


# -- fixtures -----------------------------------------------------------------

def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def netns():
    # A SIGTERM (run-all.sh's timeout) becomes a KeyboardInterrupt, after
    # which pytest still runs the teardowns: no namespace or daemon left.
    old_handler = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield from _netns()
    finally:
        signal.signal(signal.SIGTERM, old_handler)


def _netns():
    ns = Netns()
    why = ""
    try:
        ns.create()
    except NetnsError as e:
        why = str(e)
    if why:
        pytest.fail(f"could not set up the test namespace: {why}", pytrace=False)
    try:
        yield ns
    finally:
        left = kill_leftovers()
        problems = ns.destroy()
    if left:
        problems.append(f"{left} daemon(s) were still running at the end and were killed")
    if problems:
        pytest.fail("namespace cleanup: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="module", params=["native", "generic"])
def mode(request, netns):
    """The XDP mode of this round of tests; native needs xdp_pass on the
    client's end of the veth."""
    if request.param == "native":
        try:
            netns.attach_pass()
        except NetnsError as e:
            pytest.fail(f"could not attach xdp_pass to {netns.cli_if}: {e}", pytrace=False)
    yield request.param
    if request.param == "native":
        netns.detach_pass()


class _Holder:
    """The module's long-lived daemons: `fast` (XDP on, in the current mode)
    and `ref` (--xdp off, the reference for byte comparisons). Only one
    daemon can hold the XDP attachment, so tests that start their own fast
    daemon first release the shared one; it is restarted when next needed."""

    def __init__(self, ns):
        self.ns = ns
        self.fast = None
        self.ref = None
        self.problems = []
        self.failed = {}

    def get_fast(self, mode):
        if mode in self.failed:      # fail the rest of the round at once
            raise ServerError(f"(as before) {self.failed[mode]}")
        if self.fast is not None and (self.fast.xdp != mode or not self.fast.alive()):
            self.release_fast()
        if self.fast is None:
            try:
                self.fast = NsServer(self.ns, mode, SHARED_ARGS).start()
            except ServerError as e:
                self.failed[mode] = str(e)
                raise
        return self.fast

    def release_fast(self):
        if self.fast is not None:
            self.problems += self.fast.stop()
            self.fast = None

    def get_ref(self):
        if self.ref is not None and not self.ref.alive():
            self.problems += self.ref.stop()
            self.ref = None
        if self.ref is None:
            self.ref = NsServer(self.ns, "off",
                                ("--udp-allow", f"{self.ns.net4},{self.ns.net6}")).start()
        return self.ref

    def close(self):
        self.release_fast()
        if self.ref is not None:
            self.problems += self.ref.stop()
            self.ref = None
        return self.problems


@pytest.fixture(scope="module")
def holder(netns):
    h = _Holder(netns)
    yield h
    problems = h.close()
    if problems:
        pytest.fail("shared daemons: " + "\n".join(problems), pytrace=False)


def _checked(srv):
    """Fails the test when srv died or wrote a sanitizer report during it."""
    srv.new_problems()
    yield srv
    problems = srv.new_problems()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _shared(get, *args):
    """A shared daemon from one of the holder's getters, checked around the
    test; a daemon that cannot start fails the test with its reason."""
    try:
        srv = get(*args)
    except ServerError as e:
        pytest.fail(str(e), pytrace=False)
    yield from _checked(srv)


@pytest.fixture
def xsrv(holder, mode):
    """The shared daemon with the fast path on, in this round's mode."""
    yield from _shared(holder.get_fast, mode)


@pytest.fixture
def ref(holder):
    """The shared daemon with --xdp off (same namespace, another port)."""
    yield from _shared(holder.get_ref)


@pytest.fixture
def ns_factory(netns, holder):
    """start(xdp, *extra_args) -> a fresh daemon in the namespace for this
    test; xdp is a mode, "off" or None. Stopped (SIGTERM, exit 0, no
    sanitizer report) at the end, and then no XDP program may be left on the
    interface."""
    started = []

    def start(xdp, *extra_args, threads=2, expect_fastpath=None):
        if xdp not in (None, "off"):
            holder.release_fast()
        srv, why = NsServer(netns, xdp, extra_args, threads=threads), ""
        try:
            srv.start(expect_fastpath)
        except ServerError as e:
            why = str(e)
        if why:
            pytest.fail(why, pytrace=False)
        started.append(srv)
        return srv

    yield start
    problems = []
    for srv in started:
        problems += srv.stop()
    if holder.fast is None and not netns.wait_server_xdp_gone():
        problems.append(f"an XDP program is still attached to {netns.srv_if} after every "
                        f"daemon of the test stopped: {netns.server_xdp()}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# -- helpers ------------------------------------------------------------------

_serial = itertools.count(1)
_ALNUM = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_short_serial = {}


def mkkey(length, tag="x"):
    """A key of exactly `length` bytes, never returned before in this session."""
    base = b"%s%d-" % (tag.encode(), next(_serial))
    if length >= len(base):
        return base + b"k" * (length - len(base))
    n = _short_serial.get(length, 0)
    _short_serial[length] = n + 1
    if n >= len(_ALNUM) ** length:
        raise RuntimeError(f"out of unique {length}-byte keys")
    out = b""
    for _ in range(length):
        out = _ALNUM[n % len(_ALNUM):][:1] + out
        n //= len(_ALNUM)
    return out


def mkvalue(n, key=b""):
    """n bytes, binary (CR, LF and NUL included), different for each key."""
    seed = sum(key) & 0xff
    return bytes((i * 31 + seed) & 0xff for i in range(n))


def value_text(key, flags, data, cas=None):
    head = b"VALUE %s %d %d" % (key, flags, len(data))
    if cas is not None:
        head += b" %d" % cas
    return head + b"\r\n" + data + b"\r\n"


def frame_len(datagram, v6=False):
    """Bytes of the Ethernet frame that carries this UDP payload."""
    return 14 + (40 if v6 else 20) + 8 + len(datagram)


def delta(before, after, names=None):
    names = names or set(before) | set(after)
    return {n: after.get(n, 0) - before.get(n, 0) for n in names}


def ask_counted(srv, u, payload, rid, **kw):
    """(reply datagrams, counter deltas) of one request."""
    before = srv.xstats()
    grams = u.ask(payload, rid, **kw)
    return grams, delta(before, srv.xstats())


def xdp_counts(d):
    return {k: v for k, v in d.items() if k.startswith("xdp_") and v}


def show(grams):
    return [(udp_header(g), g[8:][:300]) for g in grams]


def tcp_set(srv, key, data, flags=0, exptime=0):
    with srv.conn() as c:
        r = c.set(key, data, flags, exptime)
        assert r == b"STORED", (key, r)


def tcp_gets(srv, key):
    """(flags, value, cas) or None."""
    with srv.conn() as c:
        v = c.get_multi(b"gets", [key])
    return v.get(key)


# A reply may be this much longer than its request whatever the driver: XDP
# always has XDP_PACKET_HEADROOM (256) bytes in front of the frame. Beyond it
# the room depends on the driver's buffers; a veth of kernel 6.x gives little
# more than the headroom (see require_xdp).
SURE_GROWTH = 200


def require_xdp(d, what, growth):
    """Asserts the request whose counter deltas are d was answered by XDP.
    growth: how many bytes longer the reply is than the request. When it is
    more than SURE_GROWTH and the program passed for lack of room
    (xdp_pass_no_room), it warns and returns False: the program did what
    docs/xdp.md says (pass untouched), the driver gave no room, and the
    caller then holds the daemon's reply to the same bytes. True: XDP
    answered."""
    if d.get("xdp_replies") == 1:
        return True
    if growth > SURE_GROWTH and d.get("xdp_pass_no_room") == 1 and d.get("xdp_passes") == 1:
        warnings.warn(f"{what}: passed for lack of room (xdp_pass_no_room): the driver did not "
                      f"let the frame grow by {growth} bytes; the daemon's reply is checked instead")
        return False
    pytest.fail(f"{what}: not answered by XDP: counters moved {xdp_counts(d)}", pytrace=False)


def admit(srv, u, keys, verb=b"get", rid=1000):
    """Reads keys (one request) over UDP until the fast path answers: the
    first two requests must be answered by the daemon, the third by XDP
    with a hit for every key, with the same payload (how it is cut into
    datagrams is test_same_bytes_*'s business). Returns the three replies."""
    payload = verb + b" " + b" ".join(keys) + b"\r\n"
    replies, deltas = [], []
    for _ in range(XDP_ADMIT_READS + 1):
        g, d = ask_counted(srv, u, payload, rid)
        replies.append(g)
        deltas.append(d)
    for i in range(XDP_ADMIT_READS):
        assert deltas[i].get("xdp_replies") == 0, \
            f"read {i + 1} of {payload[:80]!r} was answered by XDP before admission: {xdp_counts(deltas[i])}"
        assert replies[i], f"no reply to {payload[:80]!r}"
    growth = len(b"".join(x[8:] for x in replies[0])) - len(payload)
    if require_xdp(deltas[-1], f"read {XDP_ADMIT_READS + 1} of {payload[:80]!r} (after "
                   f"{XDP_ADMIT_READS} daemon hits; mirror: {srv.xstats().get('xdp_entries')} "
                   f"entries)", growth):
        assert deltas[-1].get("xdp_hits") == len(keys), xdp_counts(deltas[-1])
    joined = [b"".join(x[8:] for x in g) for g in replies]
    assert joined[0] == joined[1] == joined[2], \
        f"replies differ between daemon and XDP: {show(replies[0])} / {show(replies[2])}"
    return replies


def udp_value(srv, key, v6=False, rid=4321, verb=b"get"):
    """(payload of the reply, counter deltas) of `get key` over UDP."""
    with srv.udp_client(v6) as u:
        g, d = ask_counted(srv, u, verb + b" " + key + b"\r\n", rid)
    assert g, f"no UDP reply to {verb.decode()} {key[:60]!r}"
    for x in g:
        assert udp_header(x)[0] == rid
    return b"".join(x[8:] for x in g), d


def by_xdp(d):
    return d.get("xdp_replies") == 1


# -- the fast path is there, or not --------------------------------------------

def test_attached_in_requested_mode(xsrv, netns, mode):
    info = netns.server_xdp()
    assert info is not None, f"no XDP program on {netns.srv_if}:\n{netns.link_show()}"
    assert info["mode"] == mode, f"asked for {mode}, attached as {info}"
    assert "xdp" in netns.link_show()
    net = netns.bpftool_net()
    assert netns.srv_if in net and ("driver" if mode == "native" else "generic") in net, net
    stats = xsrv.stats()
    missing = [n for n in MIRROR_STATS + xdp_counter_names() if n not in stats]
    assert not missing, f"stats lacks {missing}"
    assert stats["xdp_state"] == "attached", stats["xdp_state"]
    capacity = int(stats["xdp_capacity"])
    assert capacity == capacity_for(262144), stats["xdp_capacity"]   # the default --xdp-entries
    assert int(stats["xdp_memory"]) == 64 << 20, stats["xdp_memory"]  # the default --xdp-memory
    assert int(stats["xdp_entries"]) <= capacity
    assert 0 < int(stats["xdp_verified_insns"]) <= 200000, stats["xdp_verified_insns"]
    assert 0 < int(stats["xdp_verified_insns_mg"]) <= 200000, stats["xdp_verified_insns_mg"]


def test_xdp_entries_size_the_map(ns_factory, mode, netns):
    srv = ns_factory(mode, "--xdp-entries", "1000", "--xdp-memory", "2")
    st = srv.xstats()
    assert st["xdp_capacity"] == capacity_for(1000) == 256 * BUCKET_SLOTS, st["xdp_capacity"]
    assert st["xdp_memory"] == 2 << 20, st["xdp_memory"]
    problems = srv.stop()
    assert not problems, problems
    srv = ns_factory(mode, "--xdp-entries", "4")
    assert srv.xstats()["xdp_capacity"] == BUCKET_SLOTS


def test_xdp_off_means_no_fastpath(ns_factory, netns):
    srv = ns_factory("off", "--xdp-iface", netns.srv_if, "--udp-allow", netns.net4)
    assert netns.server_xdp() is None
    stats = srv.stats()
    assert not [k for k in stats if k.startswith("xdp_")], stats
    tcp_set(srv, b"off-k", b"v")
    payload, _ = udp_value(srv, b"off-k")
    assert payload == value_text(b"off-k", 0, b"v") + END


def test_no_iface_no_fastpath(ns_factory, netns):
    """Without --xdp-iface there is nothing to attach to: no xdp_ stats."""
    srv = ns_factory(None, "--udp-allow", netns.net4)
    assert netns.server_xdp() is None
    assert not [k for k in srv.stats() if k.startswith("xdp_")]


@pytest.mark.parametrize("also_ours", [False, True], ids=["alone", "with-a-good-one"])
def test_missing_iface_serves_without_fastpath(ns_factory, netns, also_ours):
    """An interface that does not exist (alone, or after one that does): a
    log line naming it, no fast path at all (nothing left attached to the
    good one), and the daemon serves as usual."""
    ifaces = ["--xdp-iface", netns.srv_if] if also_ours else []
    srv = ns_factory(None, *ifaces, "--xdp-iface", "nosuchif0", "--xdp-mode", "generic",
                     "--udp-allow", netns.net4, expect_fastpath=False)
    deadline = time.monotonic() + 10
    while srv.stats().get("xdp_state") == "loading" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.alive(), srv.stderr_tail()
    xdp = {k: v for k, v in srv.stats().items() if k.startswith("xdp_")}
    assert xdp == {"xdp_state": "failed"}, xdp
    assert netns.server_xdp() is None, f"left attached: {netns.server_xdp()}"
    assert "nosuchif0" in srv.stderr_text(), f"no log line names the interface: {srv.stderr_tail()!r}"
    tcp_set(srv, b"nf", b"1")
    assert udp_value(srv, b"nf")[0] == value_text(b"nf", 0, b"1") + END


@pytest.mark.parametrize("args", [
    ["--xdp-mode", "bogus"],
    ["--xdp", "maybe"],
    ["--xdp-entries", "abc"],
    ["--xdp-entries", "0"],
    ["--xdp-memory", "0"],
    ["--xdp-max-value", str(XDP_MAX_VALUE_LIMIT + 1)],
    ["--xdp-max-value", "-1"],
    ["--udp-allow", "10.0.0.0/33"],
    ["--udp-allow", "not-an-address"],
    ["--xdp-iface", "a/b"],
], ids=lambda a: " ".join(a))
def test_bad_xdp_flags_refused(args):
    argv = [xdpcached_bin(), "-l", "127.0.0.1", "-p", "0", "-U", "0"] + args
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(args)} was accepted (the daemon kept running)")
    assert p.returncode == 1, (p.returncode, p.stderr)     # memcached's code for a bad flag
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xdpcached: "), p.stderr


def test_pinned_maps(xsrv, netns):
    """Maps pinned under /sys/fs/bpf/xdpcached/<iface>/ in the daemon's own
    mount namespace (ip netns exec gave it a private /sys)."""
    d = f"/sys/fs/bpf/xdpcached/{netns.srv_if}"
    p = sh("nsenter", "-t", xsrv.pid(), "-m", "ls", d, check=False)
    if p.returncode != 0:
        assert "not pinned" in xsrv.stderr_text(), \
            f"{d} not there ({p.stderr.strip()}) and no log line says the maps are not pinned"
        pytest.fail(f"maps not pinned: {xsrv.stderr_tail()}")
    names = p.stdout.split()
    for m in ("cache_index", "cache_values", "counters", "allow"):
        assert m in names, names
    buckets = xsrv.xstats()["xdp_capacity"] // BUCKET_SLOTS
    info = sh("nsenter", "-t", xsrv.pid(), "-m", "bpftool", "-j", "map", "show", "pinned",
              f"{d}/cache_index").stdout
    assert '"array"' in info and f'"max_entries":{buckets}' in info, info
    # With BTF, bpftool prints the buckets' fields by name.
    tcp_set(xsrv, b"pinned-k", b"v")
    for _ in range(3):
        udp_value(xsrv, b"pinned-k")
    dump = sh("nsenter", "-t", xsrv.pid(), "-m", "bpftool", "-j", "map", "dump", "pinned",
              f"{d}/cache_index", timeout=60).stdout
    assert '"slots"' in dump and '"chunk"' in dump, dump[:500]


# -- the same bytes, whoever answers ---------------------------------------------

MAX = "max"       # the largest value whose gets reply still fits one datagram

SAME_BYTES_CASES = [
    # id, verb, [(key length, value length, flags)], terminator
    ("get-k1-v1", b"get", [(1, 1, 0)], b"\r\n"),
    ("get-k10-v0", b"get", [(10, 0, 0)], b"\r\n"),
    ("get-k100-v100-flagsmax", b"get", [(100, 100, 4294967295)], b"\r\n"),
    ("get-k250-v1000", b"get", [(250, 1000, 1)], b"\r\n"),
    ("get-k250-vmax", b"get", [(250, MAX, 7)], b"\r\n"),
    ("get-k3-vmax", b"get", [(3, MAX, 0)], b"\r\n"),
    ("gets-k1-v1", b"gets", [(1, 1, 0)], b"\r\n"),
    ("gets-k40-v0", b"gets", [(40, 0, 2)], b"\r\n"),
    ("gets-k250-vmax", b"gets", [(250, MAX, 3)], b"\r\n"),
    ("gets-k3-vmax", b"gets", [(3, MAX, 65535)], b"\r\n"),
    ("get-2keys", b"get", [(5, 10, 0), (200, 50, 9)], b"\r\n"),
    ("get-8keys", b"get", [(1, 0, 0), (8, 1, 1), (16, 10, 2), (32, 50, 3), (64, 100, 4),
                           (100, 3, 5), (2, 7, 6), (5, 200, 4294967295)], b"\r\n"),
    ("gets-8keys", b"gets", [(2, 0, 0), (9, 1, 1), (17, 10, 2), (33, 50, 3), (65, 100, 4),
                             (101, 3, 5), (3, 7, 6), (6, 200, 7)], b"\r\n"),
    ("get-3keys-v0", b"get", [(4, 0, 0), (5, 0, 0), (6, 0, 0)], b"\r\n"),
    ("get-lf-only", b"get", [(12, 20, 0)], b"\n"),
    ("gets-lf-only", b"gets", [(12, 20, 0)], b"\n"),
]


def _set_all(servers, items):
    for srv in servers:
        for key, data, flags in items:
            tcp_set(srv, key, data, flags)


def _size_for_gets_fit(srv, key, flags, extra=0):
    """Sets key on srv to the value size at which `gets key` is exactly one
    full datagram (+extra bytes); the CAS the value gets is part of it, so
    set until the size and the CAS agree. Returns the value."""
    n = UDP_MAX_DATA - len(END) - len(value_text(key, flags, b"", 1)) - 6
    for _ in range(6):
        data = mkvalue(n, key)
        tcp_set(srv, key, data, flags)
        cas = tcp_gets(srv, key)[2]
        total = len(value_text(key, flags, data, cas)) + len(END)
        if total == UDP_MAX_DATA + extra:
            return data
        n += UDP_MAX_DATA + extra - total
    raise AssertionError("could not size the value")


@pytest.mark.parametrize("case", SAME_BYTES_CASES, ids=[c[0] for c in SAME_BYTES_CASES])
def test_same_bytes_from_xdp_and_daemon(xsrv, ref, case):
    """The raw reply datagrams XDP sends (after admission) are the ones the
    daemon sent for the same request (same request id) before, and, for get,
    the ones a daemon with --xdp off sends."""
    _, verb, spec, term = case
    items = []
    for klen, vlen, flags in spec:
        key = mkkey(klen, "s")
        if vlen == MAX:
            data = _size_for_gets_fit(xsrv, key, flags)
            assert len(data) <= XDP_MAX_VALUE_LIMIT
        else:
            data = mkvalue(vlen, key)
            tcp_set(xsrv, key, data, flags)
        items.append((key, data, flags))
    _set_all([ref], items)
    keys = [k for k, _, _ in items]
    payload = verb + b" " + b" ".join(keys) + term
    rid = 0xA5C3
    with xsrv.udp_client() as u:
        replies, deltas = [], []
        for _ in range(3):
            g, d = ask_counted(xsrv, u, payload, rid)
            replies.append(g)
            deltas.append(d)
    assert replies[0], "the daemon did not answer"
    assert [d["xdp_replies"] for d in deltas[:2]] == [0, 0], \
        f"answered by XDP before admission: {[xdp_counts(d) for d in deltas]}"
    assert replies[1] == replies[0], "the daemon's two answers differ"
    if require_xdp(deltas[2], "the third request",
                   len(b"".join(x[8:] for x in replies[0])) - len(payload)):
        assert deltas[2]["xdp_hits"] == len(keys), xdp_counts(deltas[2])
        check_xdp_reply(replies[2], replies[0], rid, len(keys))
        assert deltas[2]["xdp_bytes_sent"] == frame_len(replies[2][0]), \
            (deltas[2]["xdp_bytes_sent"], frame_len(replies[2][0]))
    else:
        assert replies[2] == replies[0], "the daemon's third answer differs"
    # What it says is right, too.
    want = b""
    for key, data, flags in items:
        cas = tcp_gets(xsrv, key)[2] if verb == b"gets" else None
        want += value_text(key, flags, data, cas)
    assert b"".join(x[8:] for x in replies[2]) == want + END
    if verb == b"get":
        with ref.udp_client() as u:
            r = u.ask(payload, rid)
        assert r == replies[0], f"--xdp off daemon: {show(r)}\n fast-path daemon: {show(replies[0])}"


def check_xdp_reply(xdp, daemon, rid, nkeys):
    """XDP's reply datagrams against the daemon's to the same request. One
    key: the same datagram, byte for byte. Several keys (docs/differences.md,
    j): the daemon sends a datagram per key, each numbered 0 of 1, END in
    the last; XDP one datagram 0 of 1 with the same bytes in the same order."""
    assert len(xdp) == 1 and udp_header(xdp[0]) == (rid, 0, 1, 0), show(xdp)
    assert len(xdp[0]) <= UDP_MAX
    if nkeys == 1:
        assert xdp == daemon, \
            f"XDP reply differs from the daemon's:\n daemon {show(daemon)}\n xdp    {show(xdp)}"
        return
    assert len(daemon) == nkeys and all(udp_header(d) == (rid, 0, 1, 0) for d in daemon), show(daemon)
    assert b"".join(d[8:] for d in daemon) == xdp[0][8:], \
        f"XDP reply differs from the daemon's:\n daemon {show(daemon)}\n xdp    {show(xdp)}"


def test_same_bytes_full_multiget(xsrv, ref):
    """8 keys whose get reply is exactly one full datagram."""
    items = []
    for i in range(8):
        key = mkkey(20 + i, "f")
        items.append([key, mkvalue(100, key), i])
    size = sum(len(value_text(k, f, d)) for k, d, f in items) + len(END)
    last = items[-1]
    last[1] = mkvalue(len(last[1]) + UDP_MAX_DATA - size, last[0])
    items = [tuple(x) for x in items]
    assert sum(len(value_text(k, f, d)) for k, d, f in items) + len(END) == UDP_MAX_DATA
    _set_all([xsrv, ref], items)
    keys = [k for k, _, _ in items]
    with xsrv.udp_client() as u:
        replies = admit(xsrv, u, keys, rid=77)
    # admit() accepts the daemon's answer when the driver had no room (it
    # warns); the daemon's is eight datagrams, XDP's one.
    if replies[2] != replies[0]:
        assert len(replies[2]) == 1 and len(replies[2][0]) == UDP_MAX
        check_xdp_reply(replies[2], replies[0], 77, len(keys))
    with ref.udp_client() as u:
        assert u.ask(b"get " + b" ".join(keys) + b"\r\n", 77) == replies[0]


def test_same_bytes_over_ipv6(xsrv):
    """Admitted and answered over IPv6; the same bytes as over IPv4."""
    items = [(mkkey(30, "v6"), mkvalue(n), f) for n, f in ((0, 0), (77, 5), (150, 1))]
    _set_all([xsrv], items)
    for key, data, flags in items:
        with xsrv.udp_client(v6=True) as u6:
            r6 = admit(xsrv, u6, [key], rid=606)
            g, d = ask_counted(xsrv, u6, b"gets " + key + b"\r\n", 607)
            g, d = ask_counted(xsrv, u6, b"gets " + key + b"\r\n", 607)
            require_xdp(d, "gets over IPv6", 0)
            assert g == [udp_frame(607, value_text(key, flags, data, tcp_gets(xsrv, key)[2]) + END)], show(g)
        assert r6[2] == r6[0] == [udp_frame(606, value_text(key, flags, data) + END)], show(r6[2])
        with xsrv.udp_client() as u4:
            g4, d4 = ask_counted(xsrv, u4, b"get " + key + b"\r\n", 606)
        require_xdp(d4, "IPv4 get", 0)
        assert g4 == r6[2], "IPv4 and IPv6 replies differ"
        with xsrv.udp_client(v6=True) as u6:
            g, d = ask_counted(xsrv, u6, b"get " + key + b"\r\n", 608)
        require_xdp(d, "IPv6 get", 0)
        assert d["xdp_bytes_sent"] == frame_len(g[0], v6=True), xdp_counts(d)


# -- what the fast path must leave to the daemon --------------------------------

def test_miss_falls_through(xsrv):
    key = mkkey(20, "miss")
    for verb in (b"get", b"gets"):
        with xsrv.udp_client() as u:
            g, d = ask_counted(xsrv, u, verb + b" " + key + b"\r\n", 5)
        assert g == [udp_frame(5, END)], show(g)
        assert d["xdp_replies"] == 0 and d["xdp_misses"] == 1 and d["xdp_passes"] == 1 \
            and d["xdp_requests"] == 1, xdp_counts(d)
        assert d["get_misses"] == 1


def test_present_but_not_admitted_is_a_miss(xsrv):
    key = mkkey(20, "na")
    tcp_set(xsrv, key, b"value")
    payload, d = udp_value(xsrv, key)
    assert payload == value_text(key, 0, b"value") + END
    assert d["xdp_replies"] == 0 and d["xdp_misses"] == 1, xdp_counts(d)


@pytest.mark.parametrize("verb", [b"get", b"gets"])
def test_multiget_hits_and_misses(xsrv, ref, verb):
    """Admitted keys mixed with absent and not-admitted ones: the daemon
    answers the whole request, every key in order."""
    a, b_absent, c, d_cold = (mkkey(15, "mm") for _ in range(4))
    items = [(a, b"alpha", 1), (c, b"", 3), (d_cold, b"delta", 4)]
    _set_all([xsrv, ref], items)
    with xsrv.udp_client() as u:
        admit(xsrv, u, [a])
        admit(xsrv, u, [c])
        payload = verb + b" %s %s %s %s\r\n" % (a, b_absent, c, d_cold)
        g, dl = ask_counted(xsrv, u, payload, 31)
    assert dl["xdp_replies"] == 0 and dl["xdp_misses"] == 1 and dl["xdp_passes"] == 1, xdp_counts(dl)
    cas = (lambda k: tcp_gets(xsrv, k)[2]) if verb == b"gets" else (lambda k: None)
    want = (value_text(a, 1, b"alpha", cas(a)) + value_text(c, 3, b"", cas(c))
            + value_text(d_cold, 4, b"delta", cas(d_cold)) + END)
    assert b"".join(x[8:] for x in g) == want, show(g)
    if verb == b"get":
        with ref.udp_client() as u:
            assert u.ask(payload, 31) == g


def test_multiget_too_big_for_one_datagram(xsrv, ref):
    """Every key admitted, but together they do not fit one datagram: the
    daemon answers (sequenced datagrams), pass_too_big."""
    items = [(mkkey(40, "big"), mkvalue(300), i) for i in range(5)]
    _set_all([xsrv, ref], items)
    keys = [k for k, _, _ in items]
    with xsrv.udp_client() as u:
        before = xsrv.xstats()
        for k in keys:
            for _ in range(XDP_ADMIT_READS):
                assert u.ask(b"get " + k + b"\r\n", 40)
        assert delta(before, xsrv.xstats())["xdp_admissions"] == len(keys)
        payload = b"get " + b" ".join(keys) + b"\r\n"
        g, d = ask_counted(xsrv, u, payload, 41)
    assert d["xdp_replies"] == 0 and d["xdp_pass_too_big"] == 1, xdp_counts(d)
    assert b"".join(x[8:] for x in g) == b"".join(value_text(k, f, v) for k, v, f in items) + END
    with ref.udp_client() as u:
        assert u.ask(payload, 41) == g


def test_value_one_byte_over_the_datagram(xsrv, ref):
    """A value whose gets reply is one byte more than a datagram: gets is
    the daemon's (two datagrams) whether or not get was admitted."""
    key = mkkey(50, "over")
    data = _size_for_gets_fit(xsrv, key, 0, extra=1)
    with xsrv.udp_client() as u:
        for i in range(3):
            g, d = ask_counted(xsrv, u, b"gets " + key + b"\r\n", 51)
            assert d["xdp_replies"] == 0, f"XDP answered a reply of {UDP_MAX + 1} bytes: {show(g)}"
            assert len(g) == 2 and b"".join(x[8:] for x in g) == \
                value_text(key, 0, data, tcp_gets(xsrv, key)[2]) + END
        replies = [ask_counted(xsrv, u, b"get " + key + b"\r\n", 52)[0] for _ in range(3)]
    tcp_set(ref, key, data)
    with ref.udp_client() as u:
        want = u.ask(b"get " + key + b"\r\n", 52)
    assert all(r == want for r in replies), [show(r) for r in replies]


def test_other_port_untouched(xsrv, ref):
    """The program answers only for its daemon's port: a get of an admitted
    key sent to another port (the --xdp off daemon) is that daemon's."""
    key = mkkey(20, "port")
    tcp_set(xsrv, key, b"fast-daemon")
    tcp_set(ref, key, b"other-daemon")
    with xsrv.udp_client() as u:
        admit(xsrv, u, [key])
    before = xsrv.xstats()
    with ref.udp_client() as u:
        g = u.ask(b"get " + key + b"\r\n", 9)
    d = delta(before, xsrv.xstats())
    assert g == [udp_frame(9, value_text(key, 0, b"other-daemon") + END)], show(g)
    assert d["xdp_requests"] == 0 and d["xdp_replies"] == 0, xdp_counts(d)


def _plain(k):
    return udp_frame(7, b"get " + k + b"\r\n")


# id, frame(key K, the 250-byte keys L), counter that must move (or a tuple:
# one of them), XDP may answer
NOT_FOR_XDP = [
    ("two-spaces", lambda k, L: udp_frame(7, b"get  " + k + b"\r\n"), "xdp_pass_malformed"),
    ("trailing-space", lambda k, L: udp_frame(7, b"get " + k + b" \r\n"), "xdp_pass_malformed"),
    ("leading-space", lambda k, L: udp_frame(7, b" get " + k + b"\r\n"),
     ("xdp_pass_malformed", "xdp_pass_not_get")),
    ("tab", lambda k, L: udp_frame(7, b"get\t" + k + b"\r\n"), ("xdp_pass_malformed", "xdp_pass_not_get")),
    ("upper-case", lambda k, L: udp_frame(7, b"GET " + k + b"\r\n"), ("xdp_pass_malformed", "xdp_pass_not_get")),
    ("no-key", lambda k, L: udp_frame(7, b"get\r\n"), ("xdp_pass_malformed", "xdp_pass_not_get")),
    ("no-newline", lambda k, L: udp_frame(7, b"get " + k), "xdp_pass_malformed"),
    ("cr-only", lambda k, L: udp_frame(7, b"get " + k + b"\r"), "xdp_pass_malformed"),
    ("two-commands", lambda k, L: udp_frame(7, b"get " + k + b"\r\nget " + k + b"\r\n"), "xdp_pass_malformed"),
    ("get-then-version", lambda k, L: udp_frame(7, b"get " + k + b"\r\nversion\r\n"), "xdp_pass_malformed"),
    ("key-251", lambda k, L: udp_frame(7, b"get " + L[0] + b"x\r\n"), "xdp_pass_too_long"),
    ("nine-keys", lambda k, L: udp_frame(7, b"get " + b" ".join([k] * 9) + b"\r\n"), "xdp_pass_too_many_keys"),
    ("gets-nine-keys", lambda k, L: udp_frame(7, b"gets " + b" ".join([k] * 9) + b"\r\n"),
     "xdp_pass_too_many_keys"),
    ("key-with-del", lambda k, L: udp_frame(7, b"get " + k + b"\x7f\r\n"), "xdp_pass_malformed"),
    ("key-with-ctrl", lambda k, L: udp_frame(7, b"get " + k + b"\x01\r\n"), "xdp_pass_malformed"),
    ("version", lambda k, L: udp_frame(7, b"version\r\n"), "xdp_pass_not_get"),
    ("gat", lambda k, L: udp_frame(7, b"gat 0 " + k + b"\r\n"), "xdp_pass_not_get"),
    ("getter", lambda k, L: udp_frame(7, b"getx " + k + b"\r\n"), ("xdp_pass_malformed", "xdp_pass_not_get")),
    ("sequence-9", lambda k, L: udp_frame(7, b"get " + k + b"\r\n", seq=9), "xdp_pass_malformed"),
    ("total-2", lambda k, L: udp_frame(7, b"get " + k + b"\r\n", total=2), "xdp_pass_malformed"),
    ("total-0", lambda k, L: udp_frame(7, b"get " + k + b"\r\n", total=0), "xdp_pass_malformed"),
    ("header-only", lambda k, L: udp_frame(7, b""), "xdp_pass_malformed"),
    ("short-header", lambda k, L: b"\x00\x07\x00\x00\x00\x01\x00", "xdp_pass_malformed"),
    ("fragmented-8x250", lambda k, L: udp_frame(7, b"get " + b" ".join(L) + b"\r\n"), "xdp_pass_fragment"),
    ("mg-base64", lambda k, L: udp_frame(7, b"mg " + k + b" b v\r\n"), "xdp_pass_mg_flag"),
    ("mg-T", lambda k, L: udp_frame(7, b"mg " + k + b" v T30\r\n"), "xdp_pass_mg_flag"),
    ("mg-N", lambda k, L: udp_frame(7, b"mg " + k + b" N30 v\r\n"), "xdp_pass_mg_flag"),
    ("mg-R", lambda k, L: udp_frame(7, b"mg " + k + b" R30 v\r\n"), "xdp_pass_mg_flag"),
    ("mg-E", lambda k, L: udp_frame(7, b"mg " + k + b" E5 v\r\n"), "xdp_pass_mg_flag"),
    ("mg-I", lambda k, L: udp_frame(7, b"mg " + k + b" I v\r\n"), "xdp_pass_mg_flag"),
    ("mg-u", lambda k, L: udp_frame(7, b"mg " + k + b" v u\r\n"), "xdp_pass_mg_flag"),
    ("mg-twice-v", lambda k, L: udp_frame(7, b"mg " + k + b" v v\r\n"), "xdp_pass_mg_flag"),
    ("mg-vv", lambda k, L: udp_frame(7, b"mg " + k + b" vv\r\n"), "xdp_pass_mg_flag"),
    ("mg-two-spaces", lambda k, L: udp_frame(7, b"mg  " + k + b" v\r\n"), "xdp_pass_malformed"),
    ("mg-trailing-space", lambda k, L: udp_frame(7, b"mg " + k + b" v \r\n"), "xdp_pass_malformed"),
    ("mg-two-requests", lambda k, L: udp_frame(7, b"mg " + k + b" v\r\nmg " + k + b" v\r\n"),
     "xdp_pass_malformed"),
    ("mg-opaque-32", lambda k, L: udp_frame(7, b"mg " + k + b" v O" + b"o" * 32 + b"\r\n"), "xdp_pass_too_long"),
    ("mg-key-251", lambda k, L: udp_frame(7, b"mg " + L[0] + b"x v\r\n"), "xdp_pass_too_long"),
    ("mn", lambda k, L: udp_frame(7, b"mn\r\n"), "xdp_pass_not_get"),
    ("md", lambda k, L: udp_frame(7, b"md " + k + b" q\r\nmn\r\n"), "xdp_pass_not_get"),
]


@pytest.fixture(scope="module")
def long_keys():
    return [mkkey(250, "L%d" % i) for i in range(8)]


def _no_cas(grams):
    return [re.sub(rb"(VALUE \S+ \d+ \d+) \d+\r\n", rb"\1 CAS\r\n", x) for x in grams]


@pytest.mark.parametrize("case", NOT_FOR_XDP, ids=[c[0] for c in NOT_FOR_XDP])
def test_not_plain_requests_go_to_daemon(xsrv, ref, long_keys, case):
    """Requests the program must not answer (for an admitted key): the
    daemon gives exactly the answer a --xdp off daemon gives."""
    name, make, counter = case
    key = mkkey(12, "np")
    items = [(key, b"v-" + key, 5)] + [(k, b"l", 0) for k in long_keys]
    _set_all([xsrv, ref], items)
    with xsrv.udp_client() as u:
        admit(xsrv, u, [key])
        if name.startswith("fragmented"):
            for k in long_keys:
                admit(xsrv, u, [k])
        frame = make(key, long_keys)
        quick = name in ("total-2", "total-0", "header-only", "short-header", "no-newline", "cr-only")
        before = xsrv.xstats()
        got = u.ask(None, 7, frame=frame, timeout=0.5 if quick else 2.0, quiet=0.1)
        d = delta(before, xsrv.xstats())
    with ref.udp_client() as u:
        want = u.ask(None, 7, frame=frame, timeout=0.5 if quick else 2.0, quiet=0.1)
    if name.startswith("gets"):     # the CAS values of two servers differ
        cas = b" %d\r\n" % tcp_gets(xsrv, key)[2]
        assert got and all(cas in x for x in got), show(got)
        got, want = _no_cas(got), _no_cas(want)
    assert got == want, f"{name}: fast-path daemon {show(got)}\n --xdp off daemon {show(want)}"
    assert d["xdp_replies"] == 0, f"{name}: answered by XDP: {xdp_counts(d)}"
    counters = counter if isinstance(counter, tuple) else (counter,)
    assert sum(d.get(c, 0) for c in counters) >= 1, f"{name}: {counters} did not move: {xdp_counts(d)}"
    assert d["xdp_requests"] >= 1 and d["xdp_passes"] >= 1


def test_reserved_field_and_lf(xsrv, ref):
    """Replies to a non-zero reserved field and a get ending in LF alone are
    the daemon's bytes, whoever answers."""
    key = mkkey(12, "rs")
    _set_all([xsrv, ref], [(key, b"reserved", 0)])
    with xsrv.udp_client() as u:
        admit(xsrv, u, [key])
        for frame in (udp_frame(3, b"get " + key + b"\r\n", reserved=1),
                      udp_frame(3, b"get " + key + b"\n")):
            got = u.ask(None, 3, frame=frame)
            with ref.udp_client() as r:
                want = r.ask(None, 3, frame=frame)
            assert got == want, (frame, show(got), show(want))


# -- every acknowledged write is visible at once --------------------------------

# id, initial (value, flags), the TCP command, its reply (None: a VALUE
# reply), the state after: (flags, value) or None for gone, and what the map
# must do: KEEP (rewritten in place, the next get is XDP's), REMOVE (the
# entry goes: xdp_removals), or STOP (not served any more; removed, or kept
# with an expiry in the past)
KEEP, REMOVE, STOP = "keep", "remove", "stop"
def _mutations():
    big = mkvalue(2000)
    return [
        ("set", (b"old", 1), lambda k, c: b"set %s 2 0 3\r\nnew\r\n" % k, b"STORED", (2, b"new"), KEEP),
        ("set-longer", (b"old", 1), lambda k, c: b"set %s 1 0 150\r\n%s\r\n" % (k, b"n" * 150), b"STORED",
         (1, b"n" * 150), KEEP),
        ("set-shorter", (b"old-value", 1), lambda k, c: b"set %s 1 0 0\r\n\r\n" % k, b"STORED", (1, b""), KEEP),
        ("set-noreply+version", (b"old", 0),
         lambda k, c: b"set %s 0 0 3 noreply\r\nnew\r\nversion\r\n" % k, b"VERSION ", (0, b"new"), KEEP),
        ("set-too-big-for-xdp", (b"old", 0), lambda k, c: b"set %s 0 0 2000\r\n%s\r\n" % (k, big), b"STORED",
         (0, big), REMOVE),
        ("add-existing", (b"old", 3), lambda k, c: b"add %s 0 0 3\r\nnew\r\n" % k, b"NOT_STORED", (3, b"old"), KEEP),
        ("replace", (b"old", 3), lambda k, c: b"replace %s 4 0 3\r\nnew\r\n" % k, b"STORED", (4, b"new"), KEEP),
        ("append", (b"old", 3), lambda k, c: b"append %s 9 0 4\r\n-end\r\n" % k, b"STORED", (3, b"old-end"), KEEP),
        ("prepend", (b"old", 3), lambda k, c: b"prepend %s 9 0 6\r\nstart-\r\n" % k, b"STORED",
         (3, b"start-old"), KEEP),
        ("cas", (b"old", 3), lambda k, c: b"cas %s 6 0 3 %d\r\nnew\r\n" % (k, c), b"STORED", (6, b"new"), KEEP),
        ("cas-stale", (b"old", 3), lambda k, c: b"cas %s 6 0 3 %d\r\nnew\r\n" % (k, c + 1000), b"EXISTS",
         (3, b"old"), KEEP),
        ("incr", (b"41", 0), lambda k, c: b"incr %s 1\r\n" % k, b"42", (0, b"42"), KEEP),
        ("incr-longer", (b"99", 0), lambda k, c: b"incr %s 1\r\n" % k, b"100", (0, b"100"), KEEP),
        ("decr", (b"100", 0), lambda k, c: b"decr %s 1\r\n" % k, b"99", (0, b"99 "), KEEP),
        ("decr-to-zero", (b"5", 0), lambda k, c: b"decr %s 10\r\n" % k, b"0", (0, b"0"), KEEP),
        ("delete", (b"old", 0), lambda k, c: b"delete %s\r\n" % k, b"DELETED", None, REMOVE),
        ("touch", (b"old", 0), lambda k, c: b"touch %s 1000\r\n" % k, b"TOUCHED", (0, b"old"), KEEP),
        ("gat", (b"old", 0), lambda k, c: b"gat 1000 %s\r\n" % k, None, (0, b"old"), KEEP),
        ("gats", (b"old", 0), lambda k, c: b"gats 0 %s\r\n" % k, None, (0, b"old"), KEEP),
        ("touch-expired", (b"old", 0), lambda k, c: b"touch %s -1\r\n" % k, b"TOUCHED", None, STOP),
        ("set-expired", (b"old", 0), lambda k, c: b"set %s 0 -1 3\r\nnew\r\n" % k, b"STORED", None, STOP),
    ]


MUTATIONS = _mutations()


@pytest.mark.parametrize("case", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutation_visible_at_once(xsrv, case):
    name, (old, oflags), command, ack, after, effect = case
    key = mkkey(16, "mu")
    tcp_set(xsrv, key, old, oflags)
    with xsrv.udp_client() as u:
        admit(xsrv, u, [key])
    cas = tcp_gets(xsrv, key)[2]
    before = xsrv.xstats()
    with xsrv.conn() as c:
        c.send(command(key, cas))
        if ack is None:
            c.read_values()
        elif ack.endswith(b" "):
            assert c.readline().startswith(ack), name
        else:
            assert c.readline() == ack, name
    mirror = delta(before, xsrv.xstats())
    # The very next UDP get.
    payload, d = udp_value(xsrv, key)
    truth = tcp_gets(xsrv, key)
    if after is None:
        assert payload == END, f"{name}: UDP get after the acknowledged write: {payload[:200]!r}"
        assert truth is None
    else:
        flags, data = after
        assert truth[:2] == (flags, data), (name, truth)
        assert payload == value_text(key, flags, data) + END, \
            f"{name}: UDP get returned {payload[:200]!r}, want {(flags, data[:50])}"
        gets_payload, _ = udp_value(xsrv, key, verb=b"gets", rid=4322)
        assert gets_payload == value_text(key, flags, data, truth[2]) + END, (name, gets_payload[:200])
    if effect == KEEP:
        require_xdp(d, f"{name}: the entry was not kept in the map up to date (next get; mirror "
                    f"{xdp_counts(mirror)})", 0)
    else:
        assert not by_xdp(d), f"{name}: answered by XDP: {xdp_counts(d)}"
    if effect == REMOVE:
        assert mirror["xdp_removals"] == 1 and mirror["xdp_entries"] == -1, \
            f"{name}: the entry was not removed: {xdp_counts(mirror)}"


def test_udp_write_visible_at_once(xsrv):
    """A write over UDP is acknowledged after the map changed too."""
    key = mkkey(16, "uw")
    tcp_set(xsrv, key, b"old")
    with xsrv.udp_client() as u:
        admit(xsrv, u, [key])
        g = u.ask(b"set " + key + b" 0 0 3\r\nnew\r\n", 11)
        assert g == [udp_frame(11, b"STORED\r\n")]
        g, d = ask_counted(xsrv, u, b"get " + key + b"\r\n", 12)
    assert g == [udp_frame(12, value_text(key, 0, b"new") + END)], show(g)
    assert by_xdp(d)


def _mg(srv, u, payload, rid):
    """(payload of the reply to one mg datagram, counter deltas)."""
    g, d = ask_counted(srv, u, payload, rid)
    assert len(g) == 1 and udp_header(g[0]) == (rid, 0, 1, 0), show(g)
    return g[0][8:], d


def _mg_pair(srv, u, key, flags, rid):
    """The replies to `mg key flags` as sent (XDP's to answer once the key is
    in the map) and with two spaces after mg (always the daemon's: the
    program passes that form up, the daemon answers it the same way), asked
    in the same second of the daemon's clock as far as t is concerned:
    retried once if they differ only by a tick."""
    for attempt in range(2):
        mine, d = _mg(srv, u, b"mg %s %s\r\n" % (key, flags), rid)
        theirs, d2 = _mg(srv, u, b"mg  %s %s\r\n" % (key, flags), rid + 1)
        assert not by_xdp(d2) and d2.get("xdp_pass_malformed") == 1, xdp_counts(d2)
        if mine == theirs or b"t" not in flags.split():
            break
    return mine, theirs, d


def test_mg_admitted_then_served(xsrv):
    """mg over UDP: the daemon's first answers admit the key, XDP then
    answers with the daemon's bytes (every flag the fast path serves), and
    after ms, set or md over TCP the next mg says so (no stale value)."""
    key = mkkey(20, "mg")
    tcp_set(xsrv, key, b"first value", flags=12, exptime=1000)
    flags = b"v f k s t c Oop7 q"
    with xsrv.udp_client() as u:
        replies, deltas = [], []
        for i in range(XDP_ADMIT_READS):
            r, d = _mg(xsrv, u, b"mg %s v f\r\n" % key, 100 + i)
            assert not by_xdp(d), f"mg {i + 1} answered by XDP before admission: {xdp_counts(d)}"
            replies.append(r)
        assert replies[0] == replies[1] == b"VA 11 f12\r\nfirst value\r\n", replies
        r, d = _mg(xsrv, u, b"mg %s v f\r\n" % key, 102)
        assert by_xdp(d) and d["xdp_hits"] == 1 and d["xdp_mg_replies"] == 1, \
            f"the third mg was not answered by XDP: {xdp_counts(d)}"
        assert r == replies[0], (r, replies[0])

        mine, theirs, d = _mg_pair(xsrv, u, key, flags, 110)
        assert by_xdp(d), xdp_counts(d)
        assert mine == theirs, f"XDP {mine!r}\ndaemon {theirs!r}"
        cas = tcp_gets(xsrv, key)[2]
        assert re.fullmatch(rb"VA 11 f12 k%s s11 t(99\d|1000) c%d Oop7\r\nfirst value\r\n" % (key, cas),
                            mine), mine
        for shape in (b"k", b"s c f", b"t", b"O q"):
            mine, theirs, d = _mg_pair(xsrv, u, key, shape, 120)
            assert by_xdp(d) and mine == theirs, (shape, mine, theirs, xdp_counts(d))

        # Writes over TCP are in the map before they are acknowledged.
        with xsrv.conn() as c:
            c.send(b"ms %s 6 F5 T0\r\nsecond\r\n" % key)
            assert c.readline() == b"HD"
        mine, theirs, d = _mg_pair(xsrv, u, key, flags, 130)
        assert by_xdp(d) and mine == theirs, (mine, theirs, xdp_counts(d))
        assert mine.startswith(b"VA 6 f5 k%s s6 t-1 c" % key) and mine.endswith(b"\r\nsecond\r\n"), mine
        tcp_set(xsrv, key, b"third", flags=7)
        mine, theirs, d = _mg_pair(xsrv, u, key, b"v f t", 140)
        assert by_xdp(d) and mine == theirs == b"VA 5 f7 t-1\r\nthird\r\n", (mine, theirs)
        with xsrv.conn() as c:
            c.send(b"md %s\r\n" % key)
            assert c.readline() == b"HD"
        r, d = _mg(xsrv, u, b"mg %s v f\r\n" % key, 150)
        assert r == b"EN\r\n" and not by_xdp(d), (r, xdp_counts(d))
        g, d = ask_counted(xsrv, u, b"mg %s v q\r\n" % key, 151)
        assert g == [] and not by_xdp(d), show(g)


def test_flush_all(ns_factory, mode):
    srv = ns_factory(mode, *SHARED_ARGS)
    keys = [mkkey(10, "fl") for _ in range(3)]
    with srv.udp_client() as u:
        for k in keys:
            tcp_set(srv, k, b"before-flush")
            admit(srv, u, [k])
        assert srv.xstats()["xdp_entries"] == 3
        with srv.conn() as c:
            assert c.cmd(b"flush_all") == b"OK"
        for k in keys:
            g, d = ask_counted(srv, u, b"get " + k + b"\r\n", 5)
            assert g == [udp_frame(5, END)], show(g)
            assert not by_xdp(d)
    assert srv.xstats()["xdp_entries"] == 0


def test_flush_all_delayed(ns_factory, mode):
    """flush_all 3: served until the flush time, then gone everywhere; keys
    written between the command and the flush time die with it."""
    srv = ns_factory(mode, *SHARED_ARGS)
    a, b = mkkey(10, "fd"), mkkey(10, "fd")
    tcp_set(srv, a, b"A")
    with srv.udp_client() as u:
        admit(srv, u, [a])
        with srv.conn() as c:
            assert c.cmd(b"flush_all 3") == b"OK"
        t0 = time.monotonic()
        g, d = ask_counted(srv, u, b"get " + a + b"\r\n", 1)
        assert g == [udp_frame(1, value_text(a, 0, b"A") + END)], \
            f"gone at once after flush_all 3: {show(g)}"
        tcp_set(srv, b, b"B")
        admit(srv, u, [b])
        assert time.monotonic() - t0 < 0.8, "too slow to test the delay"
        dead = set()
        while time.monotonic() - t0 < 5.0:
            for k in (a, b):
                g, d = ask_counted(srv, u, b"get " + k + b"\r\n", 2)
                if k in dead:
                    assert g == [udp_frame(2, END)], f"{k!r} served after the daemon flushed it: {show(g)}"
                with srv.conn() as c:
                    if c.get(k) is None:
                        dead.add(k)
            if dead == {a, b}:
                break
            time.sleep(0.1)
        assert dead == {a, b}, "the delayed flush did not happen within 5 s"
        for k in (a, b):
            g, d = ask_counted(srv, u, b"get " + k + b"\r\n", 3)
            assert g == [udp_frame(3, END)] and not by_xdp(d), show(g)


def test_expiry(ns_factory, mode):
    """exptime 3, touch to 3 s, gat to 3 s: served by XDP while alive, never
    once the daemon calls them expired. It is the program's own expiry check
    that is tested, so nothing else may remove the entries first: the keys
    are never read over TCP (a TCP get of an expired item removes it from
    the map), the background reclaim is off, and the last XDP hits come over
    a second before the earliest expiry (the daemon's once-a-second harvest
    of hits marks the hit items used, which drops an expired one). A probe
    key stored last, with the same exptime, expires last: once the daemon
    says it is gone, so are the others."""
    srv = ns_factory(mode, "-o", "no_lru_crawler")
    k1, k2, k3, probe = (mkkey(14, "ex") for _ in range(4))
    tcp_set(srv, k1, b"one", exptime=3)
    tcp_set(srv, k2, b"two")
    tcp_set(srv, k3, b"three")
    with srv.udp_client() as u:
        for k in (k1, k2, k3):
            admit(srv, u, [k])
        with srv.conn() as c:
            c.send(b"touch %s 3\r\ngat 3 %s\r\nset %s 0 3 1\r\np\r\n" % (k2, k3, probe))
            assert c.readline() == b"TOUCHED"
            assert k3 in c.read_values()
            assert c.readline() == b"STORED"
        t0 = time.monotonic()
        alive = {k1: b"one", k2: b"two", k3: b"three"}
        hits_alive = 0
        while time.monotonic() - t0 < 0.4:      # they live 2 s at least
            for k, v in alive.items():
                g, d = ask_counted(srv, u, b"get " + k + b"\r\n", 9)
                assert g == [udp_frame(9, value_text(k, 0, v) + END)], show(g)
                hits_alive += d["xdp_replies"]
            time.sleep(0.02)
        probe_gone = False
        while time.monotonic() - t0 < 7.0 and not probe_gone:
            with srv.conn() as c:
                probe_gone = c.get(probe) is None
            time.sleep(0.05)
        assert probe_gone, "the probe key did not expire within 7 s"
        took = time.monotonic() - t0
        for k in (k1, k2, k3):
            g, d = ask_counted(srv, u, b"get " + k + b"\r\n", 10)
            assert g == [udp_frame(10, END)] and not by_xdp(d), \
                f"{k!r} served {took:.2f} s after set/touch/gat with exptime 3, when the daemon has " \
                f"expired a key stored after it: {show(g)}, {xdp_counts(d)}"
            assert d["xdp_pass_expired"] == 1, xdp_counts(d)
    assert hits_alive >= 3, f"XDP served the keys only {hits_alive} times while they were alive"


# -- eviction: from the map, and from the store --------------------------------

def test_map_eviction_keeps_answers_right(ns_factory, mode):
    srv = ns_factory(mode, "--xdp-entries", "8")
    capacity = srv.xstats()["xdp_capacity"]
    assert capacity == capacity_for(8) == 2 * BUCKET_SLOTS, capacity
    keys = [mkkey(12, "me") for _ in range(24)]
    for i, k in enumerate(keys):
        tcp_set(srv, k, b"value-%d" % i, i)
    with srv.udp_client() as u:
        for rounds, group in ((3, keys[:12]), (8, keys[12:])):   # the second group hotter
            for _ in range(rounds):
                for i, k in enumerate(group):
                    g = u.ask(b"get " + k + b"\r\n", 5)
                    j = keys.index(k)
                    assert g == [udp_frame(5, value_text(k, j, b"value-%d" % j) + END)], show(g)
        st = srv.xstats()
        assert st["xdp_entries"] <= capacity and st["xdp_evictions"] >= 1 and \
            st["xdp_replies"] >= 1, \
            {k: v for k, v in st.items() if k in MIRROR_STATS or k == "xdp_replies"}
        # How many of the last pass XDP answers depends on when the mirror
        # last harvested hits (once a second) relative to the reads: each
        # miss may admit its key over a colder one. Never more than the map
        # holds, and every answer right, whoever gives it.
        replies = 0
        for j, k in enumerate(keys):
            g, d = ask_counted(srv, u, b"get " + k + b"\r\n", 6)
            assert g == [udp_frame(6, value_text(k, j, b"value-%d" % j) + END)], show(g)
            replies += d["xdp_replies"]
    assert replies <= capacity


def test_store_eviction_removes_entry(ns_factory, mode):
    """An admitted key evicted from the store (memory full) must not be
    served from the map. Nothing reads the key while memory fills: every read
    references it, and CLOCK would rightly keep a key read that often."""
    srv = ns_factory(mode, "-m", "2", "-I", "1m")
    key = mkkey(12, "se")
    tcp_set(srv, key, b"keep-me?")
    with srv.udp_client() as u:
        admit(srv, u, [key])
    filler = mkvalue(10000)
    with srv.conn() as c:
        for i in range(1800):         # 18 MB through a 2 MB store
            c.send(b"set fill-%d 0 0 %d noreply\r\n%s\r\n" % (i, len(filler), filler))
        assert c.cmd(b"version").startswith(b"VERSION")
        assert c.get(key) is None, "the key was never evicted from a 2 MB store after 18 MB of writes"
    payload, d = udp_value(srv, key)
    assert payload == END and not by_xdp(d), \
        f"evicted from the store, still served over UDP: {payload!r}, {xdp_counts(d)}"
    assert srv.xstats()["xdp_removals"] >= 1


# -- stats --------------------------------------------------------------------

def _wait_stat(srv, before, name, want, timeout=4.0):
    """Polls until stat `name` has grown by `want` since `before` (the daemon
    adds XDP's hits once a second); returns the growth."""
    deadline = time.monotonic() + timeout
    while True:
        got = srv.xstats()[name] - before[name]
        if got >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_xdp_hits_in_cmd_get_and_get_hits(xsrv):
    key = mkkey(12, "st")
    tcp_set(xsrv, key, b"counted")
    start = xsrv.xstats()
    with xsrv.udp_client() as u:
        admit(xsrv, u, [key])         # two daemon hits, one XDP hit
        assert _wait_stat(xsrv, start, "get_hits", 3) == 3
        before = xsrv.xstats()
        for i in range(5):
            g, d = ask_counted(xsrv, u, b"get " + key + b"\r\n", i)
            require_xdp(d, "get", 0)
    assert _wait_stat(xsrv, before, "get_hits", 5) == 5
    time.sleep(1.2)             # and never counted twice
    d = delta(before, xsrv.xstats())
    assert d["cmd_get"] == 5 and d["get_hits"] == 5 and d["get_misses"] == 0, \
        {k: d[k] for k in ("cmd_get", "get_hits", "get_misses")}


# -- who may use UDP ------------------------------------------------------------

def _no_udp_reply(srv, v6=False, payload=b"version\r\n", source=None):
    with srv.udp_client(v6, source=source) as u:
        return u.ask(payload, 3, timeout=0.8) == []


def test_disallowed_source_dropped(ns_factory, netns, mode):
    srv = ns_factory(mode, "--udp-allow", f"{netns.other4}/32")
    key = mkkey(12, "deny")
    with srv.conn() as c:
        assert c.set(key, b"tcp-ok") == b"STORED"
        assert c.get(key) == b"tcp-ok"
    for v6 in (False, True):
        for payload in (b"get " + key + b"\r\n", b"version\r\n"):
            before = srv.xstats()
            assert _no_udp_reply(srv, v6, payload), f"reply to {payload!r} from a disallowed source"
            d = delta(before, srv.xstats())
            assert d["xdp_drops_not_allowed"] == 1 and d["xdp_replies"] == 0, xdp_counts(d)
    with srv.conn(v6=True) as c:
        assert c.get(key) == b"tcp-ok"


def test_allow_list_ipv4_only(ns_factory, netns, mode):
    srv = ns_factory(mode, "--udp-allow", f"{netns.cli4}/32")
    tcp_set(srv, b"al", b"x")
    assert udp_value(srv, b"al")[0] == value_text(b"al", 0, b"x") + END
    before = srv.xstats()
    assert _no_udp_reply(srv, v6=True)
    assert delta(before, srv.xstats())["xdp_drops_not_allowed"] == 1


def test_disallowed_source_dropped_by_daemon_too(ns_factory, netns):
    """With --xdp off the daemon's own socket drops what the list does not allow."""
    srv = ns_factory("off", "--udp-allow", f"{netns.other4}/32")
    assert _no_udp_reply(srv)
    assert _no_udp_reply(srv, v6=True)
    with srv.conn() as c:
        assert c.cmd(b"version").startswith(b"VERSION")


def test_default_allow_list_is_loopback_and_iface_subnets(ns_factory, netns, mode):
    """By default the interface's subnets may use UDP, a source outside them
    may not (XDP drops it); TCP from there works. A daemon with --xdp off
    (no interface subnets) takes loopback only."""
    srv = ns_factory(mode)
    key = mkkey(12, "dflt")
    tcp_set(srv, key, b"v")
    assert udp_value(srv, key)[0] == value_text(key, 0, b"v") + END
    assert udp_value(srv, key, v6=True)[0] == value_text(key, 0, b"v") + END
    for v6, source in ((False, netns.out4), (True, netns.out6)):
        before = srv.xstats()
        assert _no_udp_reply(srv, v6, b"get " + key + b"\r\n", source=source), \
            f"UDP reply to {source}, outside the default allow list"
        d = delta(before, srv.xstats())
        assert d["xdp_drops_not_allowed"] == 1, xdp_counts(d)
        with srv.conn(v6, source=source) as c:
            assert c.get(key) == b"v"
    off = ns_factory("off")
    assert _no_udp_reply(off)
    assert _no_udp_reply(off, v6=True)
    with off.conn() as c:
        assert c.cmd(b"version").startswith(b"VERSION")


def test_outside_source_dropped_by_daemon_socket(ns_factory, netns):
    """--xdp off, --udp-allow the interface's subnets: a source outside them
    gets nothing from the daemon's socket either."""
    srv = ns_factory("off", "--udp-allow", f"{netns.net4},{netns.net6}")
    assert not _no_udp_reply(srv)
    assert _no_udp_reply(srv, source=netns.out4)
    assert _no_udp_reply(srv, v6=True, source=netns.out6)


# -- the daemon goes away ----------------------------------------------------------

def _prog_exists(prog_id):
    return sh("bpftool", "prog", "show", "id", prog_id, check=False).returncode == 0


def _wait_prog_gone(prog_id, timeout=5.0):
    deadline = time.monotonic() + timeout
    while _prog_exists(prog_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_exit_detaches(ns_factory, netns, mode, how):
    srv = ns_factory(mode)
    key = mkkey(12, "exit")
    tcp_set(srv, key, b"v")
    with srv.udp_client() as u:
        admit(srv, u, [key])
    info = netns.server_xdp()
    assert info is not None and info["mode"] == mode, info
    assert "xdp" in netns.link_show()
    assert netns.srv_if in netns.bpftool_net()
    proc = srv.proc
    if how == "SIGTERM":
        problems = srv.stop()
        assert not problems, problems
    else:
        proc.send_signal(getattr(signal, how))
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"no exit within 20 s of {how}")
        if how == "SIGINT":
            assert rc == 0, f"exit status {rc} on SIGINT: {srv.stderr_tail()}"
        srv.proc = None
    assert netns.wait_server_xdp_gone(), \
        f"XDP program still on {netns.srv_if} after {how}:\n{netns.link_show()}"
    assert netns.srv_if not in netns.bpftool_net()
    assert _wait_prog_gone(info["id"]), f"program id {info['id']} still loaded after {how}"
    with srv.udp_client() as u:
        assert u.ask(b"get " + key + b"\r\n", 8, timeout=1.0) == [], "reply after the daemon died"


# -- consistency under load -----------------------------------------------------------

STRESS_SECONDS = 5.0
STRESS_KEYS = 10


def _stress_writer(host, port, keys, ack, deadline, out):
    n = 0
    err = ""
    try:
        with HConn(host, port) as c:
            version = 0
            while time.monotonic() < deadline:
                version += 1
                for i in keys:
                    data = b"%d:" % version + b"w" * (version % 61)
                    c.send(b"set k%d 0 0 %d\r\n%s\r\n" % (i, len(data), data))
                    line = c.readline()
                    if line != b"STORED":
                        raise AssertionError(f"set k{i}: {line!r}")
                    ack[i] = version         # published right after STORED
                    n += 1
    except Exception as e:       # reported by the test
        err = f"writer: {type(e).__name__}: {e}"
    out.put(("w", n, err, []))


def _stress_reader(host, port, seed, ack, deadline, out):
    rng = random.Random(seed)
    reads = lost = nstale = 0
    stale, bad = [], []
    err = ""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((host, port))
        sock.settimeout(1.0)
        rid = seed * 7919 & 0xffff
        while time.monotonic() < deadline:
            i = rng.randrange(STRESS_KEYS)
            floor = ack[i]                   # read before the request is sent
            rid = (rid + 1) & 0xffff
            sock.send(udp_frame(rid, b"get k%d\r\n" % i))
            try:
                while True:
                    d = sock.recv(2048)
                    if udp_header(d)[0] == rid:
                        break
            except socket.timeout:
                lost += 1
                continue
            reads += 1
            m = re.fullmatch(rb"VALUE k%d 0 (\d+)\r\n(\d+):(w*)\r\nEND\r\n" % i, d[8:])
            if udp_header(d)[1:] != (0, 1, 0) or not m or int(m.group(1)) != len(m.group(2)) + 1 + len(m.group(3)) \
                    or len(m.group(3)) != int(m.group(2)) % 61:
                if len(bad) < 5:
                    bad.append(d[:120])
                continue
            v = int(m.group(2))
            if v < floor:
                nstale += 1
                if len(stale) < 20:
                    stale.append((i, floor, v))
        sock.close()
    except Exception as e:       # reported by the test
        err = f"reader: {type(e).__name__}: {e}"
    out.put(("r", (reads, lost, nstale), err, (stale, bad)))


def test_consistency_stress(ns_factory, mode, capsys):
    """Writers over TCP, readers over UDP (mostly served by XDP): a read
    never returns a version older than one already acknowledged."""
    srv = ns_factory(mode)
    for i in range(STRESS_KEYS):
        tcp_set(srv, b"k%d" % i, b"0:")
    with srv.udp_client() as u:
        for i in range(STRESS_KEYS):
            admit(srv, u, [b"k%d" % i])
    ctx = multiprocessing.get_context("fork")
    ack = ctx.Array("q", STRESS_KEYS, lock=False)
    out = ctx.Queue()
    before = srv.xstats()
    deadline = time.monotonic() + STRESS_SECONDS
    writers = [ctx.Process(target=_stress_writer,
                           args=(srv.host, srv.port, range(w, STRESS_KEYS, 2), ack, deadline, out))
               for w in range(2)]
    readers = [ctx.Process(target=_stress_reader, args=(srv.host, srv.port, r + 1, ack, deadline, out))
               for r in range(2)]
    procs = writers + readers
    for p in procs:
        p.start()
    results = []
    try:
        for _ in procs:
            results.append(out.get(timeout=STRESS_SECONDS + 30))
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    d = delta(before, srv.xstats())
    errors = [r[2] for r in results if r[2]]
    writes = sum(r[1] for r in results if r[0] == "w")
    reads = sum(r[1][0] for r in results if r[0] == "r")
    lost = sum(r[1][1] for r in results if r[0] == "r")
    nstale = sum(r[1][2] for r in results if r[0] == "r")
    stale = [s for r in results if r[0] == "r" for s in r[3][0]]
    bad = [b for r in results if r[0] == "r" for b in r[3][1]]
    report = (f"[{mode}] {STRESS_SECONDS:.0f} s: {writes} acknowledged writes, {reads} UDP reads "
              f"({lost} unanswered), {d['xdp_hits']} served by XDP "
              f"({100 * d['xdp_hits'] / max(reads, 1):.0f}%), stale reads {nstale}, "
              f"malformed {len(bad)}, pass_race {d.get('xdp_pass_race', 0)}, "
              f"mirror updates {d.get('xdp_updates', 0)}")
    with capsys.disabled():
        print("\n  consistency stress " + report)
    assert not errors, errors
    assert nstale == 0, f"{report}; stale (key, acknowledged, read): {stale}"
    assert not bad, f"{report}; malformed replies: {bad}"
    assert writes >= 1000 and reads >= 1000, report
    assert lost <= max(5, reads // 1000), report
    assert d["xdp_hits"] >= reads // 2, f"most reads should be XDP's: {report}"
