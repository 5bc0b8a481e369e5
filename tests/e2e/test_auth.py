"""-Y FILE, memcached's ASCII authentication, against Debian's memcached
1.6.18 started with the same file: the same reply to each step of a
conversation, the same refusals at start, SIGHUP reading the file again,
and the auth counters."""

import os
import signal
import socket
import subprocess
import time

import pytest

from helpers import HOST, Conn
from servers import MEMCACHED_BIN, xdpcached_bin

pytestmark = pytest.mark.protocol

USERS = "alice:secret\nbob:pw2\n"


@pytest.fixture
def auth_file(nobody_tmp):
    """Readable by nobody, whom memcached runs as when it reads it."""
    path = nobody_tmp / "users"
    path.write_text(USERS)
    os.chmod(path, 0o644)
    return path


def conversation(port, steps, quiet=0.15):
    """Sends each step on one connection and collects what comes back until
    nothing more does for `quiet` seconds. memcached answers only the first
    line of what an unauthenticated client sends at once (docs/differences.md),
    so every step here is one line or one data block."""
    replies = []
    with socket.create_connection((HOST, port), timeout=5) as s:
        for step in steps:
            s.sendall(step)
            s.settimeout(quiet)
            got = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        got += b"<closed>"
                        break
                    got += chunk
            except socket.timeout:
                pass
            replies.append(got)
            if got.endswith(b"<closed>"):
                break
    return replies


def auth_set(data, line=None):
    return [line or b"set auth 0 0 %d\r\n" % len(data), data + b"\r\n"]


CONVERSATIONS = {
    "refused_before": [b"get a\r\n", b"version\r\n", b"quit\r\n", b"mn\r\n", b"\r\n",
                       b"stats\r\n", b"flush_all\r\n"],
    "login_then_serve": auth_set(b"alice secret") + [b"set k 0 0 1\r\n", b"v\r\n",
                                                     b"get k\r\n", b"set auth 0 0 2\r\n",
                                                     b"ok\r\n", b"get auth\r\n"],
    "wrong_password": auth_set(b"alice wrong") + [b"get a\r\n"],
    "prefix_of_password": auth_set(b"alice secre") + [b"get a\r\n"],
    "unknown_user": auth_set(b"mallory secret") + [b"get a\r\n"],
    "one_word": auth_set(b"alice") + [b"get a\r\n"],
    "empty_block": auth_set(b"") + [b"get a\r\n"],
    "extra_words_ignored": auth_set(b"bob pw2 and more") + [b"get a\r\n"],
    "spaces_around": auth_set(b"  bob   pw2 ") + [b"get a\r\n"],
    "tab_is_no_separator": auth_set(b"bob\tpw2") + [b"get a\r\n"],
    "bad_termination": [b"set auth 0 0 7\r\n", b"bob pw2XY", b"get a\r\n"],
    "any_key_and_noreply": auth_set(b"bob pw2", b"set whatever 5 0 7 noreply\r\n") +
                           [b"get a\r\n"],
    "too_few_words": [b"set auth 0 0\r\n", b"get a\r\n"],
    "length_not_a_number": [b"set auth 0 0 -1\r\n", b"set auth 0 0 x\r\n", b"get a\r\n"],
    "other_storage_verbs": [b"add auth 0 0 7\r\n", b"cas auth 0 0 7 1\r\n",
                            b"SET auth 0 0 7\r\n", b"get a\r\n"],
    "retry_after_failure": auth_set(b"bob nope") + auth_set(b"bob pw2") + [b"get a\r\n"],
    "bare_newlines": [b"get a\n", b"set auth 0 0 7\n", b"bob pw2\r\n", b"get a\n"],
    "stats_after_login": auth_set(b"alice secret") + [b"stats settings\r\n"],
}


def _masked(replies, port):
    """stats settings differ in their own ways (test_cmdline); here only
    the gate matters, so a STAT reply is cut to its auth lines."""
    out = []
    for r in replies:
        if r.startswith(b"STAT "):
            r = b"".join(line + b"\r\n" for line in r.split(b"\r\n")
                         if line.startswith(b"STAT auth_") or line == b"END")
        out.append(r.replace(str(port).encode(), b"PORT"))
    return out


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_gate_answers_as_memcached(name, auth_file, server_factory, memcached_factory):
    steps = CONVERSATIONS[name]
    ref = memcached_factory("-Y", str(auth_file), udp=False)
    got = server_factory("-Y", str(auth_file), udp=False)
    assert _masked(conversation(got.port, steps), got.port) == \
        _masked(conversation(ref.port, steps), ref.port)


