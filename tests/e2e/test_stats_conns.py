"""`stats conns` against Debian's memcached 1.6.18: a row per listener, UDP
socket and client, in descriptor order, each in the state memcached would
show it in. Descriptor numbers and client ports differ between any two
servers, so rows are compared with those replaced by their rank."""

import re
import socket
import time

import pytest

from helpers import HOST, Conn, Udp, close_after_server, udp_frame

pytestmark = pytest.mark.protocol

BIG = 512 * 1024


def parse_rows(text):
    """[(field, value), ...] per descriptor, in the order they came."""
    rows, order = {}, []
    for line in text.splitlines():
        if line == "END":
            break
        m = re.fullmatch(r"STAT (\d+):(\w+) (.*)", line)
        assert m, f"not a stats conns line: {line!r}"
        fd, field, value = int(m.group(1)), m.group(2), m.group(3)
        if fd not in rows:
            order.append(fd)
            rows[fd] = []
        rows[fd].append((field, value))
    assert order == sorted(order), f"rows not in descriptor order: {order}"
    return [rows[fd] for fd in order]


def normalize(rows, port):
    """Client ports become PORT, idle seconds a digit check."""
    out = []
    for row in rows:
        fixed = []
        for field, value in row:
            if field == "secs_since_last_cmd":
                assert value.isdigit(), row
                continue
            if field == "addr" and not value.endswith(f":{port}"):
                value = re.sub(r":\d+$", ":PORT", value)
            fixed.append((field, value))
        out.append(fixed)
    return out


def listener(proto, host, port):
    return [("addr", f"{proto}:{host}:{port}"), ("state", "conn_listening")]


def udp_socket(proto, host, port, state="conn_read", peer=None):
    row = [("UDP", "UDP"), ("addr", peer or f"{proto}:{host}:{port}")]
    if peer:
        row.append(("listen_addr", f"{proto}:{host}:{port}"))
    return row + [("state", state)]


def client(proto, host, port, state):
    return [("addr", f"{proto}:{host}:PORT"), ("listen_addr", f"{proto}:{host}:{port}"),
            ("state", state)]


def expected_rows(port, asker_state_row):
    return [
        listener("tcp", "127.0.0.1", port), listener("tcp6", "[::1]", port),
        asker_state_row[0], udp_socket("udp6", "[::1]", port),
        client("tcp6", "[::1]", port, "conn_read"),
        client("tcp", "127.0.0.1", port, "conn_swallow"),
        client("tcp", "127.0.0.1", port, "conn_nread"),
        client("tcp", "127.0.0.1", port, "conn_mwrite"),
    ] + asker_state_row[1:]


def open_clients(port):
    """One client of each state: idle over IPv6, discarding a value too
    large to store, waiting for the rest of a value, and one that reads
    none of its replies."""
    idle = socket.create_connection(("::1", port), timeout=5)
    idle.sendall(b"get nothing\r\n")
    assert idle.recv(100) == b"END\r\n"
    swallow = socket.create_connection((HOST, port), timeout=5)
    swallow.sendall(b"set huge 0 0 1000000000\r\n")
    nread = socket.create_connection((HOST, port), timeout=5)
    nread.sendall(b"set k 0 0 100\r\nab")
    # Descriptors are compared in order: this one must be free again (and
    # the server's readiness probe's, servers.py) before the next client.
    setter = Conn(port)
    assert setter.cmd(b"set big 0 0 %d\r\n" % BIG + b"x" * BIG) == b"STORED"
    close_after_server(setter.sock)
    mwrite = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    mwrite.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    mwrite.connect((HOST, port))
    mwrite.sendall(b"get big\r\n" * 16)
    return [idle, swallow, nread, mwrite]


MWRITE_ROW = 7   # the client that reads none of its replies (expected_rows)


def blocked_writer_as_memcached_names_it(rows):
    """memcached stops parsing a connection's pipelined gets once it holds
    as many replies as it allows, and shows it in conn_parse_cmd until the
    client reads, or in conn_mwrite once it ran them all, depending on its
    timing; both are its "replies wait for the client"."""
    row = rows[MWRITE_ROW] if len(rows) > MWRITE_ROW else []
    if ("state", "conn_parse_cmd") in row:
        rows[MWRITE_ROW] = [f if f != ("state", "conn_parse_cmd") else ("state", "conn_mwrite")
                            for f in row]
    return rows


def rows_once_settled(ask, port, expected, timeout=5.0, fix=lambda rows: rows):
    """The clients' requests reach other worker threads: ask until the rows
    are as expected, or return the last rows after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        rows = fix(normalize(parse_rows(ask()), port))
        if rows == expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def ask_tcp(port):
    with Conn(port) as c:
        c.send(b"stats conns\r\n")
        return c.read_until(b"END\r\n").decode()


def ask_udp(port):
    with Udp(port) as u:
        payload = b"".join(d[8:] for d in u.request(b"stats conns\r\n"))
        return payload.decode()


def start_both(server_factory, memcached_factory):
    return [f("-l", "[::1]", "-t", "1") for f in (memcached_factory, server_factory)]


def asked_over_tcp(port):
    """The asker is one more client, running its request."""
    return ask_tcp, [udp_socket("udp", "127.0.0.1", port),
                     client("tcp", "127.0.0.1", port, "conn_parse_cmd")]


def asked_over_udp(port):
    """The UDP socket that carries the request shows its sender."""
    return ask_udp, [udp_socket("udp", "127.0.0.1", port, "conn_parse_cmd",
                                peer="udp:127.0.0.1:PORT")]


@pytest.mark.parametrize("asked", [asked_over_tcp, asked_over_udp], ids=["tcp", "udp"])
def test_rows_match_memcached(asked, server_factory, memcached_factory):
    for srv in start_both(server_factory, memcached_factory):
        clients = open_clients(srv.port)
        try:
            ask, asker_rows = asked(srv.port)
            expected = expected_rows(srv.port, asker_rows)
            fix = blocked_writer_as_memcached_names_it if srv.kind == "memcached" else None
            got = rows_once_settled(lambda: ask(srv.port), srv.port, expected,
                                    fix=fix or (lambda rows: rows))
            assert got == expected, srv.kind
        finally:
            for s in clients:
                s.close()


def test_argument_is_ignored_and_binary_has_no_conns_group(server_factory, memcached_factory):
    """memcached answers `stats conns anything` as `stats conns`; its binary
    protocol has no conns group (Key not found, status 1)."""
    request = bytes([0x80, 0x10, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0]) + bytes(8) + b"conns"
    for srv in start_both(server_factory, memcached_factory):
        with Conn(srv.port) as c:
            c.send(b"stats conns extra words\r\n")
            rows = parse_rows(c.read_until(b"END\r\n").decode())
            assert len(rows) == 5, (srv.kind, rows)   # 2 listeners, 2 UDP sockets, itself
        with socket.create_connection((HOST, srv.port), timeout=5) as s:
            s.sendall(request)
            header = s.recv(24)
            assert header[0] == 0x81 and header[6:8] == b"\x00\x01", (srv.kind, header)
