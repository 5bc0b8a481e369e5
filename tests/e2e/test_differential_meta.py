"""Differential test of the meta commands: every stream of corpus_meta.py goes
to a fresh memcached and a fresh xdpcached; the normalised replies must be
identical (diffrun.py says what is normalised, test_differential.py how a
stream is run)."""

import pytest

import corpus_meta

pytestmark = pytest.mark.protocol

STREAMS = corpus_meta.build()


def test_corpus_size():
    assert len(STREAMS) >= 100
    assert len({s.id for s in STREAMS}) == len(STREAMS)
    assert sum(s.transport == "udp" for s in STREAMS) >= 8
    assert sum(s.id.startswith("bad/") for s in STREAMS) >= 25
    assert sum(any(step.chunk for step in s.steps) for s in STREAMS) >= 9


@pytest.mark.parametrize("stream", STREAMS, ids=[s.id for s in STREAMS])
def test_stream(stream, diff_runner):
    diff_runner.check(stream)
