"""The differential corpus: request streams built by code, each sent to a fresh
memcached and a fresh xdpcached whose replies must match (see diffrun.py).

build() returns the list of streams; ids are unique and readable, e.g.
"incr/wrap_2_64" or "udp/multiget_hits_misses". Everything is deterministic:
no randomness without a fixed seed, no short relative expiry times (memcached's
clock ticks once a second, so `set k 0 1` may or may not have expired by the
next command), no `flush_all N` with small N followed by new stores.

Rules the streams respect (checked by check_stream()):
  * A get/gets/gat/gats/bget with a key over 250 bytes starts its own write,
    and the write before it waits for its replies: memcached discards all
    unsent replies of the connection when such a get fails, which depends on
    how its reads were split (a deliberate difference, docs/differences.md).
  * UDP datagrams hold whole requests only (no value split over datagrams).
"""

import random
import re

from diffrun import Send, Stream
from helpers import udp_frame

CRLF = b"\r\n"
K250 = b"k" * 250
K251 = b"k" * 251
MAX_VALUE = 1048516          # largest value for a 1-byte key, flags 0, CAS on, -I 1m
ALL_BYTES = bytes(range(256))


def L(*parts):
    """One command line: parts joined by single spaces, CRLF appended."""
    return b" ".join(p if isinstance(p, bytes) else str(p).encode() for p in parts) + CRLF


def st(verb, key, value, flags=0, exptime=0, extra=b""):
    """A storage command with its data block."""
    line = b"%s %s %d %d %d" % (verb, key, flags, exptime, len(value))
    if extra:
        line += b" " + extra
    return line + CRLF + value + CRLF


def setv(key, value, flags=0, exptime=0):
    return st(b"set", key, value, flags, exptime)


class Corpus:
    """Streams of one protocol ("text", which includes meta, or "binary"),
    their ids starting with prefix."""

    def __init__(self, protocol="text", prefix=""):
        self.streams = []
        self.ids = set()
        self.protocol = protocol
        self.prefix = prefix

    def add(self, sid, *steps, transport="tcp", args=(), note=""):
        """steps: bytes (one write, then wait) or Send objects."""
        sid = self.prefix + sid
        if sid in self.ids:
            raise ValueError(f"duplicate stream id {sid}")
        self.ids.add(sid)
        out = [s if isinstance(s, Send) else Send(s) for s in steps]
        stream = Stream(sid, out, transport, tuple(args), note, protocol=self.protocol)
        if self.protocol == "text":
            check_stream(stream)
        self.streams.append(stream)

    def tcp_variants(self, sid, data, chunks=(1, 3, 16), delay=0.0005, args=(), note=""):
        """The same bytes written at once and split into small writes."""
        self.add(sid + "/whole", data, args=args, note=note)
        for c in chunks:
            name = "bytewise" if c == 1 else f"chunks{c}"
            self.add(f"{sid}/{name}", Send(data, chunk=c, delay=delay), args=args, note=note)

    def udp(self, sid, *datagrams, args=(), note=""):
        self.add("udp/" + sid, *datagrams, transport="udp", args=args, note=note)


_GET_LINE = re.compile(rb"(?:^|\n)[ ]*(?:get|gets|bget|gat|gats)( [^\r\n]*)", re.S)


def check_stream(stream):
    if stream.transport == "udp":
        for s in stream.steps:
            if len(s.data) >= 8 and s.data[4:6] != b"\x00\x01":
                continue      # dropped by the server anyway
            if _long_get_key(s.data) and not _long_get_first(s.data[8:]):
                raise ValueError(f"{stream.id}: long get key must come first in its datagram")
        return
    for i, s in enumerate(stream.steps):
        if not _long_get_key(s.data):
            continue
        if not _long_get_first(s.data):
            raise ValueError(f"{stream.id}: a get with a key over 250 bytes must start its write")
        if i > 0 and not stream.steps[i - 1].wait:
            raise ValueError(f"{stream.id}: the write before a long-key get must wait")


def _long_get_key(data):
    for m in _GET_LINE.finditer(data):
        if any(len(t) > 250 for t in m.group(1).split(b" ")):
            return True
    return False


def _long_get_first(data):
    """The first line is the only get line with a long key."""
    first, _, rest = data.partition(b"\n")
    return not _long_get_key(rest)


# ---------------------------------------------------------------------------

def basic(c):
    c.add("basic/set_get", setv(b"a", b"hello") + L("get", "a") + L("gets", "a") + L("get", "a", "b") + L("get", "b"))
    c.add("basic/set_overwrite", setv(b"a", b"one") + setv(b"a", b"second", 3) + L("get", "a"))
    c.add("basic/empty_value", setv(b"a", b"") + L("get", "a") + L("gets", "a"))
    c.add("basic/binary_value", setv(b"bin", ALL_BYTES * 4 + b"\r\n\r\nEND\r\n") + L("get", "bin"))
    c.add("basic/value_looks_like_reply",
          setv(b"v", b"VALUE v 0 1 99\r\nx\r\nEND") + L("gets", "v") + L("gets", "v"))
    for flags in (b"0", b"1", b"65535", b"65536", b"2147483648", b"4294967295", b"4294967296",
                  b"18446744073709551615", b"18446744073709551616", b"-1", b"+5", b"5x", b"0x10",
                  b"00012", b" 7"):
        name = flags.decode().strip().replace("+", "plus").replace("-", "minus") or "space"
        c.add(f"flags/{name}", b"set f " + flags + b" 0 1\r\nx\r\n" + L("get", "f"))
    c.add("basic/add", st(b"add", b"a", b"1") + st(b"add", b"a", b"2") + L("get", "a"))
    c.add("basic/replace", st(b"replace", b"a", b"1") + setv(b"a", b"x", 7) +
          st(b"replace", b"a", b"2", 9) + L("get", "a"))
    c.add("basic/append", st(b"append", b"a", b"1") + setv(b"a", b"mid", 5) +
          st(b"append", b"a", b"end", 9) + st(b"prepend", b"a", b"start", 11) + L("gets", "a"))
    c.add("basic/prepend_missing", st(b"prepend", b"zz", b"1") + L("get", "zz"))
    c.add("basic/append_empty", setv(b"a", b"") + st(b"append", b"a", b"") + st(b"prepend", b"a", b"") +
          L("get", "a"))
    c.add("basic/delete", setv(b"a", b"1") + L("delete", "a") + L("delete", "a") + L("get", "a"))
    c.add("basic/delete_forms", setv(b"a", b"1") + setv(b"b", b"1") + L("delete", "a", "0") +
          L("delete", "b", "1") + L("delete", "b", "0", "noreply") + L("delete", "b", "noreply") +
          L("delete", "b", "x", "noreply") + L("delete", "b", "0", "0") + L("delete", "b", "0", "noreply", "x") +
          L("delete") + L("get", "a", "b"))
    c.add("basic/touch", setv(b"a", b"1") + L("touch", "a", "100") + L("touch", "b", "100") +
          L("touch", "a", "x") + L("touch", "a") + L("touch", "a", "1", "2", "3") + L("get", "a"))
    c.add("basic/touch_expire", setv(b"a", b"1") + L("touch", "a", "-1") + L("get", "a") + L("touch", "a", "0"))
    c.add("basic/gat", setv(b"a", b"1", 4) + setv(b"c", b"3") + L("gat", "100", "a", "b", "c") +
          L("gats", "100", "a", "b") + L("gat", "0", "a") + L("gat", "x", "a") + L("gat", "-1", "a") +
          L("get", "a") + L("gat", "100"))
    c.add("basic/gat_no_args", L("gat") + L("gats") + L("gat", "0") + L("gats", "5"))
    c.add("basic/get_no_key", L("get") + L("gets") + L("bget") + b"get \r\n" + b"gets  \r\n")
    c.add("basic/bget", setv(b"a", b"1") + L("bget", "a", "b"))
    c.add("basic/multiget_dup", setv(b"a", b"1") + L("get", "a", "a", "b", "a") + L("gets", "a", "a"))
    c.add("basic/version", L("version") + L("version", "x") + L("VERSION"))
    c.add("basic/quit", L("quit"))
    c.add("basic/quit_pipelined", setv(b"a", b"1") + L("quit") + L("get", "a"))
    c.add("basic/quit_args", L("quit", "now") + L("get", "a"))
    c.add("basic/quit_after_reply", setv(b"a", b"1"), L("get", "a") + L("quit"))
    c.add("basic/shutdown_disabled", L("shutdown") + L("shutdown", "graceful") + L("get", "a"))
    for args in (("1",), ("0",), ("1", "noreply"), ("x",), ("5",), ("4294967295",), ("4294967296",),
                 ("-1",), ("1", "2"), ("1", "2", "3"), (), ("noreply",)):
        name = "_".join(args) or "none"
        c.add(f"verbosity/{name}", L("verbosity", *args) + L("verbosity", "0"))
    # Each ends by restoring both servers' -m 64, as later streams share them.
    for args in (("8",), ("7",), ("0",), ("16", "noreply"), ("7", "noreply"), ("x", "noreply"),
                 ("x",), ("-1",), ("1000000000",), ("1000000001",), ("4294967295",), ("4294967296",),
                 ("8", "9", "10"), (), ("noreply",), ("08",), ("8x",)):
        name = "_".join(args) or "none"
        c.add(f"cache_memlimit/{name}", L("cache_memlimit", *args) + L("cache_memlimit", "64"))


