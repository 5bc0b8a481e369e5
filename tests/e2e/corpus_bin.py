"""The binary-protocol differential corpus: request streams for memcached's
binary protocol, each sent to a fresh memcached and a fresh xdpcached whose
replies must match byte for byte (diffrun.py; CAS fields and the VERSION body
are normalised, see diffrun.binary_edits).

Packets are built by pkt() below. A CAS field can be a template filled in per
server from its own replies: cas=bcas(N) is the CAS of reply packet number N
(counted from the start of the stream), bcas(N, +1) that plus one.

build() returns the list of streams. Rules kept:
  * no short relative expiry times (memcached's clock ticks once a second);
  * no general `stat` (its counters differ, docs/differences.md e): stat
    groups used are reset, detail, items on an empty store and unknown ones;
  * UDP datagrams hold whole requests: memcached keeps a UDP request that
    is incomplete at the end of a datagram and reads the next datagram,
    frame header included, into it, but with several threads which thread
    reads the next datagram decides the result.
"""

import struct

from corpus import Corpus
from diffrun import Send
from helpers import udp_frame

# Opcodes (protocol_binary.h).
GET, SET, ADD, REPLACE, DELETE, INCR, DECR, QUIT, FLUSH = range(9)
GETQ, NOOP, VERSION, GETK, GETKQ, APPEND, PREPEND, STAT = range(0x09, 0x11)
SETQ, ADDQ, REPLACEQ, DELETEQ, INCRQ, DECRQ, QUITQ, FLUSHQ, APPENDQ, PREPENDQ = range(0x11, 0x1b)
VERBOSITY, TOUCH, GAT, GATQ = 0x1b, 0x1c, 0x1d, 0x1e
SASL_LIST, SASL_AUTH, SASL_STEP, GATK, GATKQ = 0x20, 0x21, 0x22, 0x23, 0x24

MAX_VALUE = 1048516          # largest value for a 1-byte key, flags 0, CAS on, -I 1m
NO_INITIAL = 0xffffffff      # incr/decr expiration: fail on a miss


def bcas(n, off=0):
    """Template for the 8-byte CAS field: the CAS of reply packet n."""
    return b"{bcas:%d%s}" % (n, b":%+d" % off if off else b"")


def pkt(opcode, key=b"", extras=b"", value=b"", opaque=0, cas=0, magic=0x80,
        keylen=None, extlen=None, bodylen=None, datatype=0, vbucket=0):
    """One request packet; keylen/extlen/bodylen override the true lengths
    (for malformed requests); cas may be an int or a bcas() template."""
    kl = len(key) if keylen is None else keylen
    el = len(extras) if extlen is None else extlen
    bl = len(extras) + len(key) + len(value) if bodylen is None else bodylen
    head = struct.pack(">BBHBBHII", magic, opcode, kl, el, datatype, vbucket, bl, opaque)
    cas_field = cas if isinstance(cas, bytes) else struct.pack(">Q", cas)
    return head + cas_field + extras + key + value


def store(opcode, key, value, flags=0, exptime=0, **kw):
    return pkt(opcode, key, struct.pack(">II", flags, exptime), value, **kw)


def setp(key, value, flags=0, exptime=0, **kw):
    return store(SET, key, value, flags, exptime, **kw)


def delta(opcode, key, amount, initial=0, exptime=NO_INITIAL, **kw):
    return pkt(opcode, key, struct.pack(">QQI", amount, initial, exptime), **kw)


def touchp(opcode, key, exptime, **kw):
    return pkt(opcode, key, struct.pack(">I", exptime), **kw)


def noop(opaque=0):
    return pkt(NOOP, opaque=opaque)


class BinCorpus(Corpus):
    """Binary streams, ids under bin/; udp() frames each payload."""

    def __init__(self):
        super().__init__(protocol="binary", prefix="bin/")

    def udp(self, sid, *payloads, args=(), note=""):
        grams = [udp_frame(i + 1, p) for i, p in enumerate(payloads)]
        super().udp(sid, *grams, args=args, note=note)


