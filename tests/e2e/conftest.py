"""Fixtures for the end-to-end tests.

  server            the shared xdpcached (default arguments), checked after
                    every test: a test fails if the server died or wrote a
                    sanitizer report meanwhile; it is restarted if it died
  server_factory    start(extra_args...) -> a fresh xdpcached for this test
  memcached_factory the same for Debian's memcached
  diff_runner       runs differential streams in parallel (test_differential)

Environment:
  XDPCACHED_BIN          the daemon under test (default build/xdpcached).
                         Every xdpcached must exit with status 0 on SIGTERM
                         and write no sanitizer report to stderr (that is
                         what catches ASan/UBSan/LSan findings of
                         build-asan/xdpcached). XDPCACHED_BIN=/usr/bin/memcached
                         runs every test against memcached itself: a check of
                         the tests.
  XDPCACHED_DIFF_JOBS    parallel differential streams (default 6)
  XDPCACHED_DIFF_QUIET_MS  how long a server must be quiet before a reply
                         counts as complete (default 80)
"""

import os
import pathlib
import shutil
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import diffrun  # noqa: E402
from servers import Server, ServerError, xdpcached_bin  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "protocol: TCP, UDP and differential tests (also run against the ASan build)")


def pytest_report_header(config):
    return [f"xdpcached under test: {xdpcached_bin()}"]


# Streams whose first run differed but whose slower second run matched.
_RETRIED = []
# More of them than this fails the run: the retry is there for a loaded
# machine that now and then stretches a pause past the quiet time, not for a
# reply that often differs.
DIFF_RETRY_BUDGET = int(os.environ.get("XDPCACHED_DIFF_RETRY_BUDGET", "10"))


def pytest_sessionfinish(session, exitstatus):
    if len(_RETRIED) > DIFF_RETRY_BUDGET and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _RETRIED:
        over = len(_RETRIED) > DIFF_RETRY_BUDGET
        terminalreporter.write_line(
            f"differential: {len(_RETRIED)} stream(s) matched only on the slower second run "
            f"(a loaded machine, or timing-dependent replies; budget {DIFF_RETRY_BUDGET}"
            f"{', exceeded: the run fails' if over else ''}): {', '.join(sorted(_RETRIED))}")


class _Shared:
    """The session's xdpcached, restarted when a test killed it."""

    def __init__(self):
        self.srv = None
        self.problems = []

    def get(self):
        if self.srv is None or not self.srv.alive():
            if self.srv is not None:
                self.problems += self.srv.stop()
            self.srv = Server("xdpcached").start()
        return self.srv

    def close(self):
        if self.srv is not None:
            self.problems += self.srv.stop()
            self.srv = None
        return self.problems


@pytest.fixture(scope="session")
def _shared_server():
    shared = _Shared()
    yield shared
    problems = shared.close()
    if problems:
        pytest.fail("shared xdpcached: " + "\n".join(problems), pytrace=False)


@pytest.fixture
def server(_shared_server):
    try:
        srv = _shared_server.get()
    except ServerError as e:
        pytest.fail(str(e), pytrace=False)
    srv.new_problems()
    yield srv
    problems = srv.new_problems()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _stop_all(started, stop):
    """stop(srv) for every server, even when one of them raises; returns
    the problems they reported (an exception is one)."""
    problems = []
    for srv in started:
        try:
            problems += stop(srv) or []
        except Exception as e:
            problems.append(f"stopping {srv}: {type(e).__name__}: {e}")
    return problems


def _factory(kind):
    started = []

    def start(*extra_args, udp=True, threads=2, unix=None):
        try:
            srv = Server(kind, extra_args, udp=udp, threads=threads, unix=unix).start()
        except ServerError as e:
            pytest.fail(str(e), pytrace=False)
        started.append(srv)
        return srv

    return start, started


