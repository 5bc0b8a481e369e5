"""memccapable (Debian's libmemcached-tools): its ASCII protocol checks against
a fresh server. It flushes the server, so each run gets its own."""

import shutil
import subprocess

from helpers import Conn

MEMCCAPABLE = shutil.which("memccapable") or "/usr/bin/memccapable"


def run_memccapable(port):
    # -a: ASCII protocol only; -t: I/O timeout in seconds.
    proc = subprocess.run([MEMCCAPABLE, "-h", "127.0.0.1", "-p", str(port), "-a", "-t", "10"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def test_memccapable_ascii(server_factory):
    srv = server_factory()
    with Conn(srv.port) as c:
        version = c.cmd(b"version").decode("utf-8", "replace")
    rc, out = run_memccapable(srv.port)
    # memccapable reads the server's version and expects older servers'
    # behaviour (errors for "version foo bar", "quit noreply", ...) from a
    # version below 1.6: what `version` says matters.
    assert rc == 0, f"memccapable exited with {rc} (server says {version!r}):\n{out}"
    assert "All tests passed" in out and "[FAIL]" not in out and "[skip]" not in out, out


def test_memccapable_reference_memcached(memcached_factory):
    """What passing looks like: Debian's memcached passes every ASCII test."""
    srv = memcached_factory()
    rc, out = run_memccapable(srv.port)
    assert rc == 0, f"memccapable against memcached exited with {rc}:\n{out}"
    assert "All tests passed" in out and "[FAIL]" not in out and "[skip]" not in out, out