def retrieval(c):
    hit = setp(b"k", b"value", flags=0xdeadbeef, opaque=1)
    c.add("get/miss", pkt(GET, b"nokey", opaque=7))
    c.add("get/hit", hit + pkt(GET, b"k", opaque=2))
    c.add("getk/hit_miss", hit + pkt(GETK, b"k", opaque=3) + pkt(GETK, b"nokey", opaque=4))
    c.add("getq/hits_and_misses_then_noop",
          hit + pkt(GETQ, b"a", opaque=1) + pkt(GETQ, b"k", opaque=2) + pkt(GETQ, b"b", opaque=3)
          + pkt(GETKQ, b"k", opaque=4) + pkt(GETKQ, b"c", opaque=5) + noop(6))
    c.add("get/empty_value", setp(b"e", b"") + pkt(GET, b"e") + pkt(GETK, b"e"))
    c.add("get/binary_value", setp(b"bin", bytes(range(256)) * 4, flags=1) + pkt(GETK, b"bin"))
    c.add("get/long_key_250", setp(b"k" * 250, b"v") + pkt(GETK, b"k" * 250))
    c.add("touch/hit_miss", hit + touchp(TOUCH, b"k", 1000, opaque=9) + touchp(TOUCH, b"x", 1000)
          + pkt(GET, b"k"))
    c.add("gat/variants", hit + touchp(GAT, b"k", 0) + touchp(GATK, b"k", 3600)
          + touchp(GAT, b"m", 0) + touchp(GATK, b"m", 0) + touchp(GATQ, b"k", 0)
          + touchp(GATQ, b"m", 0) + touchp(GATKQ, b"k", 0) + touchp(GATKQ, b"m", 0) + noop())
    c.add("touch/expire_in_past_absolute", hit + touchp(TOUCH, b"k", 1000000000) + pkt(GET, b"k"))
    c.add("gat/trailing_body_is_next_request",
          hit + touchp(GAT, b"k", 0, value=noop(5)) + pkt(GET, b"k"),
          note="gat checks no bodylen: the rest of the body is read as a request")


