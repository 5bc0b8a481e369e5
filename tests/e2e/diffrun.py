"""Runs one request stream of the differential corpus against one server and
compares two servers' replies.

A stream is a list of steps. A TCP step is one piece of request bytes, written
at once or in small pieces, after which the harness (usually) waits until the
server has been quiet for a while; the replies read up to that point form the
step's reply segment. A UDP step is one datagram, header included; its reply
is the list of datagrams that came back.

Request bytes may hold templates, filled in separately for each server from
that server's own earlier replies:
  {cas:KEY}      the CAS number of the last "VALUE KEY flags bytes CAS" line
  {cas:KEY:+N}   the same plus N (or :-N, minus N)
  {mcas:KEY}     the CAS (c<N>) of the last meta reply line that returned kKEY
  {now:+N}       the current Unix time plus N (or :-N)
  {bcas:N}       binary protocol: the 8-byte CAS field of reply packet number N
                 (from 0), {bcas:N:+1} that plus one

Replies are normalised before comparison: CAS numbers (in VALUE lines, the
c<N> flag of meta HD/VA lines, cas=<N> of me) become #1, #2, ... in
order of first appearance (0 stays 0), and the text after "VERSION " becomes
<version>. Streams with protocol="binary" are read as binary reply packets:
a non-zero CAS field becomes <#1>, <#2>, ..., a VERSION packet's body length
and body <len> and <version>. Everything else must be byte-identical,
including whether and after which step the server closed the connection.
"""

import re
import select
import socket
import struct
import time
from dataclasses import dataclass, field

from helpers import stream_socket

HOST = "127.0.0.1"
STEP_TIMEOUT = 30.0         # the longest one step may take
CONNECT_TIMEOUT = 10.0
SHORT_WAIT = 3.0          # quiet time allowed while a reply is shorter than the reference's


@dataclass
class Send:
    data: bytes
    chunk: int = 0          # 0: one write; N: writes of N bytes each
    delay: float = 0.002    # pause between the pieces of a chunked write
    wait: bool = True       # wait for the server to go quiet afterwards


@dataclass
class Stream:
    id: str
    steps: list
    transport: str = "tcp"          # "tcp" or "udp"
    args: tuple = ()                # extra server arguments
    note: str = ""
    protocol: str = "text"          # "text" or "binary": how replies are normalised

    def request_bytes(self):
        return b"".join(s.data for s in self.steps)


@dataclass
class Result:
    segments: list                  # TCP: bytes per waited step; UDP: list of datagrams per step
    closed: bool = False
    closed_at: int = -1             # index of the segment during which the server closed
    error: str = ""                 # harness-level trouble (template, timeout)
    problems: list = field(default_factory=list)   # server died, sanitizer report, ...


_TEMPLATE = re.compile(rb"\{(cas|mcas|now|bcas):([^}:]*)(?::([+-]\d+))?\}")


class TemplateError(Exception):
    pass


def fill_templates(data, replies):
    """Replaces {cas:KEY}, {now:+N} in data; replies is this server's raw reply
    bytes so far."""
    if b"{" not in data:
        return data

    def sub(m):
        kind, arg, off = m.group(1), m.group(2), int(m.group(3) or b"0")
        if kind == b"now":
            return b"%d" % (int(time.time()) + int(arg or b"0") + off)
        if kind == b"bcas":     # binary: 8 bytes, the CAS of reply packet number arg
            cases = binary_cases(replies)
            if int(arg) >= len(cases):
                raise TemplateError(f"no binary reply {arg} seen yet")
            return struct.pack(">Q", (cases[int(arg)] + off) % (1 << 64))
        cas = last_meta_cas(replies, arg) if kind == b"mcas" else last_cas(replies, arg)
        if cas is None:
            raise TemplateError(f"no CAS seen yet for key {arg!r}")
        return b"%d" % (cas + off)

    return _TEMPLATE.sub(sub, data)


