#!/usr/bin/env bash
# bench/compare.sh: mqtk bench against its peers, side by side in one run, against
# the same local Debian mosquitto on a free loopback port.
#
# 1. Publisher cost, QoS 0, 16-byte payloads, no subscriber: CPU seconds (user+sys,
#    /usr/bin/time) per million messages and msg/s, for
#      mosquitto_pub -l (one message per stdin line), mqtk bench pub,
#      mqttv5 bench (crates.io mqttv5-cli; set MQTTV5=path, skipped if absent),
#      a paho-mqtt publisher loop (bench/paho_pub.py; skipped without paho).
# 2. Throughput 1 publisher -> 1 subscriber, QoS 0, 16 bytes: the ceiling measured
#    with a minimal raw-socket pair (bench/rawpair.py, two processes), then mqtk
#    bench (pub+sub in one thread), then `bench sub` + `bench pub` as two processes;
#    the shares of the ceiling. ROUNDS alternating rounds, medians.
#
# Usage: bench/compare.sh [MESSAGES] [ROUNDS]    (defaults 1000000 and 3)
# Needs: cargo build --release; mosquitto, mosquitto_pub, python3, /usr/bin/time.
# Loopback only; everything temporary is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

n=${1:-1000000}
rounds=${2:-3}
mqtk=${MQTK:-target/release/mqtk}
mqttv5=${MQTTV5:-$(command -v mqttv5 || true)}
[ -n "$mqttv5" ] || [ ! -x /tmp/mqttv5-build/root/bin/mqttv5 ] || mqttv5=/tmp/mqttv5-build/root/bin/mqttv5
[ -x "$mqtk" ] || { echo "no $mqtk: run cargo build --release first" >&2; exit 1; }
[ -x "$MOSQUITTO" ] || { echo "mosquitto not found" >&2; exit 1; }
[ "$n" -ge 1000 ] && [ "$n" -le 50000000 ] || { echo "MESSAGES must be 1000..50000000" >&2; exit 1; }
[ "$rounds" -ge 1 ] && [ "$rounds" -le 9 ] || { echo "ROUNDS must be 1..9" >&2; exit 1; }

start_mosquitto 'log_dest none'

# "user sys elapsed" of a command.
timed() { /usr/bin/time -f '%U %S %e' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }; cat "$WORK/time"; }
row() { # name count "user sys elapsed"
    awk -v name="$1" -v n="$2" -v t="$3" 'BEGIN {split(t, a, " "); cpu = a[1] + a[2];
        printf "%-24s %10d msgs  %8.3f CPU s/M msgs  %10.0f msg/s\n", name, n, cpu / n * 1e6, n / a[3]}'
}

echo "mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}') on 127.0.0.1:$PORT; $(nproc) cores; $n messages"
echo
echo "== publisher cost: QoS 0, 16-byte payloads, no subscriber =="
python3 -c "import sys; sys.stdout.write(('x'*16 + '\n') * $n)" >"$WORK/lines"
for ((r = 1; r <= rounds; r++)); do
    row "mosquitto_pub -l" "$n" "$(timed mosquitto_pub -h 127.0.0.1 -p "$PORT" -t bench/pub -q 0 -l <"$WORK/lines")"
    row "mqtk bench pub" "$n" "$(timed "$mqtk" bench pub -h 127.0.0.1 -p "$PORT" -t bench/pub -q 0 -s 16 -L "$n" --quiet)"
    if [ -n "$mqttv5" ]; then
        # Duration-based: the count is the "published" of its JSON result.
        t=$(timed "$mqttv5" bench --mode throughput --host 127.0.0.1 --port "$PORT" --topic bench/pub \
            --qos 0 --payload-size 16 --publishers 1 --subscribers 0 --duration 5 --warmup 0)
        vn=$(grep -o '"published": *[0-9]*' "$WORK/out" | grep -o '[0-9]*$')
        row "mqttv5 bench" "$vn" "$t"
    fi
    if python3 -c 'import paho.mqtt' 2>/dev/null; then
        pn=$((n / 10))
        row "paho-mqtt (python)" "$pn" "$(timed python3 bench/paho_pub.py 127.0.0.1 "$PORT" "$pn" 16 bench/pub)"
    fi
done

echo
echo "== throughput: 1 publisher -> 1 subscriber, QoS 0, 16 bytes =="
for ((r = 1; r <= rounds; r++)); do
    python3 bench/rawpair.py 127.0.0.1 "$PORT" "$n" 16 bench/raw | tee -a "$WORK/raw"
    "$mqtk" bench -h 127.0.0.1 -p "$PORT" -t bench/mqtk -q 0 -s 16 -L "$n" --quiet --json "$WORK/pair.json" | grep -E 'received|loss'
    python3 -c "import json; r = json.load(open('$WORK/pair.json')); print(r['rates']['received_per_s'])" >>"$WORK/mqtk"
    # The same pair as two processes (bench sub, then bench pub), like the raw pair.
    "$mqtk" bench sub -h 127.0.0.1 -p "$PORT" -t bench/mqtk2 -q 0 -L "$n" --duration 120 --quiet \
        --json "$WORK/sub.json" >"$WORK/sub.out" &
    sub_pid=$!
    sleep 0.5
    "$mqtk" bench pub -h 127.0.0.1 -p "$PORT" -t bench/mqtk2 -q 0 -s 16 -L "$n" --quiet >/dev/null
    wait "$sub_pid"
    python3 -c "import json; r = json.load(open('$WORK/sub.json')); print(r['rates']['received_per_s'])" |
        tee -a "$WORK/mqtk2" | awk '{printf "  two processes: received %.0f msg/s\n", $1}'
done
raw=$(awk '{print $(NF-1)}' "$WORK/raw" | median)
mq=$(median <"$WORK/mqtk")
mq2=$(median <"$WORK/mqtk2")
awk -v a="$mq" -v c="$mq2" -v b="$raw" 'BEGIN {printf "ceiling (raw pair) median %.0f msg/s; mqtk bench median %.0f msg/s (share %.1f%%); bench sub + bench pub median %.0f msg/s (share %.1f%%)\n", b, a, 100 * a / b, c, 100 * c / b}'
