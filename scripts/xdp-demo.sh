#!/bin/sh
# xdp-demo.sh - watch the XDP fast path answer a memcached get.
#
# With `make run` going (as root it attaches the fast path to lo), run in
# another terminal:
#
#     scripts/xdp-demo.sh [HOST [PORT]]        (default 127.0.0.1 11211)
#
# It sets a key over TCP, then gets it three times over UDP and prints each
# reply with the xdp_hits / xdp_replies counters of `stats` around it. The
# daemon answers the first two gets itself and then admits the key to the
# XDP map (it was read twice); the third is answered by the XDP program:
# xdp_replies goes up by one.
set -eu
HOST=${1:-127.0.0.1}
PORT=${2:-11211}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

exec "$PY" - "$HOST" "$PORT" <<'EOF'
import select
import socket
import struct
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
key = b"xdp-demo-%d" % (time.time_ns() % 1000000)   # new each run: admission starts over
value = b"hello from xdpcached"


def tcp(command, until=b"\r\n"):
    with socket.create_connection((host, port), timeout=3) as s:
        s.sendall(command)
        data = b""
        while not data.endswith(until):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def stats():
    out = {}
    for line in tcp(b"stats\r\n", b"END\r\n").decode().splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] == "STAT":
            out[parts[1]] = parts[2]
    return out


def counters(st):
    return "xdp_hits=%s xdp_replies=%s" % (st.get("xdp_hits", "-"), st.get("xdp_replies", "-"))


try:
    st = stats()
    # The daemon serves at once and attaches the program beside it.
    deadline = time.monotonic() + 10
    while st.get("xdp_state") == "loading" and time.monotonic() < deadline:
        time.sleep(0.1)
        st = stats()
except OSError as e:
    sys.exit(f"xdp-demo: cannot reach xdpcached at {host}:{port} over TCP ({e}); start it with `make run`")
if "xdp_replies" not in st:
    print("note: `stats` has no xdp_* counters: the fast path is not up (not root, or no --xdp-iface; "
          "see the daemon's log). The daemon will answer every get.\n")

stored = tcp(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value)).strip().decode()
print(f"TCP  set {key.decode()} = {value.decode()!r}: {stored}")
udp = socket.socket(family, socket.SOCK_DGRAM)
udp.connect((host, port))
for n in (1, 2, 3):
    before = stats()
    request_id = 0x1000 + n
    udp.send(struct.pack(">HHHH", request_id, 0, 1, 0) + b"get " + key + b"\r\n")
    r, _, _ = select.select([udp], [], [], 2.0)
    reply = udp.recv(65536) if r else None
    after = stats()
    answered = "XDP program" if int(after.get("xdp_replies", 0)) > int(before.get("xdp_replies", 0)) else "daemon"
    print(f"\nUDP  get #{n} (request id {request_id:#x})")
    if reply is None:
        print("     no reply within 2 s")
    else:
        rid, seq, total, _ = struct.unpack(">HHHH", reply[:8])
        print(f"     reply: id {rid:#x}, datagram {seq + 1} of {total}: {reply[8:].decode(errors='replace')!r}")
    print(f"     before: {counters(before)}")
    print(f"     after:  {counters(after)}   -> answered by the {answered}")
EOF