def value_lines(buf):
    """Yields (start, end, tokens) for every VALUE header line in a reply
    stream, stepping over the data blocks; also ("VERSION", start, end)."""
    pos, n = 0, len(buf)
    while pos < n:
        eol = buf.find(b"\n", pos)
        if eol < 0:
            return
        line = buf[pos:eol].rstrip(b"\r")
        nxt = eol + 1
        if line.startswith(b"VALUE "):
            toks = line.split(b" ")
            if len(toks) in (4, 5) and toks[3].isdigit():
                yield "VALUE", pos, pos + len(line), toks
                nxt = eol + 1 + int(toks[3]) + 2
        elif line.startswith(b"VERSION "):
            yield "VERSION", pos, pos + len(line), None
        elif line == b"HD" or line.startswith((b"HD ", b"VA ", b"ME ")):
            toks = line.split(b" ")
            yield "META", pos, pos + len(line), toks
            if toks[0] == b"VA" and toks[1].isdigit():
                nxt = eol + 1 + int(toks[1]) + 2
        pos = nxt


def meta_cas_spans(start, toks):
    """(start, end) of each CAS number in a meta reply line: the c<N> return
    flag of HD/VA lines, cas=<N> of an ME line."""
    prefix = b"cas=" if toks[0] == b"ME" else b"c"
    spans, pos = [], start
    for i, tok in enumerate(toks):
        if i > 0 and tok.startswith(prefix) and tok[len(prefix):].isdigit():
            spans.append((pos + len(prefix), pos + len(tok)))
        pos += len(tok) + 1
    return spans


def last_meta_cas(buf, key):
    """{mcas:KEY}: the c<N> of the last HD/VA line that also returned kKEY."""
    cas = None
    for kind, start, _e, toks in value_lines(buf):
        if kind == "META" and b"k" + key in toks[1:]:
            for s, e in meta_cas_spans(start, toks):
                cas = int(buf[s:e])
    return cas


def last_cas(buf, key):
    cas = None
    for kind, _s, _e, toks in value_lines(buf):
        if kind == "VALUE" and len(toks) == 5 and toks[1] == key and toks[4].isdigit():
            cas = int(toks[4])
    return cas


def binary_packets(buf):
    """Yields (start, opcode, status, bodylen, cas) for every whole binary
    response packet at the front of buf, stopping at anything else."""
    pos = 0
    while len(buf) - pos >= 24 and buf[pos] == 0x81:
        status, bodylen, _opaque, cas = struct.unpack_from(">HIIQ", buf, pos + 6)
        yield pos, buf[pos + 1], status, bodylen, cas
        pos += 24 + bodylen


def binary_cases(buf):
    """The CAS field of every binary reply packet in buf, in order."""
    return [cas for _p, _o, _s, _b, cas in binary_packets(buf)]


def binary_edits(buf):
    """Binary replies: a non-zero CAS field becomes <#N> by first appearance,
    and a successful VERSION packet's bodylen and body become <version>."""
    edits, casmap = [], {}
    for pos, opcode, status, bodylen, cas in binary_packets(buf):
        if opcode == 0x0b and status == 0:
            edits.append((pos + 8, pos + 12, b"<len>"))
        if cas:
            casmap.setdefault(cas, b"<#%d>" % (len(casmap) + 1))
            edits.append((pos + 16, pos + 24, casmap[cas]))
        if opcode == 0x0b and status == 0:
            edits.append((pos + 24, pos + 24 + bodylen, b"<version>"))
    return edits


def normalise(pieces, protocol="text"):
    """pieces: list of bytes forming one reply stream. Returns the list with
    CAS numbers and version text normalised (edits are applied within the
    piece in which the line starts)."""
    buf = b"".join(pieces)
    if protocol == "binary" and buf[:1] == b"\x81":   # else a text connection
        return _apply_edits(pieces, buf, binary_edits(buf))
    edits = []      # (start, end, replacement)
    casmap = {}
    for kind, start, end, toks in value_lines(buf):
        if kind == "VERSION":
            edits.append((start + len(b"VERSION "), end, b"<version>"))
        elif kind == "META":
            for s, e in meta_cas_spans(start, toks):
                cas = buf[s:e]
                if cas != b"0":
                    casmap.setdefault(cas, b"#%d" % (len(casmap) + 1))
                    edits.append((s, e, casmap[cas]))
        elif len(toks) == 5:
            cas = toks[4]
            if cas != b"0":
                if cas not in casmap:
                    casmap[cas] = b"#%d" % (len(casmap) + 1)
                cas_start = end - len(cas)
                edits.append((cas_start, end, casmap[cas]))
    return _apply_edits(pieces, buf, edits)