def storage(c):
    c.add("set/replies_carry_cas", setp(b"a", b"1") + setp(b"a", b"2") + pkt(GET, b"a"))
    c.add("add/existing_and_new", setp(b"a", b"1") + store(ADD, b"a", b"2") + store(ADD, b"b", b"3")
          + pkt(GET, b"a") + pkt(GET, b"b"))
    c.add("replace/existing_and_missing", setp(b"a", b"1") + store(REPLACE, b"a", b"2")
          + store(REPLACE, b"b", b"3") + pkt(GET, b"a") + pkt(GET, b"b"))
    c.add("setq/pipeline_then_noop", store(SETQ, b"a", b"1", opaque=1) + store(ADDQ, b"a", b"2", opaque=2)
          + store(REPLACEQ, b"z", b"3", opaque=3) + store(ADDQ, b"n", b"4", opaque=4)
          + store(REPLACEQ, b"a", b"5", opaque=5) + pkt(GETQ, b"a") + pkt(GETQ, b"n") + noop(9),
          note="quiet stores are silent on success, their errors are sent")
    c.add("append/prepend", setp(b"a", b"mid", flags=5) + pkt(APPEND, b"a", value=b"-end")
          + pkt(PREPEND, b"a", value=b"start-") + pkt(APPEND, b"missing", value=b"x")
          + pkt(PREPEND, b"missing", value=b"x") + pkt(GETK, b"a"))
    c.add("appendq/prependq_then_noop", setp(b"a", b"m") + pkt(APPENDQ, b"a", value=b"1")
          + pkt(PREPENDQ, b"a", value=b"0") + pkt(APPENDQ, b"no", value=b"x") + noop() + pkt(GET, b"a"))
    c.add("set/flags_and_exptime_far", setp(b"f", b"v", flags=0xffffffff, exptime=3600) + pkt(GET, b"f"))
    c.add("set/expired_absolute_time", setp(b"f", b"v", exptime=1000000000) + pkt(GET, b"f"))
    c.add("set/expiry_ffffffff_is_far_future", setp(b"f", b"v", exptime=0xffffffff) + pkt(GET, b"f"))
    c.add("set/max_value", setp(b"m", b"x" * MAX_VALUE) + pkt(GET, b"m", opaque=1))
    c.add("set/over_max_value_swallowed",
          setp(b"m", b"old") + setp(b"m", b"x" * (MAX_VALUE + 1), opaque=5) + pkt(GET, b"m") + noop(),
          note="E2BIG, the value swallowed, and the old value gone")
    c.add("add/over_max_value_keeps_old",
          setp(b"m", b"old") + store(ADD, b"m", b"x" * (MAX_VALUE + 100)) + pkt(GET, b"m"))
    c.add("setq/over_max_value_error_is_sent",
          store(SETQ, b"m", b"x" * (MAX_VALUE + 1)) + noop())
    c.add("append/over_max_value", setp(b"m", b"a") + pkt(APPEND, b"m", value=b"x" * (MAX_VALUE + 10))
          + pkt(GET, b"m"))
    c.add("append/joined_too_large", setp(b"m", b"x" * 600000) + pkt(APPEND, b"m", value=b"y" * 600000)
          + pkt(GET, b"k"))
    c.add("set/value_with_small_item_limit",
          setp(b"a", b"x" * 524240) + setp(b"b", b"x" * 524300) + pkt(GET, b"b"),
          args=("-I", "512k"))
    c.add("set/value_in_pieces",
          Send(setp(b"a", b"0123456789" * 50)[:40], wait=True),
          Send(setp(b"a", b"0123456789" * 50)[40:300], wait=True),
          Send(setp(b"a", b"0123456789" * 50)[300:] + pkt(GET, b"a")),
          note="replies wait for the whole value")
    c.add("set/get_before_incomplete_set_is_held",
          Send(setp(b"a", b"1") + pkt(GET, b"a") + setp(b"b", b"0123456789")[:35]),
          Send(setp(b"b", b"0123456789")[35:]),
          note="memcached transmits nothing while it reads a value")


def cas(c):
    c.add("cas/set_match_and_mismatch",
          setp(b"a", b"1"),
          setp(b"a", b"2", cas=bcas(0)),
          setp(b"a", b"3", cas=bcas(1, 1)) + pkt(GET, b"a"))
    c.add("cas/on_missing_key", setp(b"a", b"1", cas=12345) + pkt(GET, b"a"))
    c.add("cas/add_with_cas_is_cas", setp(b"a", b"1"),
          store(ADD, b"a", b"2", cas=bcas(0)) + pkt(GET, b"a"))
    c.add("cas/replace_with_wrong_cas", setp(b"a", b"1"),
          store(REPLACE, b"a", b"2", cas=bcas(0, 7)) + pkt(GET, b"a"))
    c.add("cas/delete_match_mismatch", setp(b"a", b"1") + setp(b"b", b"1"),
          pkt(DELETE, b"a", cas=bcas(0)) + pkt(DELETE, b"b", cas=bcas(1, 1)) + pkt(GET, b"b"))
    c.add("cas/incr_mismatch_and_match", setp(b"n", b"5"),
          delta(INCR, b"n", 1, cas=bcas(0, 1)),
          delta(INCR, b"n", 1, cas=bcas(0)) + pkt(GET, b"n"))
    c.add("cas/append_mismatch_and_match", setp(b"a", b"x"),
          pkt(APPEND, b"a", value=b"y", cas=bcas(0, 3)),
          pkt(APPEND, b"a", value=b"z", cas=bcas(0)) + pkt(GET, b"a"))
    c.add("cas/get_reports_item_cas", setp(b"a", b"1") + pkt(GET, b"a") + pkt(GETK, b"a")
          + touchp(GAT, b"a", 0))
    c.add("cas/ignored_with_C", setp(b"a", b"1") + setp(b"a", b"2", cas=99) + pkt(GET, b"a")
          + pkt(DELETE, b"a", cas=5), args=("-C",))


