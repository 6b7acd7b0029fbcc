#!/usr/bin/env python3
"""bench/rawpair.py: the broker's ceiling for 1 publisher -> 1 subscriber, QoS 0.

A minimal raw-socket MQTT 3.1.1 pair, with bytes written by hand (no client library,
no codec shared with mqtk): the publisher writes COUNT identical PUBLISH packets in
large sendall() calls; the subscriber counts bytes (every packet has the same size)
and so costs almost nothing per message. What it measures is the broker.

Usage: rawpair.py HOST PORT [COUNT] [SIZE] [TOPIC]   (defaults 1000000 16 bench/raw)
Prints one line: "received N of COUNT in S s: R msg/s".
"""
import socket
import sys
import threading
import time

host, port = sys.argv[1], int(sys.argv[2])
count = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
size = int(sys.argv[4]) if len(sys.argv) > 4 else 16
topic = (sys.argv[5] if len(sys.argv) > 5 else "bench/raw").encode()
if not (1 <= count <= 100_000_000 and 0 <= size <= 100 and len(topic) < 100):
    sys.exit("bad arguments")


def connect(client_id: bytes) -> socket.socket:
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # CONNECT (3.1.1 §3.1): "MQTT", level 4, clean session, keepalive 60.
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    s.sendall(bytes([0x10, len(body)]) + body)
    ack = recv_exact(s, 4)
    if ack != b"\x20\x02\x00\x00":
        sys.exit(f"CONNACK refused: {ack!r}")
    return s


def recv_exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            sys.exit("connection closed")
        out += chunk
    return out


# PUBLISH QoS 0 (3.1.1 §3.3): fixed header, topic, payload.
payload = b"x" * size
body = len(topic).to_bytes(2, "big") + topic + payload
assert len(body) < 128
packet = bytes([0x30, len(body)]) + body

sub = connect(b"rawpair-sub")
# SUBSCRIBE (3.1.1 §3.8): packet id 1, the topic, QoS 0; SUBACK is 5 bytes.
sbody = b"\x00\x01" + len(topic).to_bytes(2, "big") + topic + b"\x00"
sub.sendall(bytes([0x82, len(sbody)]) + sbody)
if recv_exact(sub, 5)[0] != 0x90:
    sys.exit("no SUBACK")
pub = connect(b"rawpair-pub")

want = count * len(packet)
got = 0
first = last = 0.0


def receive():
    global got, first, last
    sub.settimeout(2.0)
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


t = threading.Thread(target=receive)
t.start()
batch = packet * 4096
start = time.perf_counter()
sent = 0
while sent < count:
    n = min(4096, count - sent)
    pub.sendall(batch if n == 4096 else packet * n)
    sent += n
t.join()
received = got // len(packet)
secs = max(last - start, 1e-9)
print(f"received {received} of {count} in {secs:.3f} s: {received / secs:.0f} msg/s")
