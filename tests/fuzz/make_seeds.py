#!/usr/bin/python3
"""Writes the fuzz targets' seed corpus: tests/fuzz/corpus/{text,meta,bin,store,auth}/.

Every seed is a short request stream (under 1 KB) named after what it
exercises; together they cover every command, meta flag and binary opcode
the daemon serves, and the usual malformed cases. Run it after changing
this file; the seeds are committed so that they can be reviewed:

    /usr/bin/python3 tests/fuzz/make_seeds.py

The text and auth seeds are raw request bytes. The meta and binary seeds are in the
input forms that fuzz_meta.c and fuzz_bin.c turn into requests (described
at the top of each); meta_seed() and bin_seed() below write those forms.
The store seeds are operation records as tests/support/store_model.c reads
them; StoreSeed below writes them.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SEED = 1024


# ---- text: raw bytes -------------------------------------------------------

def text_seeds():
    s = {}
    s["set-get"] = b"set foo 5 0 3\r\nbar\r\nget foo\r\n"
    s["get-multi-miss"] = b"set a 0 0 1\r\n1\r\nget a b c a\r\n"
    s["gets-cas"] = b"set k 0 0 1\r\nx\r\ngets k\r\ncas k 0 0 1 1\r\ny\r\n"
    s["cas-noreply"] = b"cas k 1 0 1 999 noreply\r\nz\r\ncas nokey 0 0 1 1\r\nz\r\n"
    s["gat-gats"] = b"set k 0 0 1\r\nx\r\ngat 100 k\r\ngats -1 k missing\r\n"
    s["bget"] = b"set k 0 0 1\r\nx\r\nbget k\r\n"
    s["add-replace"] = (b"add k 0 0 1\r\na\r\nadd k 0 0 1\r\nb\r\n"
                        b"replace k 1 0 1\r\nc\r\nreplace none 0 0 1\r\nd\r\n")
    s["append-prepend"] = (b"set k 0 0 1\r\nm\r\nappend k 9 9 1\r\nz\r\n"
                           b"prepend k 0 0 1\r\na\r\nprepend none 0 0 1\r\nq\r\nget k\r\n")
    s["noreply-all"] = (b"set k 0 0 1 noreply\r\n1\r\nadd k 0 0 1 noreply\r\n2\r\n"
                        b"incr k 5 noreply\r\ndecr k 1 noreply\r\ntouch k 10 noreply\r\n"
                        b"delete k noreply\r\nflush_all noreply\r\nverbosity 1 noreply\r\n")
    s["incr-decr"] = (b"set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\n"
                      b"incr n 18446744073709551615\r\nincr none 1\r\n")
    s["incr-wrap-pad"] = (b"set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\n"
                          b"set m 0 0 3\r\n100\r\ndecr m 95\r\nget m\r\n")
    s["incr-bad"] = (b"set t 0 0 3\r\nabc\r\nincr t 1\r\nincr t -1\r\nincr t abc\r\n"
                     b"decr t 99999999999999999999\r\n")
    s["delete"] = b"set k 0 0 1\r\nx\r\ndelete k\r\ndelete k\r\ndelete k 0\r\ndelete k 5\r\n"
    s["touch"] = b"set k 0 0 1\r\nx\r\ntouch k 100\r\ntouch none 1\r\ntouch k abc\r\n"
    s["expiry"] = (b"set a 0 -1 1\r\nx\r\nset b 0 1 1\r\ny\r\nset c 0 4000000000 1\r\nz\r\n"
                   b"set d 0 2592001 1\r\nw\r\nget a b c d\r\n")
    s["flush-all"] = b"set k 0 0 1\r\nx\r\nflush_all\r\nget k\r\nflush_all 10\r\nflush_all -1\r\n"
    s["version-verbosity"] = b"version\r\nverbosity 1\r\nverbosity\r\nverbosity 0 0 0\r\n"
    s["quit"] = b"get a\r\nquit\r\nget b\r\n"
    s["shutdown"] = b"shutdown bad\r\nshutdown graceful\r\n"
    s["stats"] = b"stats\r\nstats settings\r\nstats items\r\nstats slabs\r\nstats sizes\r\n"
    s["stats-reset-bad"] = b"stats reset\r\nstats nonsense\r\nstats conns\r\nstats a b c\r\n"
    s["stats-detail"] = (b"stats detail on\r\nset p:k 0 0 1\r\nx\r\nget p:k q:z\r\n"
                         b"delete p:k\r\nstats detail dump\r\nstats detail off\r\nstats detail x\r\n")
    s["bare-newlines"] = b"set a 0 0 1\na\r\nget a\nget a\r\r\n\n\r\n"
    s["errors"] = b"\r\nfoo\r\nget\r\nset k\r\nset k 0 0\r\nGET a\r\n x\r\n"
    s["bad-storage"] = (b"set k abc 0 1\r\nx\r\nset k 0 0 -1\r\nx\r\nset k 0 0 abc\r\n"
                        b"set k 0 0 1\r\nxyz\r\nset k 4294967296 0 1\r\nx\r\n")
    s["key-too-long"] = b"get " + b"k" * 251 + b"\r\nset " + b"k" * 251 + b" 0 0 1\r\nx\r\n"
    s["too-many-tokens"] = b"get " + b" ".join(b"k%d" % i for i in range(30)) + b"\r\n"
    s["too-large-value"] = b"set big 0 0 40000\r\n" + b"v" * 600 + b"\r\nget big\r\n"
    s["unterminated-line"] = b"x" * 700 + b" y" * 60
    s["http"] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    s["spaces"] = b"  get   a  \r\nset  k  0  0  1 \r\nx\r\n"
    s["nul-bytes"] = b"get a\x00b\r\nset k\x00 0 0 1\r\nx\r\n"
    # The other protocols, reached from the raw stream as well.
    s["meta-mixed"] = (b"ms foo 2 T0 F3\r\nhi\r\nmg foo v k f t s c\r\nma n N0 J5\r\n"
                       b"md foo q\r\nmn\r\nme foo\r\nget foo\r\n")
    s["bin-get"] = bin_request(0x00, key=b"foo")
    s["bin-set-get"] = (bin_request(0x01, extras=struct.pack(">II", 5, 0), key=b"k", value=b"v")
                        + bin_request(0x0c, key=b"k") + bin_request(0x0a))
    return s


# ---- meta: records for fuzz_meta.c -----------------------------------------

def meta_seed(*records):
    """Records as fuzz_meta.c reads them: one per line, the first byte the
    command ('g' 's' 'd' 'a' 'n' 'e', '#' raw), "|value" after an ms."""
    return b"\n".join(records)


def meta_seeds():
    s = {}
    get_flags = [b"v", b"k", b"f", b"s", b"t", b"c", b"h", b"l", b"u", b"q", b"O123",
                 b"N30", b"R30", b"T30", b"E77", b"P", b"L"]
    for flag in get_flags:
        name = "mg-" + flag[:1].decode() + ("-upper" if flag[:1].isupper() else "")
        s[name] = meta_seed(b"sfoo T100 F7|hello", b"gfoo " + flag, b"gmiss " + flag, b"n")
    s["mg-all-flags"] = meta_seed(b"sfoo|abc", b"gfoo v k f s t c h l O9", b"gfoo")
    s["mg-base64"] = meta_seed(b"sZm9v b|x", b"gZm9v b v k", b"eZm9v b", b"g!!! b v")
    s["mg-vivify-recache"] = meta_seed(b"gnew N30 v c t", b"gnew N30 v", b"gnew R60 v t",
                                       b"gnew v")
    s["mg-quiet-pipeline"] = meta_seed(b"ga q v", b"gb q k", b"sa|1", b"ga q v", b"n")
    s["ms-basic"] = meta_seed(b"sfoo|bar", b"sfoo T0 F5 c k O1|baz", b"gfoo v f c")
    for mode in b"SEAPRseapr":
        s["ms-mode-%c" % mode] = meta_seed(b"sfoo|base", b"sfoo M%c|more" % mode,
                                           b"snew M%c|x" % mode, b"gfoo v", b"gnew v")
    s["ms-cas"] = meta_seed(b"sfoo c|a", b"sfoo C1|b", b"sfoo C0 c|c", b"sfoo E999|d",
                            b"gfoo c v")
    s["ms-invalidate"] = meta_seed(b"sfoo|a", b"dfoo I T30", b"gfoo v c",
                                   b"sfoo I C1|b", b"gfoo v")
    s["ms-quiet"] = meta_seed(b"sfoo q|a", b"sfoo q MA|b", b"snone q MR|c", b"n")
    s["ms-base64"] = meta_seed(b"sZm9vYmFy b k|val", b"gZm9vYmFy b k v")
    s["ms-raw-length"] = meta_seed(b"sfoo 5 T0", b"#hello", b"sfoo 3", b"#toolong",
                                   b"sfoo abc", b"#x", b"sfoo -1", b"sfoo")
    s["ms-too-large"] = meta_seed(b"sbig 40000", b"#" + b"v" * 200, b"gbig v")
    s["ms-bad-flags"] = meta_seed(b"sfoo Fx|a", b"sfoo Tabc|a", b"sfoo MZ|a",
                                  b"sfoo C|a", b"sfoo !|a")
    s["md"] = meta_seed(b"sfoo|a", b"dfoo", b"dfoo", b"dfoo q", b"dfoo k O5", b"n")
    s["md-cas-ttl"] = meta_seed(b"sfoo|a", b"dfoo C1", b"dfoo C0", b"dfoo I T5",
                                b"dfoo x", b"dZm9v b")
    s["ma"] = meta_seed(b"sn|10", b"an", b"an v", b"an D5 v t c", b"an MD D3 v", b"gn v")
    for mode in b"+-IDid":
        s["ma-mode-%c" % mode] = meta_seed(b"sn|100", b"an M%c D7 v" % mode)
    s["ma-vivify"] = meta_seed(b"anew N0 J42 v", b"anew N0 J42 v", b"amiss v",
                               b"amiss q", b"n")
    s["ma-bad"] = meta_seed(b"sn|abc", b"an v", b"an Dabc", b"an J-1 N0",
                            b"an D18446744073709551616", b"an MX")
    s["ma-cas-ttl"] = meta_seed(b"sn|1", b"an C1 v", b"an T30 t v", b"an k O2 q", b"n")
    s["mn-me"] = meta_seed(b"n", b"efoo", b"sfoo T10|x", b"efoo", b"e", b"n")
    s["malformed"] = meta_seed(b"g", b"s", b"d", b"a", b"g" + b"k" * 251 + b" v",
                               b"gfoo " + b" ".join([b"v"] * 30), b"#mz foo", b"#mg",
                               b"#mgfoo", b"#ms foo 2", b"#abc")
    s["text-mixed"] = meta_seed(b"#set foo 0 0 1", b"#x", b"gfoo v", b"#get foo", b"n")
    return s


# ---- binary: records for fuzz_bin.c ----------------------------------------

# Opcodes (memcached's protocol_binary.h numbering).
GET, SET, ADD, REPLACE, DELETE, INCR, DECR, QUIT, FLUSH = range(0x00, 0x09)
GETQ, NOOP, VERSION, GETK, GETKQ, APPEND, PREPEND, STAT = range(0x09, 0x11)
SETQ, ADDQ, REPLACEQ, DELETEQ, INCRQ, DECRQ, QUITQ, FLUSHQ, APPENDQ, PREPENDQ = \
    range(0x11, 0x1b)
VERBOSITY, TOUCH, GAT, GATQ = range(0x1b, 0x1f)
SASL_LIST, SASL_AUTH, SASL_STEP, GATK, GATKQ = range(0x20, 0x25)

SHAPE_EXTLEN, SHAPE_DELTA, SHAPE_BODYLEN, SHAPE_MAGIC = 0x01, 0x02, 0x04, 0x08
SHAPE_IDS, SHAPE_CAS, SHAPE_KEYLEN_HIGH = 0x10, 0x20, 0x40
USUAL_EXTLEN = {SET: 8, ADD: 8, REPLACE: 8, SETQ: 8, ADDQ: 8, REPLACEQ: 8,
                INCR: 20, DECR: 20, INCRQ: 20, DECRQ: 20,
                TOUCH: 4, GAT: 4, GATQ: 4, GATK: 4, GATKQ: 4}


def bin_record(opcode, extras=b"", key=b"", value=b"", extlen=None, delta=None,
               bodylen=None, magic=None, cas=None, keylen=None):
    """One record as fuzz_bin.c reads it. Fields left None are the
    harness's: the opcode's usual extras length, the right body length,
    magic 0x80, no CAS; keylen (over 255) and the others set them."""
    shape, optional = 0, b""
    if extlen is not None or len(extras) != USUAL_EXTLEN.get(opcode, 0):
        shape |= SHAPE_EXTLEN
        optional += bytes([len(extras) if extlen is None else extlen])
    if delta is not None:
        shape |= SHAPE_DELTA
        optional += struct.pack(">b", delta)
    if bodylen is not None:
        shape |= SHAPE_BODYLEN
        optional += struct.pack(">I", bodylen)
    if magic is not None:
        shape |= SHAPE_MAGIC
        optional += bytes([magic])
    if cas is not None:
        shape |= SHAPE_CAS
        optional += struct.pack(">Q", cas)
    nkey = len(key) if keylen is None else keylen
    if nkey > 255:
        shape |= SHAPE_KEYLEN_HIGH
        optional += bytes([nkey >> 8])
    assert len(value) < 256
    return (bytes([opcode, shape, nkey & 0xff, len(value)]) + optional
            + extras + key + value)


def bin_request(opcode, extras=b"", key=b"", value=b""):
    """A well-formed binary request as sent on the wire (for the text seeds)."""
    body = extras + key + value
    return struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), len(extras), 0, 0,
                       len(body), 0, 0) + body


def store_extras(flags=0, exptime=0):
    return struct.pack(">II", flags, exptime)


def delta_extras(delta=1, initial=0, exptime=0):
    return struct.pack(">QQI", delta, initial, exptime)


def bin_seeds():
    s = {}
    put = bin_record(SET, store_extras(3), b"foo", b"bar")
    for name, op in [("get", GET), ("getq", GETQ), ("getk", GETK), ("getkq", GETKQ)]:
        s["bin-" + name] = (put + bin_record(op, key=b"foo") + bin_record(op, key=b"miss")
                            + bin_record(NOOP))
    for name, op in [("set", SET), ("add", ADD), ("replace", REPLACE), ("setq", SETQ),
                     ("addq", ADDQ), ("replaceq", REPLACEQ)]:
        s["bin-" + name] = (bin_record(op, store_extras(1, 0), b"k", b"v1")
                            + bin_record(op, store_extras(2, 100), b"k", b"v2", cas=1)
                            + bin_record(GETK, key=b"k") + bin_record(NOOP))
    s["bin-set-cas"] = (put + bin_record(GETK, key=b"foo")
                        + bin_record(SET, store_extras(), b"foo", b"x", cas=12345)
                        + bin_record(SET, store_extras(), b"foo", b"y", cas=1))
    for name, op in [("delete", DELETE), ("deleteq", DELETEQ)]:
        s["bin-" + name] = (put + bin_record(op, key=b"foo") + bin_record(op, key=b"foo")
                            + bin_record(op, key=b"foo", cas=7) + bin_record(NOOP))
    for name, op in [("incr", INCR), ("decr", DECR), ("incrq", INCRQ), ("decrq", DECRQ)]:
        s["bin-" + name] = (bin_record(op, delta_extras(5, 10), b"n")
                            + bin_record(op, delta_extras(5, 10), b"n")
                            + bin_record(op, delta_extras(1, 0, 0xffffffff), b"absent")
                            + bin_record(op, delta_extras(2**64 - 1), b"n")
                            + bin_record(GET, key=b"n") + bin_record(NOOP))
    s["bin-incr-non-numeric"] = put + bin_record(INCR, delta_extras(), b"foo")
    for name, op in [("append", APPEND), ("prepend", PREPEND), ("appendq", APPENDQ),
                     ("prependq", PREPENDQ)]:
        s["bin-" + name] = (put + bin_record(op, key=b"foo", value=b"++")
                            + bin_record(op, key=b"none", value=b"--")
                            + bin_record(GET, key=b"foo"))
    s["bin-quit"] = bin_record(NOOP) + bin_record(QUIT) + bin_record(NOOP)
    s["bin-quitq"] = bin_record(QUITQ) + bin_record(NOOP)
    s["bin-flush"] = (put + bin_record(FLUSH) + bin_record(GET, key=b"foo")
                      + bin_record(FLUSH, struct.pack(">I", 10)))
    s["bin-flushq"] = put + bin_record(FLUSHQ) + bin_record(FLUSHQ, struct.pack(">I", 0))
    s["bin-noop-version"] = bin_record(NOOP) + bin_record(VERSION) + bin_record(NOOP)
    for group in [b"", b"settings", b"items", b"slabs", b"sizes", b"detail dump",
                  b"reset", b"nonsense"]:
        name = "bin-stat-" + (group.decode().replace(" ", "-") or "all")
        s[name] = bin_record(STAT, key=group)
    for name, op in [("touch", TOUCH), ("gat", GAT), ("gatq", GATQ), ("gatk", GATK),
                     ("gatkq", GATKQ)]:
        s["bin-" + name] = (put + bin_record(op, struct.pack(">I", 100), b"foo")
                            + bin_record(op, struct.pack(">I", 1), b"miss")
                            + bin_record(NOOP))
    s["bin-sasl"] = (bin_record(SASL_LIST) + bin_record(SASL_AUTH, key=b"PLAIN",
                                                        value=b"\x00user\x00pass")
                     + bin_record(SASL_STEP, key=b"PLAIN", value=b"x"))
    s["bin-verbosity"] = bin_record(VERBOSITY, struct.pack(">I", 1))
    s["bin-unknown-opcodes"] = (bin_record(0x30, key=b"k") + bin_record(0x40)
                                + bin_record(0xff, value=b"body") + bin_record(NOOP))
    # Malformed framing and lengths.
    s["bin-bad-magic"] = bin_record(NOOP, magic=0x81) + bin_record(NOOP)
    s["bin-text-magic"] = bin_record(GET, key=b"et foo\r\n", magic=ord("g"))
    s["bin-body-short"] = bin_record(GET, key=b"foo", delta=-1) + bin_record(NOOP)
    s["bin-body-long"] = bin_record(SET, store_extras(), b"k", b"v", delta=5)
    s["bin-key-over-body"] = bin_record(GET, key=b"foo", bodylen=1) + bin_record(NOOP)
    s["bin-key-too-long"] = bin_record(GET, key=b"k" * 251) + bin_record(NOOP)
    s["bin-key-over-255"] = bin_record(GET, keylen=300)
    s["bin-bad-extlen"] = (bin_record(SET, b"\x00" * 4, b"k", b"v")
                           + bin_record(GET, b"\x00" * 8, b"k")
                           + bin_record(INCR, b"\x00" * 8, b"n")
                           + bin_record(NOOP, b"\x00\x00") + bin_record(VERSION, key=b"k"))
    s["bin-missing-key"] = (bin_record(GET) + bin_record(SET, store_extras())
                            + bin_record(DELETE) + bin_record(APPEND, value=b"x"))
    s["bin-truncated"] = bin_record(SET, store_extras(), b"k", b"value", bodylen=4000)
    s["bin-huge-body"] = bin_record(SET, store_extras(), b"k", b"v", bodylen=0x7fffffff)
    s["bin-too-large-value"] = bin_record(SET, store_extras(), b"big", b"v" * 200,
                                          bodylen=40000)
    s["bin-ids"] = bytes([NOOP, SHAPE_IDS, 0, 0, 1, 0, 5, 0xde, 0xad, 0xbe, 0xef])
    return s


# ---- store: operation records (tests/support/store_model.c) ---------------

# Operations in store_model.c's order, with its weights out of 64: an
# operation's opcode byte is the sum of the weights before it.
STORE_OPS = [("get", 8), ("gat", 3), ("set", 10), ("add", 4), ("replace", 4),
             ("append", 5), ("prepend", 4), ("cas", 6), ("incr", 5), ("decr", 4),
             ("delete", 3), ("touch", 3), ("flush", 1), ("advance", 2), ("tick", 2)]
NEVER, EXPIRED, ONE_STEP, TWO_STEPS = 0, 5, 6, 7        # read_exptime()
OWN_CAS, OFF_CAS, ZERO_CAS = 0, 1, 2                    # read_cas()
LONG_KEY = 63                                           # STORE_KEY_MAX bytes


def store_opcode(name):
    code = 0
    for op, weight in STORE_OPS:
        if op == name:
            return code
        code += weight
    raise KeyError(name)


def store_key(index):
    """The key byte for key index (0-63): read_key() maps bytes below 192 to
    the 8 hot keys, the others to any of the 64."""
    return index if index < 8 else 192 + index


def store_number(v):
    """A value that is this decimal number."""
    n = max(1, (v.bit_length() + 7) // 8)
    return bytes([4 * n]) + v.to_bytes(n, "little")


def store_text(n, start=0):
    """A value of n (< 256) digits and letters, from alphabet position start."""
    return bytes([2 + 4 * start, n])


def store_long(eighths, extra=0):
    """A value of eighths * 8 + extra bytes: up to 2047, past the item limit."""
    return bytes([1 + 4 * extra, eighths])


class StoreSeed:
    """Builds one input: the config byte, then operation records."""

    def __init__(self, cas=True, hashpower=0):
        self.data = bytearray([int(cas) | hashpower << 1])

    def op(self, name, *fields):
        self.data.append(store_opcode(name))
        for f in fields:
            self.data += f if isinstance(f, bytes) else bytes([f])
        return self

    def key_op(self, name, key, *fields):
        """An operation on key index `key` (get, gat, delete, touch, ...)."""
        return self.op(name, store_key(key), *fields)

    def put(self, name, key, value, flags=0, exptime=NEVER, cas=None):
        """set/add/replace (cas: cas too); flags is read_flags()'s choice."""
        fields = [flags, exptime] + ([cas] if name == "cas" else []) + [value]
        return self.key_op(name, key, *fields)

    def concat(self, name, key, value, flags=0, cas=ZERO_CAS):
        return self.key_op(name, key, flags, cas, value)

    def delta(self, name, key, by):
        n = (by.bit_length() + 7) // 8
        return self.key_op(name, key, n, by.to_bytes(n, "little"))


