# shellcheck shell=bash
# bench/lib.sh: what the bench scripts share, sourced after `set -euo pipefail`: a
# temporary work directory removed on exit (with the broker, if one was started),
# Debian's mosquitto on a free loopback port, and the median of a column of numbers.

MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
WORK=$(mktemp -d)
BROKER_PID=
bench_cleanup() {
    if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap bench_cleanup EXIT

# A free TCP port on 127.0.0.1 (bound and released; mosquitto can't report its own).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 40000))
}

# start_mosquitto [CONF_LINE...]: starts $MOSQUITTO in the background on a free loopback
# port with anonymous access and the given extra config lines (its log goes to
# $WORK/broker.log), waits up to 5 s until it accepts connections, and sets PORT and
# BROKER_PID.
start_mosquitto() {
    PORT=$(free_port)
    {
        printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$PORT"
        if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
    } >"$WORK/mosquitto.conf"
    "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/broker.log" 2>&1 &
    BROKER_PID=$!
    for _ in $(seq 50); do
        (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
}

# The median of numbers, one a line on stdin (the upper middle one for an even count).
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