def lru_crawler(c):
    """lru_crawler crawl/tocrawl/sleep/enable/disable (metadump: test_keydump.py).
    One crawl per stream: a second one answers BUSY until the crawl has run,
    which takes memcached's thread and our store's tick different times.
    memcached runs without its LRU maintainer here: the maintainer starts
    crawls of its own, during which a client's crawl is BUSY."""
    def add(sid, *steps, args=()):
        c.add(f"lru_crawler/{sid}", *steps, args=("-o", "no_lru_maintainer") + args)

    for arg in ("all", "1", "2", "63", "0", "64", "1,2", "1,x", "hash", ",,", "1,", "-1", "all x", ""):
        add("crawl_" + (arg.replace(",", "c").replace(" ", "_") or "none"), L("lru_crawler", "crawl", *arg.split()))
    for verb, args in (("tocrawl", ("0", "5", "-1", "x", "4294967296", "")),
                       ("sleep", ("0", "1000000", "1000001", "-5", "x", "4294967296", ""))):
        for arg in args:
            add(f"{verb}_{arg or 'none'}", L("lru_crawler", verb, *arg.split()))
    for rest in (("enable",), ("enable", "x"), ("bogus",), ()):
        add("_".join(rest) or "none", L("lru_crawler", *rest))
    add("disable_then_crawl", L("lru_crawler", "disable"), L("lru_crawler", "crawl", "all"),
        L("lru_crawler", "metadump", "all") + L("lru_crawler", "disable"))
    off = ("-o", "no_lru_crawler")
    add("off_crawl", L("lru_crawler", "crawl", "all") + L("lru_crawler", "tocrawl", "5"), args=off)
    add("off_enable_then_crawl", L("lru_crawler", "enable"), L("lru_crawler", "crawl", "1"), args=off)
    add("off_enable_then_metadump", setv(b"a", b"1"), L("lru_crawler", "enable"),
        L("lru_crawler", "metadump", "2"), args=off)


def tuning(c):
    """slabs automove|reassign, lru tune|mode|temp_ttl: valid settings answer OK
    (and change nothing here); every error, noreply and arity case as memcached.
    slabs reassign only with classes that agree here, where class 1 is the only
    one (0, 1 and ids no memcached class has; docs/differences.md)."""
    def lines(*cmds):
        return b"".join(L(*cmd.split(" ")) for cmd in cmds)

    c.add("slabs/automove", lines(
        "slabs automove 0", "slabs automove 1", "slabs automove 2", "slabs automove 3",
        "slabs automove", "slabs automove x", "slabs automove invalid", "slabs automove -1",
        "slabs automove 4294967296", "slabs automove 4294967297", "slabs automove 01",
        "slabs automove 1x", "slabs automove 1 2", "slabs automove 1 2 3 4",
        "slabs automove2 1", "SLABS automove 1", "slabs", "slabs foo", "slabs foo bar"))
    c.add("slabs/automove_ratio", lines(
        "slabs automove ratio 0.5", "slabs automove ratio", "slabs automove ratio x",
        "slabs automove ratio -1", "slabs automove ratio nan", "slabs automove ratio 1e999",
        "slabs automove ratio 1e-999", "slabs automove ratio 0x1p3", "slabs automove ratio 1.5x",
        "slabs automove ratio 1 2 3"))
    c.add("slabs/automove_noreply", lines(
        "slabs automove 1 noreply", "slabs automove 3 noreply", "slabs automove x noreply",
        "slabs automove noreply", "slabs automove ratio 0.5 noreply", "slabs automove ratio noreply",
        "slabs automove ratio x noreply", "slabs noreply", "version"))
    c.add("slabs/reassign", lines(
        "slabs reassign 1 1", "slabs reassign 0 0", "slabs reassign -1 -1", "slabs reassign 1 0",
        "slabs reassign 0 1", "slabs reassign -1 1", "slabs reassign -2 1", "slabs reassign 1 -1",
        "slabs reassign 1 64", "slabs reassign 1 200", "slabs reassign 200 1",
        "slabs reassign 4294967297 0", "slabs reassign 1 4294967297", "slabs reassign x 1",
        "slabs reassign 1 x", "slabs reassign 1x 1", "slabs reassign", "slabs reassign 1",
        "slabs reassign 1 1 noreply", "slabs reassign 1 0 noreply", "slabs reassign 1 2 3",
        "slabs Reassign 1 1"))
    c.add("lru/tune", lines(
        "lru tune 10 20 0.1 2", "lru tune 10 20 0.1", "lru tune", "lru tune 10 20 0.1 2 extra",
        "lru tune 40 40 0.1 2", "lru tune 41 40 0.1 2", "lru tune 90 0 0.1 0",
        "lru tune 4294967295 2 0.1 2", "lru tune 4294967296 80 0.1 2", "lru tune -1 20 0.1 2",
        "lru tune 10 20 0 2", "lru tune 10 20 0.1 0", "lru tune 10 20 -1 2", "lru tune 10 20 nan 2",
        "lru tune 10 20 inf 2", "lru tune 10 20 1e999 2", "lru tune 10 20 0x10 2",
        "lru tune 10 20 1,5 2", "lru tune 10 x 0.1 2", "lru tune 90 0 x 2", "lru tune 10 20 0.1 x"))
    c.add("lru/mode_temp_ttl", lines(
        "lru mode flat", "lru mode segmented", "lru mode FLAT", "lru mode x", "lru mode",
        "lru mode flat extra", "lru temp_ttl 100", "lru temp_ttl -1", "lru temp_ttl 0",
        "lru temp_ttl x", "lru temp_ttl 4294967296", "lru temp_ttl 99999999999999999999",
        "lru temp_ttl", "lru temp_ttl 5 6", "lru", "lru bogus", "lru bogus x", "LRU mode flat",
        "lru_ mode flat"))
    c.add("lru/noreply", lines(
        "lru noreply", "lru mode flat noreply", "lru mode x noreply", "lru mode noreply",
        "lru temp_ttl 100 noreply", "lru temp_ttl noreply", "lru tune 10 20 0.1 2 noreply",
        "lru tune 41 40 0.1 2 noreply", "lru tune 10 20 0.1 noreply", "lru bogus noreply",
        "version"))
    c.add("slabs/many_tokens", L("slabs", "automove", *["1"] * 30) + L("lru", "mode", "flat", *["x"] * 30) +
          L("lru", "tune", "1", "2", "3", "4", *["x"] * 30) + L("slabs", "reassign", *["1"] * 30))
    F = udp_frame
    c.udp("tuning", F(1, L("slabs", "automove", "1")), F(2, L("slabs", "reassign", "1", "0")),
          F(3, L("lru", "mode", "flat") + L("lru", "temp_ttl", "x")), F(4, L("lru", "tune", "1", "1", "1", "1", "noreply")))


