"""Differential test of the binary protocol: every stream of corpus_bin.py
goes to a fresh memcached and a fresh xdpcached (same extra arguments); the
normalised replies must be identical (diffrun.py: CAS fields become <#N> by
first appearance, a VERSION reply's length and body <version>).

Streams run in parallel in the background (diff_runner); each stream is its
own test case, e.g. test_stream[bin/cas/set_match_and_mismatch].
"""

import struct

import pytest

import corpus_bin
from helpers import Conn

pytestmark = pytest.mark.protocol

STREAMS = corpus_bin.build()

# Streams of malformed requests: bad magic and lengths, oversized keys,
# unknown opcodes, SASL, truncated packets.
MALFORMED_PREFIXES = ("bin/bad/", "bin/unknown/", "bin/sasl/", "bin/truncated/")


def test_corpus_size():
    assert len(STREAMS) >= 60
    assert len({s.id for s in STREAMS}) == len(STREAMS)
    assert all(s.protocol == "binary" for s in STREAMS)
    assert sum(s.transport == "udp" for s in STREAMS) >= 5
    assert sum(any(step.chunk for step in s.steps) for s in STREAMS) >= 3
    assert sum(s.id.startswith(MALFORMED_PREFIXES) for s in STREAMS) >= 15


@pytest.mark.parametrize("stream", STREAMS, ids=[s.id for s in STREAMS])
def test_stream(stream, diff_runner):
    diff_runner.check(stream)


# Counters a binary workload moves, compared with memcached's after the same
# workload (the differential streams cannot see them: general stats differ).
# Not curr_items: memcached counts flushed items until it next touches them.
COUNTERS = ("cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "get_hits", "get_misses",
            "get_expired", "delete_misses", "delete_hits", "incr_misses", "incr_hits",
            "decr_misses", "decr_hits", "cas_misses", "cas_hits", "cas_badval", "touch_hits",
            "touch_misses", "store_too_large", "store_no_memory", "total_items")

END_OPAQUE = 0xfeedface


def counter_workload():
    b = corpus_bin
    return b"".join([
        b.setp(b"a", b"1"), b.setp(b"b", b"2"), b.store(b.SETQ, b"c", b"x"),
        b.store(b.ADD, b"a", b"3"), b.store(b.REPLACE, b"z", b"3"), b.store(b.ADDQ, b"n1", b"5"),
        b.pkt(b.APPEND, b"a", value=b"0"), b.pkt(b.PREPEND, b"zz", value=b"0"),
        b.setp(b"a", b"9", cas=12345), b.setp(b"missing", b"9", cas=12345),
        b.setp(b"e", b"v", exptime=1000000000), b.pkt(b.GET, b"e"),
        b.pkt(b.GET, b"a"), b.pkt(b.GET, b"x"), b.pkt(b.GETQ, b"x"), b.pkt(b.GETK, b"a"),
        b.pkt(b.GETKQ, b"y"), b.touchp(b.TOUCH, b"a", 0), b.touchp(b.TOUCH, b"x", 0),
        b.touchp(b.GAT, b"a", 0), b.touchp(b.GATQ, b"x", 0), b.touchp(b.GATK, b"b", 0),
        b.pkt(b.DELETE, b"b"), b.pkt(b.DELETE, b"b"), b.pkt(b.DELETEQ, b"c", cas=1),
        b.delta(b.INCR, b"n", 1), b.delta(b.INCR, b"n", 1, 5, 0), b.delta(b.INCR, b"n", 1),
        b.delta(b.DECR, b"n", 1), b.delta(b.DECRQ, b"m", 1), b.delta(b.INCR, b"c", 1),
        b.delta(b.INCR, b"n", 1, cas=77),
        b.setp(b"big", b"x" * (b.MAX_VALUE + 1)), b.store(b.ADD, b"big", b"x" * (b.MAX_VALUE + 1)),
        b.pkt(b.STAT, b"items"), b.pkt(b.FLUSHQ), b.pkt(b.GET, b"a"), b.pkt(b.FLUSH),
        b.noop(END_OPAQUE),
    ])


def run_counter_workload(port):
    with Conn(port) as c:
        c.send(counter_workload())
        while True:
            header = c.read_exact(24)
            body = c.read_exact(struct.unpack_from(">I", header, 8)[0])
            assert header[0] == 0x81, header + body
            if header[1] == corpus_bin.NOOP and struct.unpack_from(">I", header, 12)[0] == END_OPAQUE:
                break
    with Conn(port) as c:
        stats = c.stats()
    return {name: stats.get(name) for name in COUNTERS}


def test_counters_match_memcached(server_factory, memcached_factory):
    want = run_counter_workload(memcached_factory().port)
    got = run_counter_workload(server_factory().port)
    assert got == want
