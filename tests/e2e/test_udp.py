"""Protocol tests over UDP: memcached's 8-byte frame header (request id,
sequence number, datagram count, reserved), replies of at most 1400 bytes."""

import threading

import pytest

from helpers import Conn, Udp, reassemble, udp_frame, udp_header

pytestmark = pytest.mark.protocol

UDP_MAX = 1400


def check_reply(grams, request_id):
    """One response: same id, sequence 0..n-1, count n, reserved 0."""
    assert grams, "no reply datagram"
    n = len(grams)
    seqs = []
    for d in grams:
        rid, seq, total, reserved = udp_header(d)
        assert rid == request_id
        assert total == n, f"datagram count {total}, got {n} datagrams"
        assert reserved == 0
        assert len(d) <= UDP_MAX
        seqs.append(seq)
    assert sorted(seqs) == list(range(n))
    return reassemble(grams)


def test_udp_set_get(server, request):
    k = b"udp-" + request.node.name.encode()
    with Udp(server.port) as u:
        grams = u.request(b"set %s 5 0 5\r\nhello\r\n" % k, request_id=77)
        assert grams == [udp_frame(77, b"STORED\r\n")]
        grams = u.request(b"get %s\r\n" % k, request_id=78)
        assert check_reply(grams, 78) == b"VALUE %s 5 5\r\nhello\r\nEND\r\n" % k
        grams = u.request(b"delete %s\r\n" % k, request_id=79)
        assert grams == [udp_frame(79, b"DELETED\r\n")]
        assert u.request(b"get %s\r\n" % k, request_id=80) == [udp_frame(80, b"END\r\n")]


def test_udp_and_tcp_share_the_store(server, request):
    k = b"shared-" + request.node.name.encode()
    with Udp(server.port) as u, Conn(server.port) as c:
        assert c.set(k, b"from-tcp") == b"STORED"
        assert reassemble(u.request(b"get %s\r\n" % k)) == b"VALUE %s 0 8\r\nfrom-tcp\r\nEND\r\n" % k
        u.request(b"set %s 0 0 8\r\nfrom-udp\r\n" % k)
        assert c.get(k) == b"from-udp"