@pytest.fixture
def server_factory():
    start, started = _factory("xdpcached")
    try:
        yield start
    finally:
        problems = _stop_all(started, Server.stop)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def memcached_factory():
    start, started = _factory("memcached")
    try:
        yield start
    finally:
        _stop_all(started, Server.kill)


# -- differential --------------------------------------------------------------

class DiffOutcome:
    def __init__(self, stream, ref=None, got=None, ref_problems=(), got_problems=(), error="", retried=False):
        self.stream = stream
        self.ref, self.got = ref, got
        self.ref_problems, self.got_problems = list(ref_problems), list(got_problems)
        self.error = error
        self.retried = retried


class DiffRunner:
    """Runs streams on `jobs` threads. The reference memcached is killed after
    its run; the xdpcached is stopped with SIGTERM on a separate pool of
    threads (a clean stop can take a second), and its problems (exit status,
    sanitizer report) are part of the stream's outcome."""

    def __init__(self, jobs, quiet):
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="diff")
        self.reaper = ThreadPoolExecutor(max_workers=64, thread_name_prefix="reap")
        self.quiet = quiet
        self.futures = {}
        self.lock = threading.Lock()

    def submit(self, streams):
        with self.lock:
            for s in streams:
                if s.id not in self.futures:
                    self.futures[s.id] = self.pool.submit(self._job, s)

    def outcome(self, stream):
        self.submit([stream])
        out, stops = self.futures[stream.id].result()
        for f in stops:
            out.got_problems += f.result()
        return out

    def check(self, stream):
        """Fails the calling test unless both servers answered the stream alike
        and xdpcached stopped cleanly."""
        out = self.outcome(stream)
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

    def _ref(self, stream, quiet, hint=None):
        srv = Server("memcached", stream.args).start()
        try:
            return diffrun.run(srv.port, stream, quiet, hint), srv.new_problems()
        finally:
            srv.kill()

    def _got(self, stream, quiet, hint, stops):
        srv = Server("xdpcached", stream.args).start()
        try:
            return diffrun.run(srv.port, stream, quiet, hint)
        finally:
            stops.append(self.reaper.submit(srv.stop))

    def _job(self, stream):
        stops = []
        try:
            ref, rp = self._ref(stream, self.quiet)
            got = self._got(stream, self.quiet, ref, stops)
            retried = False
            if not diffrun.same(stream, ref, got) or ref.error:
                # Once more, slower: a loaded machine can stretch a pause
                # between replies past the quiet time, memcached's as well as
                # ours, so each server now waits for as many bytes as the
                # other sent. A real difference stays.
                retried = True
                ref, rp = self._ref(stream, self.quiet * 4, got)
                got = self._got(stream, self.quiet * 4, ref, stops)
                if diffrun.same(stream, ref, got):
                    _RETRIED.append(stream.id)
            return DiffOutcome(stream, ref, got, rp, retried=retried), stops
        except Exception as e:      # reported by the test case
            return DiffOutcome(stream, error=f"{type(e).__name__}: {e}"), stops

    def close(self):
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.reaper.shutdown(wait=True)


@pytest.fixture(scope="session")
def diff_runner(request):
    jobs = int(os.environ.get("XDPCACHED_DIFF_JOBS", "6"))
    quiet = int(os.environ.get("XDPCACHED_DIFF_QUIET_MS", "80")) / 1000.0
    runner = DiffRunner(jobs, quiet)
    # Start every selected stream at once so they run in parallel.
    selected = []
    for item in request.session.items:
        cs = getattr(item, "callspec", None)
        if cs is not None and isinstance(cs.params.get("stream"), diffrun.Stream):
            selected.append(cs.params["stream"])
    runner.submit(selected)
    yield runner
    runner.close()


@pytest.fixture
def nobody_tmp():
    """A directory memcached can use after it switches to nobody (for -s
    and -Y): pytest's tmp_path sits under a 0700 directory."""
    path = tempfile.mkdtemp(prefix="xdpcached-nobody-", dir="/tmp")
    os.chmod(path, 0o1777)
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)
