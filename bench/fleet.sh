#!/usr/bin/env bash
# bench/fleet.sh: what running as a shard costs, side by side in one run against the
# same local Debian mosquitto on a free loopback port.
#
# 1. 1 publisher -> 1 subscriber, QoS 0, 16 bytes: the ceiling of a minimal raw-socket
#    pair (bench/rawpair.py), mqtk bench, and mqtk bench with --metrics scraped every
#    second (as Prometheus would); each one's share of the ceiling.
# 2. Two shards (--shard 0/2 and 1/2, one --start-at, half the messages each, so two
#    pairs on topics of their own) beside one process with one pair (-c 1) and with
#    the same two pairs (-c 2): merged received rates (when the broker is the limit,
#    they should be equal). As a control, two raw pairs at once (half the messages
#    each) against one: what the broker itself does with two pairs instead of one.
# ROUNDS alternating rounds, medians.
#
# Usage: bench/fleet.sh [MESSAGES] [ROUNDS]    (defaults 1000000 and 3)
# Needs: cargo build --release; mosquitto, python3, curl. Loopback only; everything
# temporary is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

n=${1:-1000000}
rounds=${2:-3}
mqtk=${MQTK:-target/release/mqtk}
[ -x "$mqtk" ] || { echo "no $mqtk: run cargo build --release first" >&2; exit 1; }
[ -x "$MOSQUITTO" ] || { echo "mosquitto not found" >&2; exit 1; }
[ "$n" -ge 1000 ] && [ "$n" -le 50000000 ] || { echo "MESSAGES must be 1000..50000000" >&2; exit 1; }
[ "$rounds" -ge 1 ] && [ "$rounds" -le 9 ] || { echo "ROUNDS must be 1..9" >&2; exit 1; }

# An interrupted run still stops the broker and removes $WORK (lib.sh's EXIT trap).
trap 'exit 130' INT TERM
start_mosquitto 'log_dest none'
rate() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['rates']['received_per_s'])" "$1"; }
bench() { "$mqtk" bench -h 127.0.0.1 -p "$PORT" -q 0 -s 16 --quiet "$@"; }
# timed NAME ARGS...: bench ARGS, with its CPU time (user+sys, ms) appended to
# $WORK/NAME.cpu when GNU time is installed. It follows the broker's pace: a client
# woken for fewer messages at a time makes more system calls per message, so on a
# busy machine it comes in two modes (about 0.2 s or over 1 s for a million here),
# with or without --metrics alike.
timed() {
    local name=$1
    shift
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%U %S' -o "$WORK/$name.time" "$mqtk" bench -h 127.0.0.1 -p "$PORT" -q 0 -s 16 --quiet "$@"
        awk '{printf "%.0f\n", ($1 + $2) * 1000}' "$WORK/$name.time" >>"$WORK/$name.cpu"
    else
        bench "$@"
    fi
}
cpu() { if [ -s "$WORK/$1.cpu" ]; then tail -1 "$WORK/$1.cpu"; else echo "?"; fi; }
plain() {
    timed plain -t bench/plain -L "$n" --json "$WORK/plain.json" >/dev/null
    rate "$WORK/plain.json" | tee -a "$WORK/plain" |
        awk -v c="$(cpu plain)" '{printf "mqtk bench            %10.0f msg/s  %6s ms CPU\n", $1, c}'
}
# With --metrics, scraped each second as Prometheus would.
metrics() {
    local mport pid
    mport=$(free_port)
    timed metrics -t bench/metrics -L "$n" --metrics "127.0.0.1:$mport" --json "$WORK/metrics.json" >/dev/null &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        curl -s "http://127.0.0.1:$mport/metrics" >/dev/null || true
        sleep 1
    done
    wait "$pid"
    rate "$WORK/metrics.json" | tee -a "$WORK/metrics" |
        awk -v c="$(cpu metrics)" '{printf "  with --metrics      %10.0f msg/s  %6s ms CPU\n", $1, c}'
}

echo "mosquitto on 127.0.0.1:$PORT; $(nproc) cores; $n messages"
for ((r = 1; r <= rounds; r++)); do
    python3 bench/rawpair.py 127.0.0.1 "$PORT" "$n" 16 bench/raw | awk '{print $(NF-1)}' | tee -a "$WORK/raw" |
        awk '{printf "raw pair              %10.0f msg/s\n", $1}'
    # Alternate which goes first, so that neither always follows the raw pair.
    if ((r % 2)); then plain; metrics; else metrics; plain; fi
    # The shards' load (two pairs, each on its own topic) in one process.
    bench -t "bench/two/%i" -c 2 -L "$n" --json "$WORK/two.json" >/dev/null
    rate "$WORK/two.json" | tee -a "$WORK/two" | awk '{printf "  -c 2, one process   %10.0f msg/s\n", $1}'
    at=$(python3 -c 'import time; print(f"{time.time() + 1:.3f}")')
    pids=()
    for i in 0 1; do
        bench -t "bench/fleet/%i" -L $((n / 2)) --shard "$i/2" --start-at "$at" --json "$WORK/s$i.json" >/dev/null &
        pids+=($!)
    done
    # Not a bare `wait`: that would also wait for the broker.
    wait "${pids[@]}"
    "$mqtk" bench merge "$WORK/s0.json" "$WORK/s1.json" --json "$WORK/merged.json" >/dev/null
    rate "$WORK/merged.json" | tee -a "$WORK/shards" | awk '{printf "  two shards, merged  %10.0f msg/s\n", $1}'
    # The broker's own answer to two pairs instead of one: two raw pairs at once.
    pids=()
    for i in 0 1; do
        python3 bench/rawpair.py 127.0.0.1 "$PORT" $((n / 2)) 16 "bench/raw$i" >"$WORK/raw$i" &
        pids+=($!)
    done
    wait "${pids[@]}"
    cat "$WORK/raw0" "$WORK/raw1" | awk '{s += $(NF-1)} END {print s}' | tee -a "$WORK/raw2" |
        awk '{printf "two raw pairs         %10.0f msg/s\n", $1}'
done
raw=$(median <"$WORK/raw")
plain=$(median <"$WORK/plain")
metrics=$(median <"$WORK/metrics")
shards=$(median <"$WORK/shards")
raw2=$(median <"$WORK/raw2")
two=$(median <"$WORK/two")
pc=$( ([ -s "$WORK/plain.cpu" ] && median <"$WORK/plain.cpu") || echo "?")
mc=$( ([ -s "$WORK/metrics.cpu" ] && median <"$WORK/metrics.cpu") || echo "?")
awk -v raw="$raw" -v p="$plain" -v m="$metrics" -v s="$shards" -v r2="$raw2" -v two="$two" -v pc="$pc" -v mc="$mc" 'BEGIN {
    printf "medians: ceiling %.0f msg/s; mqtk bench %.0f (%.1f%%); with --metrics %.0f (%.1f%%); CPU ms: bench %s, with --metrics %s\n",
        raw, p, 100 * p / raw, m, 100 * m / raw, pc, mc
    printf "two pairs: two shards %.0f msg/s (%.1f%% of -c 1, %.1f%% of -c 2 in one process %.0f); two raw pairs %.0f (%.1f%% of one)\n",
        s, 100 * s / p, 100 * s / two, two, r2, 100 * r2 / raw }'