def flush(c):
    c.add("flush/now", setv(b"a", b"1") + L("flush_all") + L("get", "a") + setv(b"a", b"2") + L("get", "a"))
    c.add("flush/zero", setv(b"a", b"1") + L("flush_all", "0") + L("get", "a"))
    c.add("flush/noreply", setv(b"a", b"1") + L("flush_all", "noreply") + L("get", "a"))
    c.add("flush/zero_noreply", setv(b"a", b"1") + L("flush_all", "0", "noreply") + L("get", "a"))
    c.add("flush/negative", setv(b"a", b"1") + L("flush_all", "-1") + L("get", "a") + setv(b"b", b"2") + L("get", "b"))
    c.add("flush/delayed", setv(b"a", b"1") + L("flush_all", "100") + L("get", "a") + setv(b"b", b"2") +
          L("get", "a", "b"))
    c.add("flush/delayed_then_now", setv(b"a", b"1") + L("flush_all", "100") + L("flush_all") + L("get", "a"))
    c.add("flush/one_second", setv(b"a", b"1") + L("flush_all", "1") + L("get", "a"),
          note="flush_all 1 flushes at once; no store follows, the clock tick would matter")
    c.add("flush/absolute_past", setv(b"a", b"1") + L("flush_all", "1000000000") + L("get", "a"))
    c.add("flush/absolute_future", setv(b"a", b"1") + b"flush_all {now:+1000}\r\n" + L("get", "a"))
    c.add("flush/bad", L("flush_all", "x") + L("flush_all", "1x") + L("flush_all", "") +
          L("flush_all", "2147483648") + L("flush_all", "99999999999") + L("flush_all", "1", "2") +
          L("flush_all", "1", "2", "3") + L("flush_all", "noreply", "x") + L("flush_all", "x", "noreply") +
          L("get", "a"))
    c.add("flush/uppercase", L("FLUSH_ALL") + L("flush_all_x") + L("flush"))
    c.add("flush/disabled", setv(b"a", b"1") + L("flush_all") + L("flush_all", "0", "noreply") +
          L("flush_all", "x") + L("get", "a"), args=("-F",))


def keys(c):
    c.add("keys/250_storage", setv(K250, b"v") + st(b"add", K250, b"w") + st(b"replace", K250, b"x") +
          st(b"append", K250, b"y") + st(b"prepend", K250, b"z") + L("get", K250))
    c.add("keys/250_get_family", setv(K250, b"5") + L("get", K250) + L("gets", K250) + L("gat", "100", K250) +
          L("gats", "100", K250) + L("incr", K250, "1") + L("decr", K250, "2") + L("touch", K250, "100") +
          L("delete", K250) + L("get", K250))
    for verb in (b"set", b"add", b"replace", b"append", b"prepend"):
        c.add(f"keys/251_{verb.decode()}", st(verb, K251, b"v") + L("get", "a"))
        c.add(f"keys/251_{verb.decode()}_noreply", st(verb, K251, b"v", extra=b"noreply") + L("get", "a"))
    c.add("keys/251_cas", b"cas " + K251 + b" 0 0 1 1\r\nv\r\n" + L("get", "a"))
    for cmd in (L("incr", K251, "1"), L("decr", K251, "1"), L("touch", K251, "10"), L("delete", K251),
                L("delete", K251, "noreply"), L("incr", K251, "1", "noreply")):
        name = cmd.split(b" ")[0].decode() + ("_noreply" if b"noreply" in cmd else "")
        c.add(f"keys/251_{name}", setv(b"a", b"1") + cmd + L("get", "a"))
    # Over-long keys in get commands: their own write, after the earlier replies.
    for verb in ("get", "gets", "bget"):
        c.add(f"keys/251_{verb}", setv(b"a", b"1"), L(verb, K251) + L("get", "a"))
        c.add(f"keys/251_{verb}_after_hits", setv(b"a", b"1"), L(verb, "a", "a", K251, "a") + L("get", "a"))
    c.add("keys/251_gat", setv(b"a", b"1"), L("gat", "10", "a", K251) + L("gat", "10", "a"))
    c.add("keys/251_gats", setv(b"a", b"1"), L("gats", "10", K251, "a") + L("gets", "a"))
    c.add("keys/long_get_pipeline_split", setv(b"a", b"1") + L("get", "a") + L("incr", "n", "1"),
          L("get", "a", K251) + L("get", "a") + setv(b"b", b"2"),
          L("get", "a", "b"),
          note="the over-long get starts its own write (deliberate difference a)")
    c.add("keys/2000_byte_key", setv(b"x" * 2000, b"1") + L("get", "a"),
          note="a long but complete line in one write")
    c.add("keys/control_chars", setv(b"\x01\x02\x7f", b"1") + setv("ключ".encode(), b"2") +
          setv(b"a\rb", b"3") + setv(b"a\tb", b"4") + L("get", b"\x01\x02\x7f", "ключ".encode(), b"a\rb", b"a\tb"))
    c.add("keys/nul_in_line", b"get a\x00b\r\n" + setv(b"a", b"1") + b"get a\x00junk\r\n" +
          b"set n\x00x 0 0 1\r\nv\r\n" + L("get", "n"))
    c.add("keys/noreply_as_key", setv(b"noreply", b"1") + L("get", "noreply") + L("get", "a", "noreply"))
    c.add("keys/high_bytes", setv(bytes(range(128, 256)), b"1") + L("get", bytes(range(128, 256))))


