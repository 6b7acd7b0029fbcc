#!/usr/bin/env python3
"""bench/rawpair.py: the broker's ceiling for 1 publisher -> 1 subscriber, QoS 0.

A minimal raw-socket MQTT 3.1.1 pair, with bytes written by hand (no client library,
no codec shared with mqtk), in two processes so neither waits for the other: the
publisher writes COUNT identical PUBLISH packets in large sendall() calls; the
subscriber counts bytes (every packet has the same size), so it costs almost nothing
per message. What it measures is the broker.

Usage: rawpair.py HOST PORT [COUNT] [SIZE] [TOPIC]   (defaults 1000000 16 bench/raw)
Prints one line: "received N of COUNT in S s: R msg/s" (from the first message
received to the last).
"""
import os
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
count = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
size = int(sys.argv[4]) if len(sys.argv) > 4 else 16
topic = (sys.argv[5] if len(sys.argv) > 5 else "bench/raw").encode()
if not (1 <= count <= 100_000_000 and 0 <= size <= 100 and len(topic) < 100):
    sys.exit("bad arguments")


def recv_exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            sys.exit("connection closed")
        out += chunk
    return out


def connect(client_id: bytes) -> socket.socket:
    s = socket.create_connection((host, port), timeout=10)
    # CONNECT (3.1.1 §3.1): "MQTT", level 4, clean session, keepalive 60.
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    s.sendall(bytes([0x10, len(body)]) + body)
    if recv_exact(s, 4) != b"\x20\x02\x00\x00":
        sys.exit("CONNACK refused")
    return s


# PUBLISH QoS 0 (3.1.1 §3.3): fixed header, topic, payload.
body = len(topic).to_bytes(2, "big") + topic + b"x" * size
assert len(body) < 128
packet = bytes([0x30, len(body)]) + body

# Client ids of this process's own, so that several pairs can run at once.
tag = str(os.getpid()).encode()
sub = connect(b"rawpair-sub-" + tag)
# SUBSCRIBE (3.1.1 §3.8): packet id 1, the topic, QoS 0; SUBACK is 5 bytes.
sbody = b"\x00\x01" + len(topic).to_bytes(2, "big") + topic + b"\x00"
sub.sendall(bytes([0x82, len(sbody)]) + sbody)
if recv_exact(sub, 5)[0] != 0x90:
    sys.exit("no SUBACK")

child = os.fork()
if child == 0:
    pub = connect(b"rawpair-pub-" + tag)
    batch = packet * 4096
    sent = 0
    while sent < count:
        n = min(4096, count - sent)
        pub.sendall(batch if n == 4096 else packet * n)
        sent += n
    # Stay connected until the subscriber is done (a closed publisher is fine for
    # QoS 0, but keep the broker's work identical to mqtk's run).
    time.sleep(0.5)
    os._exit(0)

want = count * len(packet)
got = 0
first = last = 0.0
sub.settimeout(3.0)
buf = bytearray(1 << 20)
while got < want:
    try:
        n = sub.recv_into(buf)
    except socket.timeout:
        break
    if n == 0:
        break
    if got == 0:
        first = time.perf_counter()
    got += n
    last = time.perf_counter()
os.waitpid(child, 0)
received = got // len(packet)
secs = max(last - first, 1e-9)
print(f"received {received} of {count} in {secs:.3f} s: {received / secs:.0f} msg/s")
