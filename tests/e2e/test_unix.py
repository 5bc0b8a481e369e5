"""Unix sockets (-s PATH, -a MASK) against Debian's memcached 1.6.18: the same
replies over the socket, network listening off, the socket file's mode and
owner, a stale file replaced, and a client library on the socket."""

import os
import pwd
import socket
import stat
import subprocess
import time

import pytest
from pymemcache.client.base import Client

import corpus
import diffrun
from helpers import Conn
from servers import free_port, xdpcached_bin

pytestmark = pytest.mark.protocol

# One stream of each kind the corpus has over TCP: enough to show the socket
# carries the protocols as TCP does, without running the corpus twice.
SAMPLE = ("basic/", "cas/", "incr/", "noreply/", "pipeline/", "stats/", "lru_crawler/crawl_all")


def _sample_streams():
    picked, seen = [], set()
    for s in corpus.build():
        prefix = next((p for p in SAMPLE if s.id.startswith(p)), None)
        if s.transport == "tcp" and not s.args and prefix and prefix not in seen:
            seen.add(prefix)
            picked.append(s)
    return picked


@pytest.mark.parametrize("stream", _sample_streams(), ids=lambda s: s.id)
def test_replies_match_memcached_over_a_unix_socket(stream, nobody_tmp, server_factory,
                                                    memcached_factory):
    ref = memcached_factory(unix=str(nobody_tmp / "ref.sock"))
    got = server_factory(unix=str(nobody_tmp / "got.sock"))
    ref_res = diffrun.run(ref.port, stream, 0.08)
    got_res = diffrun.run(got.port, stream, 0.08, ref_res)
    assert diffrun.same(stream, ref_res, got_res), diffrun.describe(stream, ref_res, got_res)


def test_settings_name_the_socket(nobody_tmp, server_factory, memcached_factory):
    for factory, name in ((memcached_factory, "ref"), (server_factory, "got")):
        path = str(nobody_tmp / f"{name}.sock")
        srv = factory("-a", "640", unix=path)
        with Conn(srv.port) as c:
            st = c.stats(b"settings")
        assert (st["domain_socket"], st["umask"]) == (path, "640")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
        assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_default_mask_is_700_and_network_is_off(nobody_tmp, server_factory, memcached_factory):
    """-s turns TCP and UDP off, as in memcached, whatever -p and -U say."""
    for factory, name in ((memcached_factory, "ref"), (server_factory, "got")):
        port = free_port()
        path = str(nobody_tmp / f"{name}.sock")
        srv = factory("-p", str(port), "-U", str(port), unix=path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        with Conn(srv.port) as c:
            st = c.stats(b"settings")
            assert c.cmd(b"version").startswith(b"VERSION ")
        assert st["domain_socket"] == path and st["umask"] == "700"


def test_owned_by_the_user_it_runs_as(nobody_tmp, server_factory):
    """memcached binds after -u drops privileges, so the file is that
    user's; xdpcached binds first (a failure shows before -d) and hands the
    file over."""
    path = str(nobody_tmp / "got.sock")
    server_factory("-u", "nobody", unix=path)
    assert os.stat(path).st_uid == pwd.getpwnam("nobody").pw_uid


def test_stale_socket_file_is_replaced(nobody_tmp, server_factory):
    """A socket file left by a killed server does not stop the next start;
    any other file at the path does, with memcached's exit status."""
    path = str(nobody_tmp / "got.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    srv = server_factory(unix=path)
    with Conn(srv.port) as c:
        assert c.cmd(b"version").startswith(b"VERSION ")


def test_regular_file_at_the_path_is_kept(nobody_tmp):
    from servers import Server, ServerError
    path = nobody_tmp / "not-a-socket"
    path.write_text("data")
    with pytest.raises(ServerError, match="status 71"):
        Server("xdpcached", unix=str(path)).start()
    assert path.read_text() == "data"


def test_pymemcache_over_the_socket(nobody_tmp, server_factory):
    srv = server_factory(unix=str(nobody_tmp / "got.sock"))
    client = Client(srv.port, connect_timeout=5, timeout=5)
    try:
        client.set("k", b"v" * 3000)
        assert client.get("k") == b"v" * 3000
        assert client.incr("n", 1) is None
        client.set("n", b"41")
        assert client.incr("n", 1) == 42
        assert client.delete("k")
        assert client.get("k") is None
    finally:
        client.close()


def test_stats_conns_names_unix_sockets(nobody_tmp, server_factory, memcached_factory):
    """The listener shows as unix:PATH, a client by its listen_addr (its own
    addr is memcached's "?:<AF 0>": it never asks a unix client's name).
    memcached reads the listener's name into a sockaddr_in6, which cuts the
    path to 26 bytes; we show it whole (docs/differences.md)."""
    for factory, name in ((memcached_factory, "ref"), (server_factory, "got")):
        path = str(nobody_tmp / f"{name}.sock")
        srv = factory(unix=path)
        listener = "unix:" + (path[:26] if name == "ref" else path)
        expected = [("?:<AF 0>", "unix:" + path, "conn_parse_cmd"),
                    (listener, None, "conn_listening")]
        # the start-up probe's connection may not be closed yet on the server
        deadline = time.monotonic() + 5
        while True:
            with Conn(srv.port) as c:
                st = c.stats(b"conns")
            fds = {k.split(":")[0] for k in st}
            rows = sorted((st[f + ":addr"], st.get(f + ":listen_addr"), st[f + ":state"])
                          for f in fds)
            if rows == expected or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert rows == expected, st
