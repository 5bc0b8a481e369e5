"""Differential test: every stream of corpus.py goes to a fresh memcached and a
fresh xdpcached (same extra arguments); the normalised replies must be
identical (see diffrun.py for what is normalised and how replies are cut).

Streams run in parallel in the background (diff_runner); each stream is its
own test case, e.g. test_stream[incr/wrap_2_64].
"""

import pytest

import corpus
import diffrun

pytestmark = pytest.mark.protocol

STREAMS = corpus.build()


def test_corpus_size():
    assert len(STREAMS) >= 200
    assert len({s.id for s in STREAMS}) == len(STREAMS)
    assert sum(s.transport == "udp" for s in STREAMS) >= 15


@pytest.mark.parametrize("stream", STREAMS, ids=[s.id for s in STREAMS])
def test_stream(stream, diff_runner):
    out = diff_runner.outcome(stream)
    if out.error:
        pytest.fail(f"{stream.id}: harness error: {out.error}", pytrace=False)
    if out.ref.error or out.ref_problems:
        pytest.fail(f"{stream.id}: the reference memcached run went wrong: {out.ref.error} "
                    f"{out.ref_problems}", pytrace=False)
    msgs = []
    if not diffrun.same(stream, out.ref, out.got):
        msgs.append(diffrun.describe(stream, out.ref, out.got))
    if out.got_problems:
        msgs.append("xdpcached: " + "\n".join(out.got_problems))
    if msgs:
        pytest.fail("\n".join(msgs), pytrace=False)
    if out.retried:
        print(f"{stream.id}: passed only on the slower second run")
