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

n=${1:-1000000}
rounds=${2:-3}
mqtk=${MQTK:-target/release/mqtk}
mqttv5=${MQTTV5:-$(command -v mqttv5 || true)}
[ -n "$mqttv5" ] || [ ! -x /tmp/mqttv5-build/root/bin/mqttv5 ] || mqttv5=/tmp/mqttv5-build/root/bin/mqttv5
[ -x "$mqtk" ] || { echo "no $mqtk: run cargo build --release first" >&2; exit 1; }
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { echo "mosquitto not found" >&2; exit 1; }
[ "$n" -ge 1000 ] && [ "$n" -le 50000000 ] || { echo "MESSAGES must be 1000..50000000" >&2; exit 1; }
[ "$rounds" -ge 1 ] && [ "$rounds" -le 9 ] || { echo "ROUNDS must be 1..9" >&2; exit 1; }

work=$(mktemp -d)
broker_pid=
cleanup() { [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nlog_dest none\n' "$port" >"$work/mosquitto.conf"
"$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$work/mosquitto.conf" &
broker_pid=$!
for _ in $(seq 50); do
    (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    sleep 0.1
done

# "user sys elapsed" of a command.
timed() { /usr/bin/time -f '%U %S %e' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; return 1; }; cat "$work/time"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
row() { # name count "user sys elapsed"
    awk -v name="$1" -v n="$2" -v t="$3" 'BEGIN {split(t, a, " "); cpu = a[1] + a[2];
        printf "%-24s %10d msgs  %8.3f CPU s/M msgs  %10.0f msg/s\n", name, n, cpu / n * 1e6, n / a[3]}'
}

echo "mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}') on 127.0.0.1:$port; $(nproc) cores; $n messages"
echo
echo "== publisher cost: QoS 0, 16-byte payloads, no subscriber =="
python3 -c "import sys; sys.stdout.write(('x'*16 + '\n') * $n)" >"$work/lines"
for ((r = 1; r <= rounds; r++)); do
    row "mosquitto_pub -l" "$n" "$(timed mosquitto_pub -h 127.0.0.1 -p "$port" -t bench/pub -q 0 -l <"$work/lines")"
    row "mqtk bench pub" "$n" "$(timed "$mqtk" bench pub -h 127.0.0.1 -p "$port" -t bench/pub -q 0 -s 16 -L "$n" --quiet)"
    if [ -n "$mqttv5" ]; then
        # Duration-based: the count is the "published" of its JSON result.
        t=$(timed "$mqttv5" bench --mode throughput --host 127.0.0.1 --port "$port" --topic bench/pub \
            --qos 0 --payload-size 16 --publishers 1 --subscribers 0 --duration 5 --warmup 0)
        vn=$(grep -o '"published": *[0-9]*' "$work/out" | grep -o '[0-9]*$')
        row "mqttv5 bench" "$vn" "$t"
    fi
    if python3 -c 'import paho.mqtt' 2>/dev/null; then
        pn=$((n / 10))
        row "paho-mqtt (python)" "$pn" "$(timed python3 bench/paho_pub.py 127.0.0.1 "$port" "$pn" 16 bench/pub)"
    fi
done

echo
echo "== throughput: 1 publisher -> 1 subscriber, QoS 0, 16 bytes =="
for ((r = 1; r <= rounds; r++)); do
    python3 bench/rawpair.py 127.0.0.1 "$port" "$n" 16 bench/raw | tee -a "$work/raw"
    "$mqtk" bench -h 127.0.0.1 -p "$port" -t bench/mqtk -q 0 -s 16 -L "$n" --quiet --json "$work/pair.json" | grep -E 'received|loss'
    python3 -c "import json; r = json.load(open('$work/pair.json')); print(r['rates']['received_per_s'])" >>"$work/mqtk"
    # The same pair as two processes (bench sub, then bench pub), like the raw pair.
    "$mqtk" bench sub -h 127.0.0.1 -p "$port" -t bench/mqtk2 -q 0 -L "$n" --duration 120 --quiet \
        --json "$work/sub.json" >"$work/sub.out" &
    sub_pid=$!
    sleep 0.5
    "$mqtk" bench pub -h 127.0.0.1 -p "$port" -t bench/mqtk2 -q 0 -s 16 -L "$n" --quiet >/dev/null
    wait "$sub_pid"
    python3 -c "import json; r = json.load(open('$work/sub.json')); print(r['rates']['received_per_s'])" |
        tee -a "$work/mqtk2" | awk '{printf "  two processes: received %.0f msg/s\n", $1}'
done
raw=$(awk '{print $(NF-1)}' "$work/raw" | median)
mq=$(median <"$work/mqtk")
mq2=$(median <"$work/mqtk2")
awk -v a="$mq" -v c="$mq2" -v b="$raw" 'BEGIN {printf "ceiling (raw pair) median %.0f msg/s; mqtk bench median %.0f msg/s (share %.1f%%); bench sub + bench pub median %.0f msg/s (share %.1f%%)\n", b, a, 100 * a / b, c, 100 * c / b}'