def arithmetic(c):
    c.add("incr/existing_and_decr_floor", setp(b"n", b"10") + delta(INCR, b"n", 5)
          + delta(DECR, b"n", 100) + pkt(GET, b"n"))
    c.add("incr/miss_without_initial", delta(INCR, b"n", 1) + delta(DECR, b"n", 1))
    c.add("incr/miss_with_initial", delta(INCR, b"n", 1, initial=42, exptime=0)
          + delta(INCR, b"n", 1, initial=42, exptime=0) + pkt(GETK, b"n"))
    c.add("decr/miss_with_initial_far_exptime", delta(DECR, b"d", 1, initial=7, exptime=3600)
          + pkt(GET, b"d"))
    c.add("incr/wrap_2_64", setp(b"n", b"18446744073709551615") + delta(INCR, b"n", 2) + pkt(GET, b"n"))
    c.add("incr/non_numeric", setp(b"n", b"abc") + delta(INCR, b"n", 1) + delta(DECR, b"n", 1))
    c.add("incr/shrinking_decr_pads", setp(b"n", b"1000") + delta(DECR, b"n", 999) + pkt(GET, b"n"))
    c.add("incrq/pipeline_then_noop", setp(b"n", b"1") + delta(INCRQ, b"n", 1)
          + delta(DECRQ, b"n", 1) + delta(INCRQ, b"miss", 1) + delta(INCRQ, b"init", 1, 9, 0)
          + delta(DECRQ, b"n", 1) + noop() + pkt(GET, b"n") + pkt(GET, b"init"))


def deletion(c):
    c.add("delete/hit_and_miss", setp(b"a", b"1") + pkt(DELETE, b"a") + pkt(DELETE, b"a")
          + pkt(GET, b"a"))
    c.add("deleteq/then_noop", setp(b"a", b"1") + pkt(DELETEQ, b"a", opaque=1)
          + pkt(DELETEQ, b"a", opaque=2) + noop(3))


def server(c):
    c.add("noop/version", noop(0x01020304) + pkt(VERSION, opaque=0xffffffff))
    c.add("flush/now", setp(b"a", b"1") + pkt(FLUSH) + pkt(GET, b"a"))
    c.add("flushq/then_noop", setp(b"a", b"1") + pkt(FLUSHQ, opaque=4) + noop(5) + pkt(GET, b"a"))
    c.add("flush/delayed_far", setp(b"a", b"1") + pkt(FLUSH, extras=struct.pack(">I", 3600))
          + pkt(GET, b"a"))
    c.add("flush/disabled", setp(b"a", b"1") + pkt(FLUSH) + pkt(GET, b"a"), args=("-F",))
    c.add("quit/closes", setp(b"a", b"1") + pkt(QUIT, opaque=3) + pkt(GET, b"a"))
    c.add("quitq/closes_silently", setp(b"a", b"1") + pkt(QUITQ) + noop())
    c.add("quit/after_getq_hit", setp(b"a", b"1") + pkt(GETQ, b"a") + pkt(QUIT))
    c.add("stat/reset", pkt(STAT, b"reset", opaque=11))
    c.add("stat/items_empty", pkt(STAT, b"items"))
    c.add("stat/unknown_group", pkt(STAT, b"bogus") + pkt(STAT, b"detail bogus") + noop())
    c.add("stat/detail_dump_empty", pkt(STAT, b"detail dump"))
    c.add("stat/detail_on_dump_off", pkt(STAT, b"detail on") + setp(b"p:a", b"1")
          + pkt(GET, b"p:a") + pkt(GET, b"p:b") + pkt(DELETE, b"p:a") + pkt(STAT, b"detail dump")
          + pkt(STAT, b"detail off"))
    c.add("stat/trailing_body_is_next_request", pkt(STAT, b"reset", bodylen=5 + 24) + noop(8),
          note="stat checks no bodylen: the rest of the body is read as a request")
    c.add("opaque/echoed", b"".join(pkt(GET, b"x%d" % i, opaque=o)
                                    for i, o in enumerate((0, 1, 0x7fffffff, 0x80000000, 0xffffffff))))
    c.add("reserved_fields_ignored", setp(b"a", b"1", datatype=5, vbucket=0xabcd)
          + pkt(GET, b"a", datatype=1, vbucket=7))


