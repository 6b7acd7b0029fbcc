#!/usr/bin/env bash
# bench/decode.sh: `mqtk sub -v --decode sparkplug` vs Debian's `mosquitto_sub -v` on
# the raw bytes, side by side in one run on the same flood: N Sparkplug B NDATA
# payloads of 10 metrics each (alias, timestamp, datatype and value: Float, Double,
# Int32, Int64, Boolean) through Debian's mosquitto on a free loopback port, both
# subscribers subscribed at once, each timed with /usr/bin/time. The target (issue 15):
# decoding uses less CPU per message than mosquitto_sub spends printing the raw bytes.
# Prints the medians over ROUNDS of client CPU per message (user+sys) and peak RSS, and
# the ratio mqtk/mosquitto_sub (CPU: lower is better, target < 1). A second case adds
# -F '%j' (the decoded payload inside mqtk's JSON object) against mosquitto_sub -F '%j'.
#
# Usage: bench/decode.sh [N] [ROUNDS]        (defaults 200000 and 3)
# Builds the release binary; needs mosquitto, mosquitto_sub and python3.
# Network: 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

n=${1:-200000}
rounds=${2:-3}
if [ "$n" -lt 1000 ] || [ "$n" -gt 10000000 ]; then echo "N must be 1000..10000000" >&2; exit 1; fi
if [ "$rounds" -lt 1 ] || [ "$rounds" -gt 9 ]; then echo "ROUNDS must be 1..9" >&2; exit 1; fi
[ -x "$MOSQUITTO" ] || { echo "mosquitto not found (apt-get install mosquitto)" >&2; exit 1; }
command -v mosquitto_sub >/dev/null || { echo "mosquitto_sub not found (apt-get install mosquitto-clients)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found (apt-get install -y time)" >&2; exit 1; }

cargo build --release --quiet
mqtk=target/release/mqtk
topic=spBv1.0/bench/NDATA/edge1

# No queue limit: a slow subscriber must get every QoS 0 message, or -C never ends.
start_mosquitto 'max_queued_messages 0' 'max_queued_bytes 0'

# The publisher: one raw MQTT 3.1.1 connection writing N QoS 0 PUBLISHes of NDATA
# payloads, protobuf encoded here by hand (field keys and varints), seq counting 0..255.
cat >"$WORK/flood.py" <<'PY'
import socket, struct, sys
port, n, topic = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

def field(num, wire, body):
    key = varint(num << 3 | wire)
    if wire == 2:
        return key + varint(len(body)) + body
    return key + body

T = 1700000000000
def metric(alias, dt, value_field):
    # alias (2), timestamp (3), datatype (4), then the value.
    return field(2, 2, field(2, 0, varint(alias)) + field(3, 0, varint(T + alias))
                 + field(4, 0, varint(dt)) + value_field)

metrics = b"".join([
    metric(1, 9, field(12, 5, struct.pack("<f", 21.5))),    # Float
    metric(2, 9, field(12, 5, struct.pack("<f", -3.25))),
    metric(3, 9, field(12, 5, struct.pack("<f", 1013.2))),
    metric(4, 9, field(12, 5, struct.pack("<f", 0.5))),
    metric(5, 10, field(13, 1, struct.pack("<d", 230.125))),  # Double
    metric(6, 10, field(13, 1, struct.pack("<d", 49.98))),
    metric(7, 3, field(10, 0, varint(0xFFFFFFF6))),          # Int32 -10
    metric(8, 3, field(10, 0, varint(1200))),
    metric(9, 11, field(14, 0, varint(1))),                  # Boolean
    metric(10, 4, field(11, 0, varint(123456789012))),       # Int64
])

def remaining(v):
    out = bytearray()
    while True:
        b = v % 128
        v //= 128
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)

packets = []
for seq in range(256):
    payload = field(1, 0, varint(T)) + metrics + field(3, 0, varint(seq))
    body = len(topic).to_bytes(2, "big") + topic + payload
    packets.append(b"\x30" + remaining(len(body)) + body)

s = socket.create_connection(("127.0.0.1", port))
cid = b"bench-flood"
var = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
s.sendall(b"\x10" + bytes([len(var)]) + var)
assert s.recv(4)[:2] == b"\x20\x02"
chunk = []
for i in range(n):
    chunk.append(packets[i % 256])
    if len(chunk) == 1024:
        s.sendall(b"".join(chunk))
        chunk = []
s.sendall(b"".join(chunk) + b"\xe0\x00")
s.close()
PY

# One round: both subscribers at once, then the flood. Prints "tool cpu_s rss_kb".
round() {
    local mosq_args=$1 mqtk_args=$2 t pids=()
    for t in mosq mqtk; do
        local cmd
        if [ "$t" = mosq ]; then
            cmd="mosquitto_sub $mosq_args"
        else
            cmd="$mqtk sub $mqtk_args"
        fi
        /usr/bin/time -o "$WORK/$t.time" -f '%e %U %S %M' \
            $cmd -p "$PORT" -t "$topic" -C "$n" -W 300 >/dev/null &
        pids+=($!)
    done
    sleep 1
    python3 "$WORK/flood.py" "$PORT" "$n" "$topic"
    # Not a bare `wait`: the broker is a child too.
    wait "${pids[@]}"
    for t in mosq mqtk; do
        read -r _e user sys rss <"$WORK/$t.time"
        awk -v t="$t" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN {printf "%s %.3f %d\n", t, u + s, r}'
    done
}

report() {
    local name=$1 mosq_args=$2 mqtk_args=$3
    : >"$WORK/results"
    for ((r = 1; r <= rounds; r++)); do round "$mosq_args" "$mqtk_args" >>"$WORK/results"; done
    local t cpu
    declare -A us mem
    for t in mosq mqtk; do
        cpu=$(awk -v t="$t" '$1 == t {print $2}' "$WORK/results" | median)
        mem[$t]=$(awk -v t="$t" '$1 == t {print $3}' "$WORK/results" | median)
        us[$t]=$(awk -v c="$cpu" -v n="$n" 'BEGIN {printf "%.2f", c * 1e6 / n}')
    done
    echo "$name"
    printf '  mosquitto_sub %-28s %8s µs/msg  RSS %6sK\n' "$mosq_args" "${us[mosq]}" "${mem[mosq]}"
    printf '  mqtk sub      %-28s %8s µs/msg  RSS %6sK\n' "$mqtk_args" "${us[mqtk]}" "${mem[mqtk]}"
    awk -v a="${us[mqtk]}" -v b="${us[mosq]}" \
        'BEGIN {printf "  CPU/msg ratio mqtk/mosquitto_sub %.2f (target < 1)\n\n", a / b}'
}

echo "N=$n Sparkplug B NDATA payloads (10 metrics), QoS 0, $rounds round(s), medians; broker: $MOSQUITTO on 127.0.0.1:$PORT"
report "raw -v vs decoded -v" "-v" "-v --decode sparkplug"
report "raw %j vs decoded %j" "-F %j" "-F %j --decode sparkplug"
