#!/usr/bin/env bash
# bench/passwd.sh: `-U` of a plain-text password file, mqtk vs mosquitto_passwd,
# at the same hash settings (sha512-pbkdf2, 101 iterations, 12-byte salt: the
# default of both). Prints each tool's median of RUNS runs and the ratio
# mqtk/mosquitto (lower is better; the target is <= 0.6 on 2 cores).
#
# Usage: bench/passwd.sh [USERS] [RUNS]     (defaults 20000 and 3)
# Needs a release build (cargo build --release) and mosquitto_passwd on PATH.
# No network; everything happens in a temporary directory that is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

users=${1:-20000}
runs=${2:-3}
mqtk=${MQTK:-target/release/mqtk}
mosq=${MOSQUITTO_PASSWD:-$(command -v mosquitto_passwd || true)}

[ -x "$mqtk" ] || { echo "no $mqtk: run cargo build --release first" >&2; exit 1; }
[ -n "$mosq" ] || { echo "mosquitto_passwd not found (apt-get install mosquitto)" >&2; exit 1; }
[ "$users" -ge 1 ] && [ "$users" -le 1000000 ] || { echo "USERS must be 1..1000000" >&2; exit 1; }
[ "$runs" -ge 1 ] && [ "$runs" -le 15 ] || { echo "RUNS must be 1..15" >&2; exit 1; }

plain="$WORK/plain"
for ((i = 0; i < users; i++)); do printf 'user%d:password%d\n' "$i" "$i"; done >"$plain"

# Seconds (with milliseconds) that one `-U` of a fresh copy takes.
one_run() {
    cp "$plain" "$WORK/pw"
    local start end
    start=$(date +%s.%N)
    "$@" -U "$WORK/pw" >/dev/null
    end=$(date +%s.%N)
    # Sanity: every line must now be hashed.
    if grep -qv ':\$7\$101\$' "$WORK/pw"; then echo "unhashed lines after $1" >&2; exit 1; fi
    awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f\n", e - s}'
}

echo "users=$users runs=$runs cores=$(nproc)"
mq=$(for ((r = 0; r < runs; r++)); do one_run "$mqtk" passwd; done | median)
mo=$(for ((r = 0; r < runs; r++)); do one_run "$mosq"; done | median)
printf 'mqtk passwd -U       median %.3f s\n' "$mq"
printf 'mosquitto_passwd -U  median %.3f s\n' "$mo"
awk -v a="$mq" -v b="$mo" 'BEGIN {printf "ratio mqtk/mosquitto %.2f\n", a / b}'
