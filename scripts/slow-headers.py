#!/usr/bin/env python3
"""Opens N connections that send a request head without its final blank line, and reports when the server
closes them. Usage: scripts/slow-headers.py PORT N BOUND_SECONDS (against `objectos serve -p PORT`)."""
import socket, time, sys
port = int(sys.argv[1]); n = int(sys.argv[2]); bound = float(sys.argv[3])
socks = []
t0 = time.time()
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
    s.setblocking(False)
    socks.append(s)
closed = {}
while time.time() - t0 < bound and len(closed) < n:
    for i, s in enumerate(socks):
        if i in closed: continue
        try:
            d = s.recv(4096)
            if d == b"": closed[i] = time.time() - t0
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed[i] = time.time() - t0
    time.sleep(0.2)
ts = sorted(closed.values())
print(f"{n} half-sent heads: {len(closed)} closed within {bound:.0f} s; first closed at {ts[0]:.1f} s, last at {ts[-1]:.1f} s" if ts else f"{n}: none closed within {bound} s")
# the server still answers
s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print("then GET /api/v1/health:", s.recv(200).split(b"\r\n")[0].decode())
