#!/usr/bin/env python3
"""bench/paho_pub.py: a paho-mqtt (PyPI) publisher loop, QoS 0, for bench/compare.sh.

Usage: paho_pub.py HOST PORT COUNT SIZE TOPIC
"""
import sys

import paho.mqtt.client as mqtt

host, port, count, size, topic = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
if not 1 <= count <= 100_000_000:
    sys.exit("bad COUNT")
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-bench")
c.connect(host, port, keepalive=60)
c.loop_start()
payload = b"x" * size
info = None
for _ in range(count):
    info = c.publish(topic, payload, qos=0)
info.wait_for_publish(timeout=120)
c.disconnect()
c.loop_stop()
