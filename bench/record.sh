#!/usr/bin/env bash
# bench/record.sh: mqtk replay --speed max against mqtk pub -l for the same MESSAGES
# QoS 0 messages, and mqtk record keeping up with both, side by side against one local
# mosquitto (Debian's, loopback; max_queued_messages 0, so that the broker itself drops
# nothing and a missing message is the recorder's). Each round:
#   1. mqtk record listens while mqtk pub -l publishes MESSAGES lines: pub's rate (wall
#      time of the pub process), and how many the recorder got. pub speaks MQTT 5, as
#      replay does by default (pub's default is 3.1.1, whose PUBLISH mosquitto handles
#      faster: without -V the two would not send the same packets);
#   2. that recording is replayed with --speed max (to another topic, --topic-map)
#      while a second mqtk record listens: replay's rate (wall time of the replay
#      process, its validation pass included), and how many the recorder got.
# Prints medians of ROUNDS rounds and replay/pub, and the CPU time (user+sys) of each
# process, which depends less on what else the machine runs. A round fails loudly if a
# recorder misses a message.
# Usage: bench/record.sh [ROUNDS] [MESSAGES]
set -euo pipefail

ROUNDS=${1:-5}
MESSAGES=${2:-200000}
HERE=$(cd "$(dirname "$0")/.." && pwd)
. "$HERE/bench/lib.sh"

if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
    echo "bench/record.sh: mosquitto is missing (apt-get install mosquitto)" >&2
    exit 1
fi
if [ ! -x /usr/bin/time ]; then
    echo "bench/record.sh: installing GNU time for CPU times" >&2
    apt-get install -y time >/dev/null
fi

(cd "$HERE" && cargo build --release --quiet)
MQTK="$HERE/target/release/mqtk"

start_mosquitto "max_queued_messages 0"

seq -f "line %g of the benchmark input" 1 "$MESSAGES" >"$WORK/lines"

now_ns() { date +%s%N; }

# listen TOPIC FILE: a recorder in the background (its pid in LISTENER), started and
# given time to subscribe (mosquitto logs nothing here to wait on).
listen() {
    "$MQTK" record -p "$PORT" -t "$1" -o "$2" -C "$MESSAGES" 2>"$WORK/record.err" &
    LISTENER=$!
    sleep 0.5
}

# heard FILE: waits up to 20 s for the recorder to have all messages (it exits at
# -C), stops it if not, and prints how many messages the record holds.
heard() {
    for _ in $(seq 200); do
        kill -0 "$LISTENER" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM "$LISTENER" 2>/dev/null || true
    wait "$LISTENER" 2>/dev/null || true
    echo $(($(wc -l <"$1") - 1))
}

# rate T0 T1 → messages per second over that wall time.
rate() { echo "scale=0; $MESSAGES * 1000000000 / ($2 - $1)" | bc; }
# cpu → the CPU milliseconds /usr/bin/time wrote to $WORK/time.
cpu() { read -r user sys <"$WORK/time"; echo "scale=0; ($user + $sys) * 1000 / 1" | bc; }

declare -a PUB REPLAY PUB_HEARD REPLAY_HEARD REPLAY_OWN PUB_CPU REPLAY_CPU
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    topic="bench/rec/$round"
    listen "$topic" "$WORK/pub.ndjson"
    t0=$(now_ns)
    /usr/bin/time -f '%U %S' -o "$WORK/time" "$MQTK" pub -V mqttv5 -p "$PORT" -t "$topic" -l <"$WORK/lines"
    t1=$(now_ns)
    PUB+=("$(rate "$t0" "$t1")")
    PUB_CPU+=("$(cpu)")
    PUB_HEARD+=("$(heard "$WORK/pub.ndjson")")

    listen "bench/again/$round" "$WORK/replay.ndjson"
    t0=$(now_ns)
    /usr/bin/time -f '%U %S' -o "$WORK/time" "$MQTK" replay -p "$PORT" --speed max \
        --topic-map "$topic=bench/again/$round" "$WORK/pub.ndjson" 2>"$WORK/replay.err"
    t1=$(now_ns)
    REPLAY+=("$(rate "$t0" "$t1")")
    REPLAY_CPU+=("$(cpu)")
    REPLAY_HEARD+=("$(heard "$WORK/replay.ndjson")")
    # replay's own figure: first message sent to everything written.
    REPLAY_OWN+=("$(sed -n 's/.*speed max, \([0-9]*\) messages\/s.*/\1/p' "$WORK/replay.err")")
    for n in "${PUB_HEARD[-1]}" "${REPLAY_HEARD[-1]}"; do
        if [ "$n" != "$MESSAGES" ]; then
            echo "bench/record.sh: a recorder got $n of $MESSAGES messages" >&2
            cat "$WORK/record.err" "$WORK/replay.err" >&2
            exit 1
        fi
    done
done

med() { printf '%s\n' "$@" | median; }
pub=$(med "${PUB[@]}")
replay=$(med "${REPLAY[@]}")
printf '\n%-58s %12s\n' "median of $ROUNDS rounds, $MESSAGES QoS 0 messages" "messages/s"
printf '%-58s %12s\n' "mqtk pub -l (wall time of the process)" "$pub"
printf '%-58s %12s\n' "mqtk replay --speed max (wall time, validation included)" "$replay"
printf '%-58s %12s\n' "mqtk replay --speed max (its own summary, sending only)" "$(med "${REPLAY_OWN[@]}")"
printf '%-58s %12s\n' "replay / pub" "$(echo "scale=3; $replay / $pub" | bc)"
printf '%-58s %12s\n' "mqtk pub -l: CPU ms (user+sys)" "$(med "${PUB_CPU[@]}")"
printf '%-58s %12s\n' "mqtk replay --speed max: CPU ms (user+sys, all threads)" "$(med "${REPLAY_CPU[@]}")"
printf '%-58s %12s\n' "recorded while pub -l ran (min over rounds)" "$(printf '%s\n' "${PUB_HEARD[@]}" | sort -n | head -1)"
printf '%-58s %12s\n' "recorded while replay ran (min over rounds)" "$(printf '%s\n' "${REPLAY_HEARD[@]}" | sort -n | head -1)"