def malformed(c):
    ok = setp(b"a", b"1")
    c.add("bad/magic_after_get_hit_drops_it", ok + pkt(GET, b"a") + pkt(GET, b"a", magic=0x81),
          note="memcached closes at once; the hit reply was only queued")
    c.add("bad/magic_after_miss_is_sent", pkt(GET, b"zz") + pkt(NOOP, magic=0x00) + noop(),
          note="the miss (an error) was transmitted before the bad packet")
    c.add("bad/magic_waits_for_24_bytes", pkt(NOOP), Send(b"get a\r\n"), Send(b"x" * 17),
          note="a binary connection reads a whole header before looking at it")
    c.add("bad/text_after_binary", noop() + b"version\r\n" + b"\0" * 24)
    c.add("bad/binary_on_text_connection", b"version\r\n" + noop() + b"\r\n")
    c.add("bad/get_with_extras", ok + pkt(GET, b"a", extras=b"\0\0\0\0") + noop())
    c.add("bad/get_body_longer_than_key", ok + pkt(GET, b"a", value=b"zz") + noop())
    c.add("bad/get_empty_key", pkt(GET, b"") + noop())
    c.add("bad/keylen_over_bodylen", pkt(GET, b"abc", bodylen=2) + b"c" + noop(),
          note="UNKNOWN_COMMAND, then the connection closes")
    c.add("bad/append_keylen_over_bodylen", pkt(APPENDQ, b"abc", bodylen=2) + b"c" + noop())
    c.add("bad/ext_plus_key_over_bodylen", pkt(SET, b"ab", struct.pack(">II", 0, 0), bodylen=9) + noop())
    c.add("bad/key_251", pkt(GET, b"k" * 251) + noop())
    c.add("bad/set_key_251", setp(b"k" * 251, b"v") + noop())
    c.add("bad/set_without_extras", pkt(SET, b"a", value=b"v") + noop())
    c.add("bad/set_empty_key", setp(b"", b"v") + noop())
    c.add("bad/incr_short_extras", pkt(INCR, b"n", extras=b"\0" * 8) + noop())
    c.add("bad/noop_with_body", pkt(NOOP, value=b"x") + noop())
    c.add("bad/version_with_key", pkt(VERSION, b"k") + noop())
    c.add("bad/flush_extras_8", pkt(FLUSH, extras=b"\0" * 8) + noop())
    c.add("bad/quit_with_extras", pkt(QUIT, extras=b"\0" * 4) + noop())
    c.add("bad/delete_with_extras", pkt(DELETE, b"a", extras=b"\0" * 4) + noop())
    c.add("bad/touch_without_extras", pkt(TOUCH, b"a") + noop())
    c.add("bad/stat_with_extras", pkt(STAT, extras=b"\0" * 4) + noop())
    c.add("bad/append_with_extras", pkt(APPEND, b"a", extras=b"\0" * 8, value=b"x") + noop())
    c.add("bad/getq_malformed_error_sent", pkt(GETQ, b"a", extras=b"\0") + noop())
    c.add("unknown/opcode_then_noop", pkt(0x30, opaque=3) + pkt(0xff) + noop())
    c.add("unknown/swallows_bodylen_after_key", pkt(0x40, b"ab", b"cd", b"ef") + b"abcd" + noop(),
          note="memcached swallows bodylen bytes after the key: 4 bytes too many")
    c.add("unknown/verbosity", pkt(VERBOSITY, extras=struct.pack(">I", 1)) + b"\0" * 4 + noop())
    c.add("sasl/list_mechs", pkt(SASL_LIST, opaque=1) + noop())
    c.add("sasl/auth_and_step", pkt(SASL_AUTH, b"PLAIN", value=b"\0user\0pass", opaque=2)
          + pkt(SASL_STEP, b"PLAIN", value=b"more") + noop())
    c.add("sasl/auth_without_key", pkt(SASL_AUTH, value=b"x") + noop())
    c.add("sasl/list_mechs_with_body", pkt(SASL_LIST, value=b"xy") + noop())
    c.add("truncated/header_then_rest", Send(pkt(GET, b"abc")[:10]), Send(pkt(GET, b"abc")[10:]))
    c.add("truncated/key_then_rest", Send(pkt(GET, b"abcdef")[:26]), Send(pkt(GET, b"abcdef")[26:]))
    c.add("truncated/peer_closes_mid_value",
          Send(pkt(GET, b"q") + setp(b"a", b"0123456789")[:30]))