def store_seeds():
    s = {}
    s["set-get"] = StoreSeed().put("set", 0, store_text(5)).key_op("get", 0).key_op("get", 1).data
    s["add-replace"] = (StoreSeed().put("add", 1, store_text(3)).put("add", 1, store_text(4))
                        .put("replace", 1, store_text(2), flags=2).put("replace", 2, store_text(1))
                        .key_op("get", 1).data)
    s["append-prepend"] = (StoreSeed().put("set", 3, store_text(2), flags=1)
                           .concat("append", 3, store_text(3, 4), flags=2)
                           .concat("prepend", 3, store_text(1, 7), cas=OWN_CAS)
                           .concat("append", 3, store_text(1), cas=OFF_CAS)
                           .concat("append", 4, store_text(1)).key_op("get", 3).data)
    s["cas"] = (StoreSeed().put("set", 5, store_text(2)).put("cas", 5, store_text(3), cas=OWN_CAS)
                .put("cas", 5, store_text(3), cas=OFF_CAS).put("cas", 5, store_text(3), cas=ZERO_CAS)
                .put("cas", 6, store_text(3), cas=OWN_CAS).key_op("get", 5).data)
    s["cas-off"] = (StoreSeed(cas=False).put("set", 5, store_text(2))
                    .put("cas", 5, store_text(3), cas=OWN_CAS)
                    .concat("append", 5, store_text(1), cas=OFF_CAS).delta("incr", 5, 1)
                    .key_op("get", 5).data)
    s["incr-decr"] = (StoreSeed().put("set", 0, store_number(10)).delta("incr", 0, 5)
                      .delta("decr", 0, 100).delta("incr", 0, 2 ** 64 - 1).delta("incr", 0, 1)
                      .delta("decr", 1, 1).put("set", 2, store_text(3, 10)).delta("incr", 2, 1)
                      .key_op("get", 0).data)
    s["incr-grow-and-pad"] = (StoreSeed().put("set", 0, store_number(99)).delta("incr", 0, 1)
                              .delta("decr", 0, 95).concat("append", 0, store_number(7))
                              .delta("incr", 0, 2 ** 64 - 1).put("set", 1, store_number(2 ** 64 - 1))
                              .delta("incr", 1, 2).key_op("get", 0).key_op("get", 1).data)
    s["expiry"] = (StoreSeed().put("set", 0, store_text(1), exptime=EXPIRED).key_op("get", 0)
                   .put("set", 1, store_text(1), exptime=ONE_STEP)
                   .put("set", 2, store_text(1), exptime=TWO_STEPS).op("advance").key_op("get", 1)
                   .key_op("get", 2).key_op("touch", 2, TWO_STEPS).key_op("gat", 2, ONE_STEP)
                   .op("advance").op("tick").key_op("gat", 2, NEVER).data)
    s["flush"] = (StoreSeed().put("set", 0, store_text(1)).op("flush", 0).key_op("get", 0)
                  .put("set", 1, store_text(1)).op("flush", 2).op("flush", 1)
                  .put("set", 2, store_text(1)).op("advance").key_op("get", 1).op("tick")
                  .put("set", 3, store_text(1)).key_op("get", 3).data)
    s["too-large"] = (StoreSeed().put("set", 0, store_long(255, 7))
                      .put("set", 0, store_long(248)).concat("append", 0, store_long(10))
                      .put("set", LONG_KEY, store_long(200), flags=2).key_op("get", LONG_KEY)
                      .key_op("delete", LONG_KEY).key_op("delete", LONG_KEY).data)
    growth = StoreSeed(hashpower=0)
    for key in range(64):
        growth.put("set", key, store_text(1, key % 12))
    s["growth"] = growth.op("tick").key_op("delete", 7).op("tick").data
    return s