def _apply_edits(pieces, buf, edits):
    if not edits:
        return list(pieces)
    out, pos, ei, cur = [], 0, 0, 0
    for piece in pieces:
        hi = pos + len(piece)
        res = []
        cur = max(cur, pos)
        while ei < len(edits) and edits[ei][0] < hi:
            s, e, rep = edits[ei]
            res.append(buf[cur:s])
            res.append(rep)
            cur = e
            ei += 1
        if cur < hi:
            res.append(buf[cur:hi])
            cur = hi
        out.append(b"".join(res))
        pos = hi
    return out


# -- TCP -----------------------------------------------------------------------

class _Tcp:
    """A stream connection: TCP to a port, or a unix socket's path."""

    def __init__(self, port):
        self.sock = stream_socket(port, CONNECT_TIMEOUT)
        self.sock.setblocking(False)
        self.closed = False
        self.pending = b""

    def _read_some(self):
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except (ConnectionResetError, BrokenPipeError):
            self.closed = True
            return
        if not data:
            self.closed = True
        self.pending += data

    def write(self, data, deadline):
        """Writes data, reading replies meanwhile so neither side blocks."""
        view = memoryview(data)
        while view and not self.closed:
            if time.monotonic() > deadline:
                raise TimeoutError("write timed out")
            r, w, _ = select.select([self.sock], [self.sock], [], 0.5)
            if r:
                self._read_some()
            if w and not self.closed:
                try:
                    n = self.sock.send(view)
                except BlockingIOError:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    self.closed = True
                    return
                view = view[n:]

    def pause(self, seconds):
        end = time.monotonic() + seconds
        while not self.closed:
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                self._read_some()

    def collect(self, quiet, want, deadline):
        """Reads until the server has been quiet for `quiet` seconds, or it
        closed, or the deadline passed. While fewer than `want` bytes (the
        reference server's reply length) have come, the quiet time allowed is
        SHORT_WAIT instead, for slow servers."""
        last = time.monotonic()
        while not self.closed:
            now = time.monotonic()
            limit = quiet if len(self.pending) >= want else SHORT_WAIT
            if now > deadline or now - last >= limit:
                break
            r, _, _ = select.select([self.sock], [], [], max(0.0, min(limit - (now - last), deadline - now)))
            if r:
                before = len(self.pending)
                self._read_some()
                if len(self.pending) != before:
                    last = time.monotonic()

    def take(self):
        data, self.pending = self.pending, b""
        return data

    def close(self):
        self.sock.close()


def run_tcp(port, stream, quiet, hint=None):
    """Runs a TCP stream; hint is the reference Result (its segment lengths
    make this run wait longer for slow replies, never shorter)."""
    conn = _Tcp(port)
    res = Result(segments=[])
    seen = b""
    try:
        nsteps = len(stream.steps)
        for i, step in enumerate(stream.steps):
            deadline = time.monotonic() + STEP_TIMEOUT
            try:
                data = fill_templates(step.data, seen + conn.pending)
            except TemplateError as e:
                res.error = f"step {i}: {e}"
                break
            if step.chunk:
                for off in range(0, len(data), step.chunk):
                    conn.write(data[off:off + step.chunk], deadline)
                    if conn.closed:
                        break
                    if off + step.chunk < len(data):
                        conn.pause(step.delay)
            else:
                conn.write(data, deadline)
            if step.wait or i == nsteps - 1:
                seg_index = len(res.segments)
                want = 0
                if hint is not None and seg_index < len(hint.segments):
                    want = len(hint.segments[seg_index])
                conn.collect(quiet, want, deadline)
                seg = conn.take()
                seen += seg
                res.segments.append(seg)
                if conn.closed:
                    res.closed, res.closed_at = True, seg_index
                    break
            elif not conn.closed:
                conn.pause(step.delay)
            if not (step.wait or i == nsteps - 1) and conn.closed:
                seg = conn.take()
                seen += seg
                res.segments.append(seg)
                res.closed, res.closed_at = True, len(res.segments) - 1
                break
    except TimeoutError as e:
        res.error = f"timeout: {e}"
    finally:
        conn.close()
    return res


# -- UDP -----------------------------------------------------------------------