@pytest.mark.parametrize("size", [1300, 1392, 5000, 100000])
def test_udp_large_value_sequenced(server, size):
    k = b"udpbig%d" % size
    value = (bytes(range(256)) * (size // 256 + 1))[:size]
    with Conn(server.port) as c:
        assert c.set(k, value) == b"STORED"
    with Udp(server.port) as u:
        grams = u.request(b"get %s\r\n" % k, request_id=4242)
        payload = check_reply(grams, 4242)
        assert payload == b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (k, size, value)
        # Full datagrams first: 1392 bytes of payload each but the last.
        by_seq = sorted(grams, key=lambda d: udp_header(d)[1])
        assert all(len(d) == UDP_MAX for d in by_seq[:-1])


@pytest.mark.parametrize("request_id", [0, 1, 255, 256, 4660, 65535])
def test_udp_request_id_echoed(server, request_id):
    with Udp(server.port) as u:
        grams = u.request(b"version\r\n", request_id=request_id)
        assert len(grams) == 1
        assert udp_header(grams[0]) == (request_id, 0, 1, 0)
        assert grams[0][8:].startswith(b"VERSION ")


def test_udp_multiget_hits_and_misses(server):
    with Conn(server.port) as c:
        c.set(b"um1", b"one")
        c.set(b"um3", b"three")
    with Udp(server.port) as u:
        grams = u.request(b"get um1 um2 um3 um4\r\n", request_id=9)
        assert all(udp_header(d)[0] == 9 for d in grams)
        assert b"".join(d[8:] for d in grams) == \
            b"VALUE um1 0 3\r\none\r\nVALUE um3 0 5\r\nthree\r\nEND\r\n"


def test_udp_several_commands_in_one_datagram(server):
    with Udp(server.port) as u:
        grams = u.request(b"set us1 0 0 1\r\na\r\nincr us1 1\r\nset us2 0 0 1\r\n5\r\nincr us2 5\r\n"
                          b"get us2\r\n", request_id=3)
        assert all(udp_header(d)[0] == 3 for d in grams)
        assert b"".join(d[8:] for d in grams) == \
            (b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
             b"STORED\r\n10\r\nVALUE us2 0 2\r\n10\r\nEND\r\n")


def test_udp_noreply(server):
    with Udp(server.port) as u:
        assert u.request(b"set unr 0 0 1 noreply\r\nx\r\n", first_timeout=0.3) == []
        assert reassemble(u.request(b"get unr\r\n")) == b"VALUE unr 0 1\r\nx\r\nEND\r\n"


def test_udp_malformed_frames_ignored(server):
    with Udp(server.port) as u:
        for d in (b"", b"\x00", b"\x00\x01\x00\x00\x00\x01\x00",      # shorter than a header
                  b"\x00\x01\x00\x00\x00\x01\x00\x00",                 # a header alone
                  udp_frame(2, b"version\r\n", total=2),                # multi-datagram request
                  udp_frame(3, b"version\r\n", total=0)):
            u.send(d)
        assert u.recv_all(quiet=0.3, first_timeout=0.3) == []
        grams = u.request(b"version\r\n", request_id=5)
        assert len(grams) == 1 and udp_header(grams[0]) == (5, 0, 1, 0)
        # A non-zero sequence number in a request is not checked.
        u.send(udp_frame(6, b"version\r\n", seq=9))
        grams = u.recv_all(first_timeout=2)
        assert len(grams) == 1 and udp_header(grams[0]) == (6, 0, 1, 0)


def test_udp_concurrent_clients(server):
    errors = []

    def worker(t):
        try:
            with Udp(server.port) as u:
                for i in range(50):
                    rid = t * 1000 + i
                    key = b"uc%d-%d" % (t, i)
                    assert u.request(b"set %s 0 0 2\r\n%02d\r\n" % (key, i), request_id=rid, quiet=0.02) == \
                        [udp_frame(rid, b"STORED\r\n")]
                    assert u.request(b"get %s\r\n" % key, request_id=rid + 1, quiet=0.02) == \
                        [udp_frame(rid + 1, b"VALUE %s 0 2\r\n%02d\r\nEND\r\n" % (key, i))]
        except Exception as e:     # reported below
            errors.append(f"client {t}: {e!r}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors


def test_udp_off_when_port_zero(server_factory):
    srv = server_factory(udp=False)
    with Udp(srv.port) as u:
        try:
            grams = u.request(b"version\r\n", first_timeout=0.5)
        except ConnectionRefusedError:
            grams = []
        assert grams == []
    with Conn(srv.port) as c:
        assert c.cmd(b"version").startswith(b"VERSION")
        assert c.stats(b"settings")["udpport"] == "0"


def expected_datagrams(request_id, responses):
    """memcached's frames for a reply: each response in datagrams of its
    own, numbered 0..n-1 with total n, in order."""
    out, data = [], UDP_MAX - 8
    for r in responses:
        n = (len(r) + data - 1) // data
        out += [udp_frame(request_id, r[i * data:(i + 1) * data], seq=i, total=n) for i in range(n)]
    return out


def test_udp_multiget_in_parts_from_two_clients(server):
    """A multi-get of 8 values of 100 KB (each key's response over 64 KB, so
    the get runs in parts and its reply drains between other requests), from
    two clients at once: each gets every datagram of its reply, in order,
    framed as memcached frames it."""
    size, nkeys = 100 * 1024, 8
    keys = [b"part%d" % i for i in range(nkeys)]
    with Conn(server.port) as c:
        for i, k in enumerate(keys):
            assert c.set(k, bytes([65 + i]) * size) == b"STORED"
    responses = [b"VALUE %s 0 %d\r\n%s\r\n" % (k, size, bytes([65 + i]) * size)
                 for i, k in enumerate(keys)]
    responses[-1] += b"END\r\n"
    request = b"get " + b" ".join(keys) + b"\r\n"
    with Udp(server.port) as a, Udp(server.port) as b:
        a.send(udp_frame(11, request))
        b.send(udp_frame(12, request))
        got_a, got_b = a.recv_all(quiet=0.5, timeout=20), b.recv_all(quiet=0.5, timeout=20)
    assert got_a == expected_datagrams(11, responses)
    assert got_b == expected_datagrams(12, responses)
