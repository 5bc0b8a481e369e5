"""memccapable (Debian's libmemcached-tools): its ASCII and binary protocol
checks against a fresh server. It flushes the server, so each run gets its
own."""

import shutil
import subprocess

import pytest

from helpers import Conn

MEMCCAPABLE = shutil.which("memccapable") or "/usr/bin/memccapable"

# -a: ASCII protocol only; -b: binary protocol only.
PROTOCOLS = {"ascii": "-a", "binary": "-b"}


def run_memccapable(port, protocol_flag):
    # -t: I/O timeout in seconds.
    proc = subprocess.run([MEMCCAPABLE, "-h", "127.0.0.1", "-p", str(port), protocol_flag,
                           "-t", "10"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def assert_all_passed(rc, out, who):
    assert rc == 0, f"memccapable against {who} exited with {rc}:\n{out}"
    assert "All tests passed" in out and "[FAIL]" not in out and "[skip]" not in out, out


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_memccapable(server_factory, protocol):
    srv = server_factory()
    with Conn(srv.port) as c:
        version = c.cmd(b"version").decode("utf-8", "replace")
    rc, out = run_memccapable(srv.port, PROTOCOLS[protocol])
    # memccapable reads the server's version and expects older servers'
    # behaviour (errors for "version foo bar", "quit noreply", ...) from a
    # version below 1.6: what `version` says matters.
    assert_all_passed(rc, out, f"xdpcached (which says {version!r})")
    # Every binary check ran: a server that answered none would pass nothing.
    if protocol == "binary":
        assert out.count("[pass]") >= 27 and "binary stat" in out, out


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_memccapable_reference_memcached(memcached_factory, protocol):
    """What passing looks like: Debian's memcached passes every test."""
    srv = memcached_factory()
    rc, out = run_memccapable(srv.port, PROTOCOLS[protocol])
    assert_all_passed(rc, out, "memcached")