def test_pipelined_lines_each_get_a_reply(auth_file, server_factory):
    """memcached drops all but the first line an unauthenticated client
    sends at once; every line gets its reply here."""
    srv = server_factory("-Y", str(auth_file), udp=False)
    with Conn(srv.port) as c:
        c.send(b"get a\r\nget b\r\nset auth 0 0 7\r\nbob pw2\r\nget a\r\n")
        assert c.readline() == b"CLIENT_ERROR unauthenticated"
        assert c.readline() == b"CLIENT_ERROR unauthenticated"
        assert c.readline() == b"STORED"
        assert c.readline() == b"END"


def test_a_block_longer_than_the_item_limit_is_refused_on_its_line(auth_file, server_factory):
    """memcached would wait for (and buffer) the whole block; a stranger must
    not make the server hold memory, so its line is refused at once."""
    srv = server_factory("-Y", str(auth_file), "-I", "1k", udp=False)
    with Conn(srv.port) as c:
        c.send(b"set auth 0 0 1025\r\n")
        assert c.readline() == b"CLIENT_ERROR unauthenticated"
        c.send(b"set auth 0 0 1024\r\n" + b"x" * 1024 + b"\r\n")
        assert c.readline() == b"CLIENT_ERROR bad authentication token format"


def test_a_long_line_without_newline_closes(auth_file, server_factory):
    srv = server_factory("-Y", str(auth_file), udp=False)
    with Conn(srv.port) as c:
        c.send(b"x" * 4096)
        assert c.is_closed()


def test_counters(auth_file, server_factory, memcached_factory):
    for factory in (memcached_factory, server_factory):
        srv = factory("-Y", str(auth_file), udp=False)
        conversation(srv.port, auth_set(b"bob nope") + auth_set(b"bob"))
        with Conn(srv.port) as c:
            c.send(b"set auth 0 0 7\r\nbob pw2\r\n")
            assert c.readline() == b"STORED"
            st = c.stats()
        assert (st["auth_cmds"], st["auth_errors"]) == ("2", "1"), factory


def _start_refused(binary, args):
    argv = [binary, "-p", "0", "-U", "0"] + args
    if binary == MEMCACHED_BIN:
        argv += ["-u", "nobody"]
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=10)


@pytest.mark.parametrize("extra", [["-U", "11299"], ["-B", "binary"], ["-B", "auto"],
                                   ["missing"], ["malformed"]])
def test_refusals_at_start_match_memcached(extra, auth_file, nobody_tmp):
    if extra == ["missing"]:
        args = ["-Y", str(nobody_tmp / "none")]
    elif extra == ["malformed"]:
        bad = nobody_tmp / "bad"
        bad.write_text("alice:secret\nno colon here\n")
        os.chmod(bad, 0o644)
        args = ["-Y", str(bad)]
    else:
        args = ["-Y", str(auth_file)] + extra
    ref = _start_refused(MEMCACHED_BIN, args)
    got = _start_refused(xdpcached_bin(), args)
    assert got.returncode == ref.returncode != 0, (ref.stderr, got.stderr)
    assert got.stderr.count("\n") == 1, got.stderr
    if extra == ["malformed"]:
        assert "malformed entry at line 2" in got.stderr


def test_sighup_reads_the_file_again(auth_file, server_factory, memcached_factory):
    for factory in (memcached_factory, server_factory):
        auth_file.write_text(USERS)
        srv = factory("-Y", str(auth_file), udp=False)
        auth_file.write_text("carol:new\n")
        os.kill(srv.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while conversation(srv.port, auth_set(b"carol new"))[1] != b"STORED\r\n":
            assert time.monotonic() < deadline, f"{factory}: the new file was not read"
            time.sleep(0.05)
        assert conversation(srv.port, auth_set(b"alice secret"))[1] == \
            b"CLIENT_ERROR authentication failure\r\n"


def test_sighup_with_a_broken_file_keeps_the_users(auth_file, server_factory):
    srv = server_factory("-Y", str(auth_file), udp=False)
    auth_file.write_text("broken\n")
    os.kill(srv.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "malformed entry" not in srv.stderr_text():
        assert time.monotonic() < deadline, srv.stderr_text()
        time.sleep(0.05)
    assert conversation(srv.port, auth_set(b"alice secret"))[1] == b"STORED\r\n"
