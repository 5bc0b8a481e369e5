"""Differential test: every stream of corpus.py goes to a fresh memcached and a
fresh xdpcached (same extra arguments); the normalised replies must be
identical (see diffrun.py for what is normalised and how replies are cut).

Streams run in parallel in the background (diff_runner); each stream is its
own test case, e.g. test_stream[incr/wrap_2_64].
"""

import pytest

import corpus

pytestmark = pytest.mark.protocol

STREAMS = corpus.build()


def test_corpus_size():
    assert len(STREAMS) >= 200
    assert len({s.id for s in STREAMS}) == len(STREAMS)
    assert sum(s.transport == "udp" for s in STREAMS) >= 15


@pytest.mark.parametrize("stream", STREAMS, ids=[s.id for s in STREAMS])
def test_stream(stream, diff_runner):
    diff_runner.check(stream)