def pipelines(c):
    many = b"".join(setp(b"k%d" % i, b"v%d" % i) for i in range(50))
    gets = b"".join(pkt(GETKQ, b"k%d" % i, opaque=i) for i in range(0, 60, 3))
    c.tcp_variants("pipeline/sets_then_getkq_noop", many + gets + noop(99), chunks=(1, 7))
    c.tcp_variants("pipeline/mixed_quiet",
            store(SETQ, b"a", b"1") + delta(INCRQ, b"a", 5) + pkt(APPENDQ, b"a", value=b"0")
            + pkt(GETQ, b"a") + pkt(DELETEQ, b"a") + pkt(GETQ, b"a") + noop()
            + pkt(GETK, b"a") + pkt(VERSION), chunks=(1, 7))


def udp(c):
    c.udp("get_miss_and_hit", pkt(GET, b"a"), setp(b"a", b"v"), pkt(GET, b"a") + pkt(GETK, b"a"))
    c.udp("getq_then_noop", setp(b"a", b"v") + pkt(GETQ, b"a") + pkt(GETQ, b"b") + noop())
    c.udp("version_noop", pkt(VERSION) + noop(5))
    c.udp("large_value_spans_datagrams", setp(b"big", b"x" * 5000), pkt(GET, b"big"))
    c.udp("stat_items_and_detail", setp(b"a", b"v"), pkt(STAT, b"detail dump") + pkt(STAT, b"bogus"))
    c.udp("errors_and_misses", pkt(DELETE, b"a") + delta(INCR, b"n", 1) + store(ADD, b"n", b"1")
          + store(ADD, b"n", b"2"))
    c.udp("quiet_sets", store(SETQ, b"a", b"1") + store(SETQ, b"b", b"2"),
          pkt(GETK, b"a") + pkt(GETK, b"b"))
    c.udp("bad_lengths", pkt(GET, b"a", extras=b"\0") + noop())
    c.udp("text_datagram_then_binary", b"get a\r\n", pkt(GET, b"a"))
    c.udp("getq_miss_alone", pkt(GETQ, b"a"), pkt(GETKQ, b"a") + pkt(GETQ, b"b"))
    c.udp("getq_misses_around_hits", setp(b"h", b"v"),
          pkt(GETQ, b"a") + pkt(GETQ, b"h") + pkt(GETQ, b"b") + pkt(GETKQ, b"h") + pkt(GETQ, b"c")
          + noop() + pkt(GETQ, b"d"))
    c.udp("bad_magic_drops_queued_hit", setp(b"a", b"v"), pkt(GET, b"a") + pkt(NOOP, magic=0x81),
          pkt(GET, b"zz") + pkt(NOOP, magic=0x81), pkt(GET, b"a"))
    c.udp("quit_ends_datagram", pkt(GET, b"a") + pkt(QUIT) + pkt(GET, b"a"),
          pkt(QUITQ) + noop())
    c.udp("unknown_and_sasl", pkt(0x50, b"k", value=b"xx") + noop() + pkt(SASL_LIST))


def build():
    c = BinCorpus()
    for part in (retrieval, storage, cas, arithmetic, deletion, server, malformed, pipelines, udp):
        part(c)
    return c.streams
