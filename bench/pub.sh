#!/usr/bin/env bash
# bench/pub.sh: mqtk pub side by side with Debian's mosquitto_pub against one local
# mosquitto broker (default config, loopback, free port). Prints medians of ROUNDS
# runs and our/their ratios for the targets of issue #3:
#   - one QoS 0 publish, whole process wall time;
#   - -l with LINES lines at QoS 0 and QoS 1: client CPU (user+sys) per message,
#     and messages per second *delivered* to a subscriber (mosquitto_sub, counted);
#   - peak RSS for -l with BIG_LINES lines.
# Usage: bench/pub.sh [ROUNDS] [LINES] [BIG_LINES]
set -euo pipefail

ROUNDS=${1:-5}
LINES=${2:-200000}
BIG_LINES=${3:-2000000}
HERE=$(cd "$(dirname "$0")/.." && pwd)
. "$HERE/bench/lib.sh"

for tool in mosquitto mosquitto_pub mosquitto_sub; do
    if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
        echo "bench/pub.sh: $tool is missing (apt-get install mosquitto mosquitto-clients)" >&2
        exit 1
    fi
done
if [ ! -x /usr/bin/time ]; then
    echo "bench/pub.sh: installing GNU time for peak RSS" >&2
    apt-get install -y time >/dev/null
fi

(cd "$HERE" && cargo build --release --quiet)
MQTK="$HERE/target/release/mqtk"

# No extra config lines (not the script's arguments).
# shellcheck disable=SC2119
start_mosquitto

seq -f "line %g of the benchmark input" 1 "$LINES" >"$WORK/lines"
seq -f "line %g of the benchmark input" 1 "$BIG_LINES" >"$WORK/big"

# Its own median: the mean of the middle two for an even count (ROUNDS may be even).
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now_ns() { date +%s%N; }

# pub_tool NAME → the command line prefix for that tool.
pub_tool() {
    case $1 in
        mosquitto) echo "mosquitto_pub" ;;
        mqtk) echo "$MQTK pub" ;;
    esac
}

# single NAME → wall ms of one QoS 0 publish.
single() {
    local t0 t1
    t0=$(now_ns)
    $(pub_tool "$1") -p "$PORT" -t bench/single -m hello
    t1=$(now_ns)
    echo "scale=3; ($t1 - $t0) / 1000000" | bc
}

# lines NAME QOS → "cpu_us_per_msg delivered_per_s delivered"
lines() {
    local name=$1 qos=$2 topic="bench/l/$1/$2/$RANDOM"
    mosquitto_sub -p "$PORT" -t "$topic" -q "$qos" -C "$LINES" -W 60 >"$WORK/sub.out" 2>/dev/null &
    local sub=$!
    sleep 0.3
    local t0 t1
    t0=$(now_ns)
    /usr/bin/time -f '%U %S %M' -o "$WORK/time" $(pub_tool "$name") -p "$PORT" -t "$topic" -l -q "$qos" <"$WORK/lines" || true
    t1=$(now_ns)
    # Give the broker 2 s to flush what it has to the subscriber, then count.
    sleep 2
    kill "$sub" 2>/dev/null || true
    wait "$sub" 2>/dev/null || true
    local delivered user sys
    delivered=$(wc -l <"$WORK/sub.out")
    read -r user sys _ <"$WORK/time"
    echo "$(echo "scale=3; ($user + $sys) * 1000000 / $LINES" | bc) $(echo "scale=0; $delivered * 1000000000 / ($t1 - $t0)" | bc) $delivered"
}

# rss NAME → peak RSS in KB for -l with BIG_LINES lines at QoS 0.
rss() {
    /usr/bin/time -f '%M' -o "$WORK/time" $(pub_tool "$1") -p "$PORT" -t bench/rss -l <"$WORK/big" || true
    cat "$WORK/time"
}

declare -A R
for tool in mosquitto mqtk; do
    R[$tool.single]="" R[$tool.q0cpu]="" R[$tool.q1cpu]="" R[$tool.q0rate]="" R[$tool.q1rate]=""
    R[$tool.q0del]="" R[$tool.q1del]="" R[$tool.rss]=""
done
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    for tool in mosquitto mqtk; do
        R[$tool.single]+="$(single $tool) "
        read -r cpu rate del < <(lines $tool 0)
        R[$tool.q0cpu]+="$cpu " R[$tool.q0rate]+="$rate " R[$tool.q0del]+="$del "
        read -r cpu rate del < <(lines $tool 1)
        R[$tool.q1cpu]+="$cpu " R[$tool.q1rate]+="$rate " R[$tool.q1del]+="$del "
        R[$tool.rss]+="$(rss $tool) "
    done
done

med() { tr ' ' '\n' <<<"${R[$1]}" | grep -v '^$' | median; }
ratio() { echo "scale=3; $1 / $2" | bc; }

printf '\n%-44s %14s %14s %10s\n' "median of $ROUNDS rounds" mosquitto_pub "mqtk pub" ratio
row() {
    local label=$1 key=$2 a b
    a=$(med "mosquitto.$key")
    b=$(med "mqtk.$key")
    printf '%-44s %14s %14s %10s\n' "$label" "$a" "$b" "$(ratio "$b" "$a")"
}
row "one QoS 0 publish, wall ms" single
row "-l $LINES lines QoS 0: CPU us/msg" q0cpu
row "-l $LINES lines QoS 1: CPU us/msg" q1cpu
row "-l QoS 0: delivered msgs/s" q0rate
row "-l QoS 1: delivered msgs/s" q1rate
row "-l QoS 0: messages delivered" q0del
row "-l QoS 1: messages delivered" q1del
row "-l $BIG_LINES lines: peak RSS KB" rss
