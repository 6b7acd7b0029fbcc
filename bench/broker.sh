#!/usr/bin/env bash
# bench/broker.sh: `mqtk broker` beside Debian's mosquitto, same load from `mqtk bench`,
# alternating rounds, medians of messages received per second (all subscribers):
#   1 -> 1   QoS 0, 16-byte payloads, one publisher and one subscriber;
#   10 -> 10 QoS 1, 16-byte payloads, ten publishers and ten subscribers on one topic
#            (fan-in to the topic, every subscriber gets every message).
# Usage: bench/broker.sh [MESSAGES] [ROUNDS]   (defaults 500000 and 3)
# Needs: cargo build --release; mosquitto; python3. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

n=${1:-500000}
rounds=${2:-3}
mqtk=${MQTK:-target/release/mqtk}
[ -x "$mqtk" ] || { echo "no $mqtk: run cargo build --release first" >&2; exit 1; }
[ -x "$MOSQUITTO" ] || { echo "mosquitto not found" >&2; exit 1; }

start_mosquitto 'log_dest none'
mosq_port=$PORT
mosq_pid=$BROKER_PID
mqtk_port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nlog_dest none\n' "$mqtk_port" >"$WORK/mqtk.conf"
"$mqtk" broker -c "$WORK/mqtk.conf" >"$WORK/mqtk.log" 2>&1 &
mqtk_pid=$!
trap 'kill $mqtk_pid $mosq_pid 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do
    (echo >"/dev/tcp/127.0.0.1/$mqtk_port") 2>/dev/null && break
    sleep 0.1
done

# rate NAME PORT ARGS…: one `mqtk bench` run, printing its received messages per second.
rate() {
    local name=$1 port=$2
    shift 2
    "$mqtk" bench -h 127.0.0.1 -p "$port" --quiet --json "$WORK/r.json" "$@" >/dev/null
    python3 -c "import json; r = json.load(open('$WORK/r.json')); print(r['rates']['received_per_s'])" |
        tee -a "$WORK/$name"
}

echo "$(nproc) cores; $n messages a run; $rounds rounds; mosquitto $("$MOSQUITTO" -h 2>/dev/null | head -1 | awk '{print $3}')"
for ((r = 1; r <= rounds; r++)); do
    for b in mqtk mosquitto; do
        port=$mqtk_port
        [ "$b" = mosquitto ] && port=$mosq_port
        one=$(rate "$b-1" "$port" -c 1 -q 0 -s 16 -t bench/one -L "$n")
        ten=$(rate "$b-10" "$port" -c 10 -q 1 -s 16 -t bench/fanin -L "$n")
        printf 'round %d %-10s 1->1 QoS 0 %10.0f msg/s   10->10 QoS 1 %10.0f msg/s\n' "$r" "$b" "$one" "$ten"
    done
done
for t in 1 10; do
    a=$(median <"$WORK/mqtk-$t")
    m=$(median <"$WORK/mosquitto-$t")
    awk -v t="$t" -v a="$a" -v m="$m" 'BEGIN {printf "median %2d->%-2d mqtk %10.0f msg/s  mosquitto %10.0f msg/s  ratio %.2f\n", t, t, a, m, a / m}'
done