# ---- auth: raw bytes of an unauthenticated connection (-Y) ----------------

def auth_seeds():
    s = {}
    s["login"] = b"set auth 0 0 12\r\nalice secret\r\nget a\r\n"
    s["refused-then-login"] = b"get a\r\nmn\r\n\r\nset x 1 2 7 noreply\r\nbob pw2\r\n"
    s["wrong-then-right"] = b"set a 0 0 9\r\nbob wrong\r\nset a 0 0 7\r\nbob pw2\r\n"
    s["bad-format"] = b"set a 0 0 5\r\nalice\r\nset a 0 0 0\r\n\r\nset a 0 0 7\r\nbob\tpw2\r\n"
    s["bad-termination"] = b"set a 0 0 7\r\nbob pw2XYget a\n"
    s["bad-lines"] = b"set\r\nset a 0 0\r\nset a 0 0 -1\r\nset a 0 0 99999\r\ncas a 0 0 1 1\r\n"
    s["bare-newlines"] = b"set auth 0 0 7\nbob pw2\r\n"
    s["binary-bytes"] = bytes([0x80, 0x0b, 0, 0]) + bytes(20) + b"\r\n"
    return s


def write_corpus(target, seeds):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    for old in os.listdir(directory):
        os.remove(os.path.join(directory, old))
    for name, data in sorted(seeds.items()):
        if len(data) >= MAX_SEED:
            sys.exit(f"make_seeds: {target}/{name} is {len(data)} bytes (limit {MAX_SEED})")
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    print(f"{directory}: {len(seeds)} seeds")


def main():
    write_corpus("text", text_seeds())
    write_corpus("meta", meta_seeds())
    write_corpus("bin", bin_seeds())
    write_corpus("store", store_seeds())
    write_corpus("auth", auth_seeds())


if __name__ == "__main__":
    main()