def run_udp(port, stream, quiet, hint=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.connect((HOST, port))
    res = Result(segments=[])
    seen = b""
    try:
        for i, step in enumerate(stream.steps):
            try:
                data = fill_templates(step.data, seen)
            except TemplateError as e:
                res.error = f"step {i}: {e}"
                break
            want = 0
            if hint is not None and i < len(hint.segments):
                want = len(hint.segments[i])
            sock.send(data)
            grams = []
            deadline = time.monotonic() + STEP_TIMEOUT
            last = time.monotonic()
            while True:
                now = time.monotonic()
                limit = quiet if len(grams) >= want else SHORT_WAIT
                if now > deadline or now - last >= limit:
                    break
                r, _, _ = select.select([sock], [], [], max(0.0, min(limit - (now - last), deadline - now)))
                if r:
                    grams.append(sock.recv(65536))
                    last = time.monotonic()
            res.segments.append(grams)
            seen += b"".join(g[8:] for g in grams)
    finally:
        sock.close()
    return res


def run(port, stream, quiet, hint=None):
    if stream.transport == "udp":
        return run_udp(port, stream, quiet, hint)
    return run_tcp(port, stream, quiet, hint)


# -- comparison ----------------------------------------------------------------

def normalised_view(stream, res):
    """What is compared: a tuple of normalised per-step replies and the close."""
    if stream.transport == "udp":
        # Normalise the payloads of all datagrams as one stream, keep headers.
        flat = [g for seg in res.segments for g in seg]
        norm = normalise([g[8:] for g in flat], stream.protocol)
        it = iter(g[:8] + p for g, p in zip(flat, norm))
        segs = tuple(tuple(next(it) for _ in seg) for seg in res.segments)
        return segs, False, -1
    return tuple(normalise(res.segments, stream.protocol)), res.closed, res.closed_at


_RUN = re.compile(rb"(.)\1{31,}", re.S)


def _show(b, limit=1500):
    """repr of bytes with long runs of one byte shortened to <N x b'v'>."""
    if not isinstance(b, (bytes, bytearray)):
        return repr(b)
    parts, pos = [], 0
    for m in _RUN.finditer(b):
        if m.start() > pos:
            parts.append(repr(b[pos:m.start()]))
        parts.append(f"<{len(m.group(0))} x {m.group(1)!r}>")
        pos = m.end()
    if pos < len(b) or not parts:
        parts.append(repr(b[pos:]))
    r = " + ".join(parts)
    return r if len(r) <= limit else r[:limit] + f"... ({len(b)} bytes)"


def request_groups(stream):
    """The request bytes behind each reply segment (the steps up to and
    including each step that waits)."""
    if stream.transport == "udp":
        return [s.data for s in stream.steps]
    groups, cur = [], b""
    for i, s in enumerate(stream.steps):
        cur += s.data
        if s.wait or i == len(stream.steps) - 1:
            groups.append(cur)
            cur = b""
    return groups


def describe(stream, ref, got, ref_name="memcached", got_name="xdpcached"):
    """A readable report of how two results differ."""
    rv, gv = normalised_view(stream, ref), normalised_view(stream, got)
    lines = [f"stream {stream.id} ({stream.transport}, server args {list(stream.args)})"]
    if stream.note:
        lines.append(f"note: {stream.note}")
    if got.error:
        lines.append(f"{got_name} run error: {got.error}")
    groups = request_groups(stream)
    for i in range(max(len(rv[0]), len(gv[0]))):
        req = groups[i] if i < len(groups) else b""
        r = rv[0][i] if i < len(rv[0]) else "<no segment>"
        g = gv[0][i] if i < len(gv[0]) else "<no segment>"
        mark = "  " if r == g else "!!"
        lines.append(f"{mark} segment {i}: request {_show(req, 800)}")
        if r == g:
            lines.append(f"     both: {_show(r, 300)}")
        else:
            lines.append(f"     {ref_name}: {_show(r)}")
            lines.append(f"     {got_name}: {_show(g)}")
            if isinstance(r, bytes) and isinstance(g, bytes):
                k = next((j for j in range(min(len(r), len(g))) if r[j] != g[j]),
                         min(len(r), len(g)))
                lines.append(f"     first difference at byte {k}: "
                             f"{ref_name} {_show(r[k:k + 60], 200)} / {got_name} {_show(g[k:k + 60], 200)}")
    if rv[1:] != gv[1:]:
        lines.append(f"!! connection closed: {ref_name} {rv[1]} (after segment {rv[2]}), "
                     f"{got_name} {gv[1]} (after segment {gv[2]})")
    return "\n".join(lines)


def same(stream, ref, got):
    return not got.error and normalised_view(stream, ref) == normalised_view(stream, got)
