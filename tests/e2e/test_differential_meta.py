"""Differential test of the meta commands: every stream of corpus_meta.py goes
to a fresh memcached and a fresh xdpcached; the normalised replies must be
identical (diffrun.py says what is normalised, test_differential.py how a
stream is run)."""

import pytest

import corpus_meta
import diffrun

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
