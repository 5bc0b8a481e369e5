"""Small raw-socket clients for the protocol tests. Every wait is bounded."""

import select
import socket
import struct
import time

HOST = "127.0.0.1"


class Closed(Exception):
    pass


def close_after_server(sock, timeout=2.0):
    """Closes a stream socket once the server has closed its end: our EOF
    first, then the server's. The server's descriptor is then free again,
    so the next connection it accepts gets a predictable number. Gives up
    waiting after timeout (a server that keeps the connection open)."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            if not sock.recv(65536):
                break
    except OSError:
        pass
    sock.close()


class _Socket:
    """Owns self.sock; usable in a with statement."""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def stream_socket(where, timeout):
    """A connected stream socket: to 127.0.0.1:where for a port number, to
    the unix socket at path where for a string."""
    if isinstance(where, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(where)
        except OSError:
            sock.close()
            raise
        return sock
    sock = socket.create_connection((HOST, where), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Conn(_Socket):
    """A raw text-protocol connection over TCP (port) or a unix socket (path)."""

    def __init__(self, port, timeout=10.0):
        self.sock = stream_socket(port, timeout)
        self.timeout = timeout
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no reply in time; have {self.buf[:200]!r}")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError(f"no reply in time; have {self.buf[:200]!r}") from None
        if not data:
            raise Closed(f"connection closed; have {self.buf[:200]!r}")
        self.buf += data

    def readline(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_until(self, terminator, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while terminator not in self.buf:
            self._fill(deadline)
        i = self.buf.index(terminator) + len(terminator)
        data, self.buf = self.buf[:i], self.buf[i:]
        return data

    def cmd(self, line):
        """Send one command line (CRLF added) and return the reply line."""
        self.send(line + b"\r\n")
        return self.readline()

    def store(self, verb, key, value, flags=0, exptime=0, cas=None, noreply=False):
        line = b"%s %s %d %d %d" % (verb, key, flags, exptime, len(value))
        if cas is not None:
            line += b" %d" % cas
        if noreply:
            line += b" noreply"
        self.send(line + b"\r\n" + value + b"\r\n")
        return None if noreply else self.readline()

    def set(self, key, value, flags=0, exptime=0):
        return self.store(b"set", key, value, flags, exptime)

    def get_multi(self, verb, keys, exptime=None):
        """get/gets/gat/gats: returns {key: (flags, value, cas-or-None)}."""
        line = verb
        if exptime is not None:
            line += b" %d" % exptime
        line += b" " + b" ".join(keys) + b"\r\n"
        self.send(line)
        return self.read_values()

    def read_values(self):
        out = {}
        while True:
            line = self.readline()
            if line == b"END":
                return out
            parts = line.split(b" ")
            if parts[0] != b"VALUE" or len(parts) not in (4, 5):
                raise AssertionError(f"unexpected reply line {line!r}")
            data = self.read_exact(int(parts[3]) + 2)
            assert data[-2:] == b"\r\n", data[-10:]
            cas = int(parts[4]) if len(parts) == 5 else None
            out[parts[1]] = (int(parts[2]), data[:-2], cas)

    def get(self, key):
        """Value of key, or None."""
        v = self.get_multi(b"get", [key])
        return v[key][1] if key in v else None

    def gets(self, key):
        v = self.get_multi(b"gets", [key])
        return (v[key][1], v[key][2]) if key in v else (None, None)

    def stats(self, sub=b""):
        self.send(b"stats" + (b" " + sub if sub else b"") + b"\r\n")
        out = {}
        while True:
            line = self.readline()
            if line == b"END":
                return out
            parts = line.split(b" ", 2)
            if parts[0] != b"STAT" or len(parts) != 3:
                raise AssertionError(f"unexpected stats line {line!r}")
            out[parts[1].decode()] = parts[2].decode()

    def is_closed(self, timeout=2.0):
        """True when the server closes the connection within timeout (any
        data that arrives first is kept in buf)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                return False
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not data:
                return True
            self.buf += data
        return False


def udp_frame(request_id, payload, seq=0, total=1, reserved=0):
    return struct.pack(">HHHH", request_id, seq, total, reserved) + payload


class Udp(_Socket):
    """A UDP client socket connected to the server."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.connect((HOST, port))

    def send(self, datagram):
        self.sock.send(datagram)

    def recv_all(self, quiet=0.1, timeout=5.0, first_timeout=None):
        """Datagrams until none arrives for `quiet` seconds (or `first_timeout`
        before the first one)."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wait = quiet if out or first_timeout is None else first_timeout
            r, _, _ = select.select([self.sock], [], [], wait)
            if not r:
                break
            datagram = self._recv()
            if datagram is not None:
                out.append(datagram)
        return out

    def _recv(self):
        """One datagram; None for an error that is no datagram."""
        return self.sock.recv(65536)

    def request(self, payload, request_id=1, quiet=0.1, first_timeout=2.0):
        """Sends one frame; returns the reply datagrams. Waits up to
        first_timeout for the first one, then until quiet."""
        self.send(udp_frame(request_id, payload))
        return self.recv_all(quiet=quiet, first_timeout=first_timeout)


def udp_header(d):
    return struct.unpack(">HHHH", d[:8])


def reassemble(datagrams):
    """Concatenates the payloads of one reply's datagrams in sequence order."""
    parts = sorted(datagrams, key=lambda d: udp_header(d)[1])
    return b"".join(d[8:] for d in parts)


def proc_status_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)