def malformed(c):
    for verb in ("set", "add", "replace", "append", "prepend"):
        v = verb.encode()
        c.add(f"tokens/{verb}_too_few", L(verb, "a", "0", "0") + L(verb, "a", "0") + L(verb, "a") + L(verb) +
              L("get", "a"))
        c.add(f"tokens/{verb}_too_many", L(verb, "a", "0", "0", "1", "noreply", "x") + b"v\r\n" + L("get", "a"))
        c.add(f"tokens/{verb}_bad_noreply", L(verb, "a", "0", "0", "1", "noreplyx") + b"v\r\n" + L("get", "a"))
        for field, bads in (("flags", (b"-1", b"x", b"4294967296", b"1.5")),
                            ("exptime", (b"x", b"2147483648", b"-2147483649", b"1e3", b"99999999999")),
                            ("bytes", (b"-1", b"x", b"+1", b"1x", b"0x1", b"2147483646", b"2147483647",
                                       b"4294967297"))):
            if verb != "set" and field != "bytes":
                bads = bads[:2]
            for bad in bads:
                f, e, n = b"0", b"0", b"1"
                if field == "flags":
                    f = bad
                elif field == "exptime":
                    e = bad
                else:
                    n = bad
                name = bad.decode().replace("+", "plus").replace("-", "minus").replace(".", "_")
                c.add(f"numbers/{verb}_{field}_{name}",
                      v + b" a " + f + b" " + e + b" " + n + CRLF + b"v\r\n" + L("get", "a"))
    c.add("numbers/exptime_wraps_int32", b"set a 0 4294967296 1\r\nv\r\n" + b"set b 0 4294967295 1\r\nv\r\n" +
          b"set c 0 2147483648 1\r\nv\r\n" + L("get", "a", "b", "c"))
    c.add("numbers/exptime_forms", b"set a 0 -1 1\r\nv\r\nset b 0 2592000 1\r\nv\r\n" +
          b"set c 0 2592001 1\r\nv\r\nset d 0 1000000000 1\r\nv\r\nset e 0 {now:+1000} 1\r\nv\r\n" +
          b"set f 0 {now:-1000} 1\r\nv\r\nset g 0 +100 1\r\nv\r\nset h 0 0100 1\r\nv\r\n" +
          L("get", "a", "b", "c", "d", "e", "f", "g", "h"))
    c.add("numbers/exptime_huge_touch", setv(b"a", b"1") + L("touch", "a", "99999999999") +
          L("touch", "a", "2147483647") + L("get", "a") + L("touch", "a", "-2147483648") + L("get", "a"))
    c.add("numbers/bytes_leading_zero", b"set a 0 0 01\r\nv\r\nset b 0 0 +2\r\nvv\r\n" + L("get", "a", "b"))
    c.add("numbers/negative_zero", b"set a -0 -0 -0\r\n\r\n" + L("get", "a"))
    c.add("tokens/24_tokens", L("get", *[f"k{i}" for i in range(22)]) + L("set", *(["a"] * 23)) +
          L("incr", *(["a"] * 30)) + L("delete", *(["a"] * 24)) + L("get", "a"))
    c.add("tokens/many_keys_after_24", setv(b"k5", b"5") + setv(b"k30", b"30") + setv(b"k60", b"60") +
          L("get", *[f"k{i}" for i in range(80)]))
    c.add("tokens/cas_counts", L("cas", "a", "0", "0", "1") + L("cas", "a", "0", "0", "1", "1", "noreply", "x") +
          L("cas") + L("get", "a"))
    c.add("tokens/arith_counts", L("incr", "a") + L("incr") + L("decr", "a") + L("incr", "a", "1", "noreply", "x") +
          L("decr", "a", "1", "2") + L("get", "a"))
    for line in (b"GET a", b"Get a", b"SET a 0 0 1", b"gett a", b"sets a 0 0 1", b"geta", b"foo", b"mx",
                 b"mnop", b"m1 a", b"mgx a", b"m", b"g", b"s", b"x", b"stat", b"statsx", b"incrx a 1",
                 b"versionx", b"quitx", b"deletex a", b"touchx a 1", b"casx a 0 0 1 1", b"appendx a 0 0 1",
                 b"verbosityx 1", b"gat", b"g a", b"mnx", b"mee", b"m\x00g"):
        name = re.sub(rb"[^A-Za-z0-9]+", b"_", line).decode().strip("_") or "nul"
        c.add(f"unknown/{name}", line + CRLF + L("get", "a"))
    c.add("unknown/http_get", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    c.add("unknown/http_post", setv(b"a", b"1"), b"POST /x HTTP/1.0\r\n" + L("get", "a"))
    c.add("unknown/http_suffix_anycmd", b"foo bar HTTP/\r\n")
    c.add("unknown/http_in_get", setv(b"a", b"1") + L("get", "a", "HTTP/1.1"))
    c.add("unknown/admin_like", L("slabsx") + L("lrux") + L("watchx") + L("stats_x"))


def whitespace(c):
    base = setv(b"a", b"1")
    c.add("ws/double_spaces", base + b"get  a\r\n" + b"set  b  0  0  1\r\nv\r\n" + b"get a  b\r\n" + b"incr  n  1\r\n")
    c.add("ws/leading_space", base + b" get a\r\n" + b"   version\r\n" + b" set b 0 0 1\r\nv\r\n" + L("get", "b"))
    c.add("ws/trailing_space", base + b"get a \r\n" + b"set b 0 0 1 \r\nv\r\n" + b"delete b \r\n" +
          b"incr a 1 \r\n" + b"touch a 10 \r\n" + b"flush_all 0 \r\n" + b"verbosity 0 \r\n")
    c.add("ws/trailing_noreply_space", base + b"set b 0 0 1 noreply \r\nv\r\n" + b"delete a noreply  \r\n" +
          L("get", "a", "b"))
    c.add("ws/tabs", base + b"get\ta\r\n" + b"get a\tb\r\n" + b"\tget a\r\n" + b"set\tb 0 0 1\r\nv\r\n" +
          b"set b\t0 0 1\r\nv\r\n" + b"incr a\t1\r\n" + L("get", "a", "b"))
    c.add("ws/lf_only", b"set a 0 0 1\nv\r\nget a\nincr a 1\ndelete a\nget a\nversion\n")
    c.add("ws/lf_only_value", b"set a 0 0 1\r\nv\nget a\r\n" + L("get", "a"))
    c.add("ws/cr_cr_lf", base + b"get a\r\r\n" + b"set b 0 0 1\r\r\nv\r\n" + L("get", "b"))
    c.add("ws/cr_in_middle", base + b"get a\rb\r\n" + b"ver\rsion\r\n")
    c.add("ws/empty_lines", b"\r\n\r\n\n" + base + b"\r\n" + L("get", "a") + b"\n\n")
    c.add("ws/only_spaces", b"   \r\n" + b" \n" + L("get", "a"))
    c.add("ws/lone_cr_lines", b"\r\r\n\r \r\n" + L("version"))
    c.add("ws/crlf_only_stream", b"\r\n" * 30)
    c.add("ws/spaces_everywhere", b"  set   k   1   0   2   \r\nab\r\n   gets    k    \r\n")


def data_chunks(c):
    c.add("chunk/longer", b"set a 0 0 2\r\nabcd\r\n" + L("get", "a"))
    c.add("chunk/longer_keeps_old", setv(b"a", b"old") + b"set a 0 0 2\r\nabcd\r\n" + L("get", "a"))
    c.add("chunk/shorter", b"set a 0 0 4\r\nab\r\n" + L("get", "a") + L("get", "a"))
    c.add("chunk/missing_crlf", b"set a 0 0 2\r\nabXY" + L("get", "a") + L("get", "a"))
    c.add("chunk/lf_terminator", b"set a 0 0 2\r\nab\n" + L("get", "a") + L("get", "a"))
    c.add("chunk/cr_only", b"set a 0 0 2\r\nab\rX" + L("get", "a"))
    c.add("chunk/noreply_bad", b"set a 0 0 2 noreply\r\nabcd\r\n" + L("get", "a"))
    c.add("chunk/append_bad", setv(b"a", b"x") + b"append a 0 0 1\r\nyz\r\n" + L("get", "a"))
    c.add("chunk/cas_bad", setv(b"a", b"x") + L("gets", "a"),
          b"cas a 0 0 1 {cas:a}\r\nyz\r\n" + L("gets", "a"))
    c.add("chunk/incomplete_then_wait", Send(b"set a 0 0 10\r\nabc"), Send(b"defghij\r\n" + L("get", "a")))
    c.add("chunk/zero_len_with_data", b"set a 0 0 0\r\nx\r\n" + L("get", "a"))
    c.add("chunk/value_with_crlf_inside", setv(b"a", b"\r\n\r\n") + setv(b"b", b"x\r\ny") + L("get", "a", "b"))
    c.add("chunk/value_is_command", b"set a 0 0 11\r\nget a\r\nget \r\n" + L("get", "a"))


def sizes(c):
    # Boundaries of the largest item (default -I 1m): 48-byte header, key + 1,
    # value + CRLF, 8 bytes CAS, 4 bytes when flags are non-zero.
    c.add("size/max_value", setv(b"a", b"v" * MAX_VALUE) + L("get", "b") + L("delete", "a"))
    c.add("size/max_value_plus_1", setv(b"a", b"v" * (MAX_VALUE + 1)) + L("get", "a"))
    c.add("size/max_value_flags", setv(b"a", b"v" * (MAX_VALUE - 4), 1) + setv(b"b", b"v" * (MAX_VALUE - 3), 1) +
          L("get", "c"))
    c.add("size/max_value_key250", setv(K250, b"v" * (MAX_VALUE - 249)) + setv(K250, b"v" * (MAX_VALUE - 248)) +
          L("get", "c"))
    c.add("size/max_value_nocas", setv(b"a", b"v" * (MAX_VALUE + 8)) + setv(b"a", b"v" * (MAX_VALUE + 9)) +
          L("get", "c"), args=("-C",))
    c.add("size/too_large_swallow", setv(b"a", b"old") + setv(b"a", b"x" * 1100000) + L("get", "a") +
          st(b"add", b"b", b"1") + L("get", "b"),
          note="memcached drops the old item of a failed too-large set")
    c.add("size/too_large_add_replace", setv(b"a", b"old") + st(b"add", b"b", b"x" * 1100000) +
          st(b"replace", b"a", b"x" * 1100000) + st(b"append", b"a", b"x" * 1100000) + L("get", "a", "b"))
    c.add("size/too_large_noreply", setv(b"a", b"old") + st(b"set", b"a", b"x" * 1100000, extra=b"noreply") +
          L("get", "a"))
    c.add("size/too_large_cas", setv(b"a", b"old") + L("gets", "a"),
          b"cas a 0 0 1100000 {cas:a}\r\n" + b"x" * 1100000 + b"\r\n" + L("get", "a"))
    c.add("size/too_large_chunked_write", Send(setv(b"a", b"x" * 1100000) + L("get", "a"), chunk=65536, delay=0.001))
    c.add("size/too_large_pending", b"set a 0 0 2000000000\r\n" + L("get", "a") + b"x" * 1000,
          note="the server swallows the declared bytes: nothing comes back")
    c.add("size/too_large_then_wait", Send(b"set a 0 0 1100000\r\n" + b"x" * 1000),
          Send(b"x" * 1099000 + b"\r\n" + L("get", "a")))
    c.add("size/append_over_limit", setv(b"a", b"x" * 1048000) + st(b"append", b"a", b"y" * 1000) +
          st(b"prepend", b"a", b"y" * 1000) + L("get", "b"))
    c.add("size/small_I_boundary", setv(b"a", b"v" * 524228) + setv(b"b", b"v" * 524229) + L("get", "b"),
          args=("-I", "512k"))
    c.add("size/small_I_too_large", setv(b"a", b"old") + setv(b"a", b"x" * 600000) + L("get", "a") +
          setv(b"b", b"x" * 100) + L("get", "b"), args=("-I", "512k"))
    c.add("size/big_I", setv(b"a", b"v" * 2097092) + setv(b"b", b"v" * 2097093) + L("get", "c"),
          args=("-I", "2m", "-m", "16"))
    c.add("size/value_100k_get", setv(b"a", bytes(range(256)) * 400) + L("get", "a", "a"))


def noreply(c):
    c.add("noreply/set", st(b"set", b"a", b"1", extra=b"noreply") + L("get", "a"))
    c.add("noreply/add", st(b"add", b"a", b"1", extra=b"noreply") + st(b"add", b"a", b"2", extra=b"noreply") +
          L("get", "a"))
    c.add("noreply/replace", st(b"replace", b"a", b"1", extra=b"noreply") + setv(b"a", b"x") +
          st(b"replace", b"a", b"2", extra=b"noreply") + L("get", "a"))
    c.add("noreply/append_prepend", setv(b"a", b"x") + st(b"append", b"a", b"y", extra=b"noreply") +
          st(b"prepend", b"a", b"w", extra=b"noreply") + st(b"append", b"m", b"y", extra=b"noreply") +
          L("get", "a", "m"))
    c.add("noreply/cas", setv(b"a", b"x") + L("gets", "a"),
          b"cas a 0 0 1 {cas:a} noreply\r\ny\r\n" + b"cas a 0 0 1 {cas:a} noreply\r\nz\r\n" +
          b"cas m 0 0 1 1 noreply\r\nz\r\n" + L("gets", "a"))
    c.add("noreply/delete", setv(b"a", b"x") + L("delete", "a", "noreply") + L("delete", "a", "noreply") +
          L("get", "a"))
    c.add("noreply/incr_decr", setv(b"a", b"5") + L("incr", "a", "3", "noreply") + L("decr", "a", "1", "noreply") +
          L("incr", "m", "1", "noreply") + L("incr", "a", "x", "noreply") + L("get", "a"))
    c.add("noreply/incr_non_numeric", setv(b"a", b"abc") + L("incr", "a", "1", "noreply") + L("get", "a"))
    c.add("noreply/touch", setv(b"a", b"x") + L("touch", "a", "100", "noreply") + L("touch", "m", "1", "noreply") +
          L("touch", "a", "x", "noreply") + L("get", "a"))
    c.add("noreply/flush", setv(b"a", b"x") + L("flush_all", "noreply") + L("get", "a"))
    c.add("noreply/verbosity", L("verbosity", "1", "noreply") + L("verbosity", "x", "noreply") + L("get", "a"))
    c.add("noreply/errors_suppressed", b"set a x 0 1 noreply\r\nv\r\n" + b"set a 0 x 1 noreply\r\nv\r\n" +
          st(b"set", K251, b"v", extra=b"noreply") + L("get", "a"))
    c.add("noreply/get_ignores", setv(b"a", b"x") + L("get", "a", "noreply") + L("gets", "a", "noreply") +
          L("gat", "0", "a", "noreply"))
    c.add("noreply/all_then_version", st(b"set", b"a", b"1", extra=b"noreply") +
          st(b"add", b"b", b"2", extra=b"noreply") + L("incr", "a", "1", "noreply") +
          L("delete", "b", "noreply") + L("version"))
    c.add("noreply/uppercase", setv(b"a", b"1") + st(b"set", b"a", b"2", extra=b"NOREPLY") + L("get", "a"))


def arith(c):
    c.add("incr/basic", setv(b"a", b"1") + L("incr", "a", "1") + L("incr", "a", "10") + L("decr", "a", "5") +
          L("get", "a"))
    c.add("incr/miss", L("incr", "a", "1") + L("decr", "a", "1") + L("get", "a"))
    c.add("incr/wrap_2_64", setv(b"a", b"1") + L("incr", "a", "18446744073709551615") + L("incr", "a", "2") +
          L("get", "a"))
    c.add("incr/max_plus_one", setv(b"a", b"18446744073709551615") + L("incr", "a", "1") + L("get", "a"))
    c.add("incr/value_overflow", setv(b"a", b"18446744073709551616") + L("incr", "a", "1") + L("get", "a"))
    c.add("decr/floor_zero", setv(b"a", b"5") + L("decr", "a", "10") + L("decr", "a", "1") + L("get", "a"))
    c.add("decr/pad_spaces", setv(b"a", b"10") + L("decr", "a", "1") + L("get", "a") + L("incr", "a", "1") +
          L("get", "a"))
    c.add("decr/pad_long", setv(b"a", b"1000000") + L("decr", "a", "999999") + L("get", "a") + L("gets", "a"))
    c.add("incr/grows", setv(b"a", b"99") + L("incr", "a", "1") + L("get", "a") + L("incr", "a", "18446744073709551000") +
          L("get", "a"))
    c.add("incr/non_numeric", setv(b"a", b"abc") + setv(b"b", b"12abc") + setv(b"c", b"") + setv(b"d", b"-1") +
          setv(b"e", b"0x10") + L("incr", "a", "1") + L("incr", "b", "1") + L("incr", "c", "1") +
          L("decr", "d", "1") + L("incr", "e", "1") + L("get", "a", "b", "c", "d", "e"))
    c.add("incr/lenient_values", setv(b"a", b" 5") + setv(b"b", b"+5") + setv(b"c", b"5 6") + setv(b"d", b"7\t") +
          setv(b"e", b"00000000000000000000000001") + setv(b"f", b"9\r\nx") +
          L("incr", "a", "1") + L("incr", "b", "1") + L("incr", "c", "1") + L("incr", "d", "1") +
          L("incr", "e", "1") + L("incr", "f", "1") + L("get", "a", "b", "c", "d", "e", "f"))
    c.add("incr/bad_delta", setv(b"a", b"5") + L("incr", "a", "-1") + L("incr", "a", "x") + L("incr", "a", "5x") +
          L("incr", "a", "0x5") + L("incr", "a", "18446744073709551616") + L("decr", "a", "-5") +
          L("incr", "a", "+5") + L("incr", "a", "1.5") + L("get", "a"))
    c.add("incr/zero_delta", setv(b"a", b"007") + L("incr", "a", "0") + L("get", "a") + L("decr", "a", "0") +
          L("get", "a"))
    c.add("incr/keeps_flags", setv(b"a", b"1", 42) + L("incr", "a", "1000") + L("get", "a") + L("decr", "a", "1000") +
          L("get", "a"))
    c.add("incr/changes_cas", setv(b"a", b"1") + L("gets", "a") + L("incr", "a", "1") + L("gets", "a") +
          L("decr", "a", "1") + L("gets", "a") + L("incr", "a", "100") + L("gets", "a"))
    c.add("incr/big_numbers", setv(b"a", b"18446744073709551614") + L("incr", "a", "1") + L("decr", "a", "18446744073709551615") +
          L("get", "a"))
    c.add("incr/long_digit_value", setv(b"a", b"1" + b"0" * 100) + L("incr", "a", "1") + L("get", "a"))
    c.add("incr/expired_item", st(b"set", b"a", b"5", exptime=-1) + L("incr", "a", "1") + L("decr", "a", "1"))
    c.add("incr/uppercase", setv(b"a", b"5") + L("INCR", "a", "1") + L("Decr", "a", "1") + L("get", "a"))


def cas(c):
    c.add("cas/success_then_exists", setv(b"a", b"1") + L("gets", "a"),
          b"cas a 0 0 1 {cas:a}\r\n2\r\n" + b"cas a 0 0 1 {cas:a}\r\n3\r\n" + L("gets", "a"))
    c.add("cas/mismatch", setv(b"a", b"1") + L("gets", "a"),
          b"cas a 0 0 1 {cas:a:+1}\r\n2\r\n" + b"cas a 0 0 1 {cas:a:-1}\r\n2\r\n" + L("gets", "a"))
    c.add("cas/not_found", b"cas a 0 0 1 1\r\n2\r\n" + b"cas a 0 0 1 0\r\n2\r\n" + L("gets", "a"))
    c.add("cas/zero", setv(b"a", b"1") + b"cas a 0 0 1 0\r\n2\r\n" + L("gets", "a"))
    c.add("cas/after_delete", setv(b"a", b"1") + L("gets", "a"), L("delete", "a") + b"cas a 0 0 1 {cas:a}\r\n2\r\n")
    c.add("cas/after_touch", setv(b"a", b"1") + L("gets", "a"), L("touch", "a", "100") +
          b"cas a 0 0 1 {cas:a}\r\n2\r\n" + L("gets", "a"))
    c.add("cas/after_append", setv(b"a", b"1") + L("gets", "a"), st(b"append", b"a", b"x") +
          b"cas a 0 0 1 {cas:a}\r\n2\r\n" + L("gets", "a"))
    c.add("cas/after_gat", setv(b"a", b"1") + L("gats", "100", "a"), L("gat", "200", "a") +
          b"cas a 0 0 1 {cas:a}\r\n2\r\n" + L("gets", "a"))
    c.add("cas/flags_exptime", setv(b"a", b"1", 3) + L("gets", "a"), b"cas a 77 100 3 {cas:a}\r\nnew\r\n" +
          L("gets", "a"))
    c.add("cas/expired_item", setv(b"a", b"1") + L("gets", "a"), L("touch", "a", "-1") +
          b"cas a 0 0 1 {cas:a}\r\n2\r\n" + L("gets", "a"))
    c.add("cas/bad_unique", setv(b"a", b"1") + b"cas a 0 0 1 -1\r\n2\r\n" + b"cas a 0 0 1 x\r\n2\r\n" +
          b"cas a 0 0 1 18446744073709551616\r\n2\r\n" + b"cas a 0 0 1 +1\r\n2\r\n" + b"cas a 0 0 1 1x\r\n2\r\n" +
          L("gets", "a"))
    c.add("cas/many_items_sequence", b"".join(setv(b"k%d" % i, b"%d" % i) for i in range(10)) +
          L("gets", *[f"k{i}" for i in range(10)]) + L("gets", "k3", "k1"))
    c.add("cas/disabled", setv(b"a", b"1") + L("gets", "a") + b"cas a 0 0 1 0\r\n2\r\n" + b"cas a 0 0 1 1\r\n3\r\n" +
          L("gets", "a") + L("gats", "10", "a") + L("incr", "a", "1") + L("gets", "a"), args=("-C",))
    c.add("cas/disabled_flush", setv(b"a", b"1") + L("flush_all") + L("gets", "a"), args=("-C",),
          note="no store after flush_all: with -C memcached's same-second rule would decide")
    c.add("cas/gets_multi_cas_order", setv(b"b", b"1") + setv(b"a", b"2") + L("gets", "a", "b", "a"),
          L("incr", "b", "1") + L("gets", "b", "a"))


def stats_cmds(c):
    c.add("stats/reset", L("stats", "reset") + L("stats", "reset", "x") + L("stats", "reset", "noreply"))
    c.add("stats/detail_errors", L("stats", "detail") + L("stats", "detail", "x") + L("stats", "detail", "ON") +
          L("stats", "detail", "on", "x"))
    c.add("stats/detail_dump_empty", L("stats", "detail", "dump"))
    c.add("stats/detail_on_off", L("stats", "detail", "on") + setv(b"p:a", b"1") + L("get", "p:a", "p:b") +
          L("delete", "p:a") + L("stats", "detail", "dump") + L("stats", "detail", "off") + L("get", "p:a") +
          L("stats", "detail", "dump"))
    c.add("stats/unknown", L("stats", "foo") + L("stats", "foo", "bar") + L("stats", "Reset") + L("STATS") +
          L("stats_reset"))
    c.add("stats/spaces", b"stats  reset\r\n" + b"stats reset \r\n" + b" stats reset\r\n")


def pipelines(c):
    rng = random.Random(20240501)
    mixed = (setv(b"a", b"1") + st(b"add", b"b", b"2") + L("get", "a", "b", "c") + L("incr", "a", "41") +
             st(b"append", b"b", b"x") + st(b"prepend", b"b", b"y") + L("gets", "b") + L("touch", "a", "100") +
             L("gat", "100", "a") + L("decr", "a", "2") + L("delete", "b") + L("delete", "b") +
             st(b"replace", b"b", b"z") + L("version") + L("verbosity", "0") + L("bogus") +
             st(b"set", b"n", b"5", extra=b"noreply") + L("incr", "n", "5") + b"set e 0 0 1\r\nxy\r\n" +
             L("get", "a", "n", "e") + L("stats", "reset") + L("flush_all") + L("get", "a"))
    c.tcp_variants("pipeline/mixed", mixed, chunks=(1, 2, 3, 7, 64))
    sets = b"".join(setv(b"key%d" % i, b"value-%d" % i * (i % 5 + 1), i) for i in range(50))
    gets = b"".join(L("get", "key%d" % i) for i in range(0, 60, 3))
    c.tcp_variants("pipeline/50_sets_gets", sets + gets + L("get", *["key%d" % i for i in range(50)]),
                   chunks=(1, 5, 100))
    c.add("pipeline/200_gets_10k", setv(b"a", bytes(range(256)) * 40) + L("get", "a") * 200)
    c.add("pipeline/1000_commands", b"".join(
        L("incr", "n", "1") if i % 4 else setv(b"n%d" % i, b"%d" % i) for i in range(1000)) + L("get", "n"))
    c.add("pipeline/errors_interleaved", b"".join(
        [L("get", "a"), b"bogus\r\n", setv(b"a", b"1"), b"set a 0 0 x\r\n", L("incr", "a", "1"), b"\r\n",
         L("get", "a")] * 10))
    c.tcp_variants("pipeline/quit_in_middle", setv(b"a", b"1") + L("get", "a") + L("quit") + setv(b"b", b"2") +
                   L("get", "b"), chunks=(1, 4))
    c.add("pipeline/over_20_per_event", L("get", "a") * 100 + setv(b"a", b"x") + L("get", "a") * 100,
          args=("-R", "1"), note="-R 1 makes memcached yield after every request")
    # Random chunkings of one stream (seeded: the same every run).
    data = sets + mixed
    for n in range(4):
        cuts = sorted(rng.sample(range(1, len(data)), 40))
        pieces = [data[i:j] for i, j in zip([0] + cuts, cuts + [len(data)])]
        c.add(f"pipeline/random_cuts_{n}", *[Send(p, wait=False) for p in pieces[:-1]], Send(pieces[-1]))
    # Long get lines: fine for get/gets past 2048 bytes even in small writes.
    many = ["k%04d" % i for i in range(400)]
    stores = b"".join(setv(b"k%04d" % i, b"%d" % i) for i in range(0, 400, 7))
    c.add("longline/get_400_keys", stores + L("get", *many))
    c.add("longline/gets_400_keys_chunked", stores, Send(L("gets", *many), chunk=500, delay=0.002))
    c.add("longline/get_400_keys_bytewise_start", stores, Send(L("get", *many), chunk=100, delay=0.001))
    c.add("longline/get_over_rbuf", stores + L("get", *(many * 12)), note="a 29 kB get line")
    c.add("longline/gat_over_2048_split", stores, Send(b"gat 100 " + b" ".join(k.encode() for k in many)[:2100]),
          Send(b" k0001\r\n" + L("get", "k0000")),
          note="2100 bytes without a newline that are not get/gets: the server closes")
    c.add("longline/set_no_newline", Send(b"set " + b"x" * 2100), Send(L("get", "a")))
    c.add("longline/garbage_no_newline", Send(b"z" * 3000), Send(L("version")))
    c.add("longline/get_no_newline_then_end", Send(b"get " + b" ".join(k.encode() for k in many)[:3000]),
          Send(b" k0001\r\n"))
    c.add("longline/leading_spaces_get", Send(b" " * 150 + b"get " + b"k " * 1100), Send(CRLF))
    c.add("longline/leading_spaces_short", b" " * 90 + b"get " + b" ".join(k.encode() for k in many) + CRLF)
    c.add("longline/unknown_long_complete", b"bogus " + b"y" * 2500 + CRLF + L("version"),
          note="a complete 2.5 kB line in one write")


def expiry(c):
    c.add("expiry/negative", st(b"set", b"a", b"1", exptime=-1) + L("get", "a") + st(b"add", b"a", b"2") +
          L("get", "a"))
    c.add("expiry/absolute_past", b"set a 0 1000000000 1\r\n1\r\n" + L("get", "a"))
    c.add("expiry/absolute_future", b"set a 0 {now:+1000} 1\r\n1\r\n" + L("get", "a"))
    c.add("expiry/relative_far", st(b"set", b"a", b"1", exptime=1000) + L("get", "a") + L("touch", "a", "2000") +
          L("get", "a"))
    c.add("expiry/expired_add_replace", st(b"set", b"a", b"1", exptime=-1) + st(b"replace", b"a", b"2") +
          st(b"append", b"a", b"3") + st(b"add", b"a", b"4") + L("get", "a"))
    c.add("expiry/gat_negative", setv(b"a", b"1") + L("gat", "-1", "a") + L("get", "a"))
    c.add("expiry/gat_absolute_past", setv(b"a", b"1") + L("gats", "1000000000", "a") + L("get", "a"))


def udp(c):
    F = udp_frame
    c.udp("get_miss", F(1, L("get", "a")))
    c.udp("set_get", F(1, setv(b"a", b"hello")), F(2, L("get", "a")), F(3, L("gets", "a")))
    c.udp("multiget_hits_misses", F(1, setv(b"a", b"1") + setv(b"c", b"3")), F(2, L("get", "a", "b", "c", "d")))
    c.udp("big_value_5000", F(1, setv(b"big", ALL_BYTES * 19 + b"x" * 136, 5)), F(9, L("get", "big")),
          F(10, L("get", "a", "big", "b")))
    # "VALUE b 0 1369\r\n" + 1369 + "\r\n" + "END\r\n" fills one 1392-byte payload exactly.
    c.udp("value_at_datagram_size", F(1, setv(b"b", b"x" * 1368) + setv(b"c", b"x" * 1369) + setv(b"d", b"x" * 1370)),
          F(2, L("get", "b")), F(3, L("get", "c")), F(4, L("get", "d")), F(5, L("get", "b", "c", "d")))
    c.udp("several_commands", F(1, setv(b"a", b"1") + L("get", "a") + L("incr", "a", "5") + L("get", "a", "b") +
                                 L("delete", "a") + L("get", "a")))
    c.udp("noreply", F(1, st(b"set", b"a", b"1", extra=b"noreply")), F(2, L("get", "a")),
          F(3, L("incr", "a", "1", "noreply") + L("get", "a")))
    c.udp("short_datagrams", b"", b"\x00", b"\x00\x01\x00\x00\x00\x01\x00", b"\x00\x01\x00\x00\x00\x01\x00\x00",
          F(5, b"\n"), F(6, L("version")))
    c.udp("sequence_nonzero", F(1, L("version"), seq=3))
    c.udp("total_two", F(1, L("version"), total=2), F(2, L("version"), total=0), F(3, L("version"), total=256),
          F(4, L("version")))
    c.udp("reserved_nonzero", F(1, L("version"), reserved=0xffff))
    c.udp("request_ids", F(0, L("get", "a")), F(65535, L("get", "a")), F(0x1234, L("get", "a")))
    c.udp("errors", F(1, L("bogus")), F(2, b"set a 0 0 x\r\nv\r\n"), F(3, b"set a 0 0 2\r\nabcd\r\n"),
          F(4, L("incr", "a", "x")), F(5, b"\r\n"))
    c.udp("long_key", F(1, setv(b"a", b"1")), F(2, L("get", K251, "a")), F(3, L("get", K250)),
          F(4, st(b"set", K251, b"x")))
    c.udp("cas", F(1, setv(b"a", b"1")), F(2, L("gets", "a")), F(3, b"cas a 0 0 1 {cas:a}\r\n2\r\n"),
          F(4, b"cas a 0 0 1 {cas:a}\r\n3\r\n"), F(5, L("gets", "a")))
    c.udp("touch_gat", F(1, setv(b"a", b"1")), F(2, L("touch", "a", "100")), F(3, L("gat", "100", "a", "b")),
          F(4, L("gats", "100", "a")))
    c.udp("flush_version_verbosity", F(1, setv(b"a", b"1")), F(2, L("flush_all")), F(3, L("get", "a")),
          F(4, L("version")), F(5, L("verbosity", "0")), F(6, L("stats", "reset")))
    c.udp("quit", F(1, L("quit")), F(2, L("get", "a")))
    c.udp("many_values", F(1, b"".join(setv(b"k%d" % i, b"v" * 300) for i in range(8))),
          F(2, L("get", *["k%d" % i for i in range(10)])))
    c.udp("append_incr_decr", F(1, setv(b"n", b"10")), F(2, L("decr", "n", "1")), F(3, L("get", "n")),
          F(4, st(b"append", b"n", b"0")), F(5, L("incr", "n", "1")))
    c.udp("lf_only", F(1, b"set a 0 0 1\nv\r\nget a\n"))
    c.udp("empty_payload_lines", F(1, b" \r\n"), F(2, b"\n\n\n"))


def build():
    c = Corpus()
    for section in (basic, flush, keys, malformed, whitespace, data_chunks, sizes, noreply, arith, cas,
                    stats_cmds, lru_crawler, tuning, pipelines, expiry, udp):
        section(c)
    return c.streams


def print_summary(streams):
    """python3 corpus*.py: how many streams, per first part of their ids."""
    by = {}
    for s in streams:
        by[s.id.split("/")[0]] = by.get(s.id.split("/")[0], 0) + 1
    print(len(streams), "streams:", ", ".join(f"{k} {v}" for k, v in by.items()))


if __name__ == "__main__":
    print_summary(build())
