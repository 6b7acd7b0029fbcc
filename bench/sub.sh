#!/usr/bin/env bash
# bench/sub.sh: `mqtk sub` vs Debian's `mosquitto_sub`, side by side in one run on
# the same flood: N QoS 0 messages of 16 bytes through Debian's mosquitto on a free
# loopback port, both subscribers subscribed at once, each timed with /usr/bin/time.
# Cases: `-v > /dev/null`, `-v | cat > /dev/null` (a pipe), `-F '%j' > /dev/null`.
# Prints, per case, the medians over ROUNDS of client CPU per message (user+sys),
# messages per second (from the publisher's start to the subscriber's exit) and peak
# RSS, and the ratios mqtk/mosquitto_sub (CPU: lower is better, target <= 0.5; rate:
# higher is better, target >= 1).
#
# Usage: bench/sub.sh [N] [ROUNDS]        (defaults 1000000 and 3)
# Builds the release binary; needs mosquitto, mosquitto_sub and python3.
# Network: 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

n=${1:-1000000}
rounds=${2:-3}
if [ "$n" -lt 1000 ] || [ "$n" -gt 10000000 ]; then echo "N must be 1000..10000000" >&2; exit 1; fi
if [ "$rounds" -lt 1 ] || [ "$rounds" -gt 9 ]; then echo "ROUNDS must be 1..9" >&2; exit 1; fi
[ -x "$MOSQUITTO" ] || { echo "mosquitto not found (apt-get install mosquitto)" >&2; exit 1; }
command -v mosquitto_sub >/dev/null || { echo "mosquitto_sub not found (apt-get install mosquitto-clients)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found (apt-get install -y time)" >&2; exit 1; }

cargo build --release --quiet
mqtk=target/release/mqtk

# No queue limit: a slow subscriber must get every QoS 0 message, or -C never ends.
start_mosquitto 'max_queued_messages 0' 'max_queued_bytes 0'

# The publisher: one raw MQTT 3.1.1 connection writing N pre-encoded QoS 0 PUBLISHes
# (topic "bench/t", 16-byte payload) in large chunks, as fast as the broker reads.
cat >"$WORK/flood.py" <<'EOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
cid = b"bench-flood"
var = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
s.sendall(b"\x10" + bytes([len(var)]) + var)
assert s.recv(4)[:2] == b"\x20\x02"
topic = b"bench/t"
body = len(topic).to_bytes(2, "big") + topic + b"0123456789abcdef"
pkt = b"\x30" + bytes([len(body)]) + body
chunk = pkt * 4096
left = n
while left >= 4096:
    s.sendall(chunk)
    left -= 4096
s.sendall(pkt * left)
s.sendall(b"\xe0\x00")
s.close()
EOF

# One round of one case: both subscribers at once, then the flood.
# Prints "tool cpu_s rss_kb end_s" lines; end_s is when the subscriber exited.
round() {
    local mode=$1; shift
    local fmt=("$@")
    local t pids=()
    for t in mosq mqtk; do
        local bin=mosquitto_sub
        [ "$t" = mqtk ] && bin="$mqtk sub"
        local cmd="/usr/bin/time -o $WORK/$t.time -f '%e %U %S %M' $bin -p $PORT -t bench/t -C $n -W 300 ${fmt[*]}"
        case $mode in
            null) (eval "$cmd" >/dev/null; date +%s.%N >"$WORK/$t.end") & ;;
            pipe) (eval "$cmd" | cat >/dev/null; date +%s.%N >"$WORK/$t.end") & ;;
        esac
        pids+=($!)
    done
    sleep 1
    local start
    start=$(date +%s.%N)
    python3 "$WORK/flood.py" "$PORT" "$n"
    # Not a bare `wait`: the broker is a child too.
    wait "${pids[@]}"
    for t in mosq mqtk; do
        read -r _e user sys rss <"$WORK/$t.time"
        awk -v t="$t" -v u="$user" -v s="$sys" -v r="$rss" -v st="$start" -v en="$(cat "$WORK/$t.end")" \
            'BEGIN {printf "%s %.3f %d %.3f\n", t, u + s, r, en - st}'
    done
}

report() {
    local name=$1 mode=$2; shift 2
    : >"$WORK/results"
    for ((r = 1; r <= rounds; r++)); do round "$mode" "$@" >>"$WORK/results"; done
    local t cpu rss secs
    declare -A us rate mem
    for t in mosq mqtk; do
        cpu=$(awk -v t="$t" '$1 == t {print $2}' "$WORK/results" | median)
        rss=$(awk -v t="$t" '$1 == t {print $3}' "$WORK/results" | median)
        secs=$(awk -v t="$t" '$1 == t {print $4}' "$WORK/results" | median)
        us[$t]=$(awk -v c="$cpu" -v n="$n" 'BEGIN {printf "%.2f", c * 1e6 / n}')
        rate[$t]=$(awk -v s="$secs" -v n="$n" 'BEGIN {printf "%.0f", n / s}')
        mem[$t]=$rss
    done
    printf '%-22s %14s %14s %12s %12s %10s %10s\n' "$name" \
        "mosq µs/msg" "mqtk µs/msg" "mosq msg/s" "mqtk msg/s" "mosq RSS" "mqtk RSS"
    printf '%-22s %14s %14s %12s %12s %9sK %9sK\n' "" "${us[mosq]}" "${us[mqtk]}" \
        "${rate[mosq]}" "${rate[mqtk]}" "${mem[mosq]}" "${mem[mqtk]}"
    awk -v a="${us[mqtk]}" -v b="${us[mosq]}" -v c="${rate[mqtk]}" -v d="${rate[mosq]}" \
        'BEGIN {printf "%-22s CPU/msg ratio %.2f (target <= 0.5), rate ratio %.2f (target >= 1)\n\n", "", a / b, c / d}'
}

echo "N=$n messages of 16 bytes, QoS 0, $rounds round(s), medians; broker: $MOSQUITTO on 127.0.0.1:$PORT"
report "-v > /dev/null" null -v
report "-v | cat > /dev/null" pipe -v
report "-F %j > /dev/null" null -F "'%j'"
