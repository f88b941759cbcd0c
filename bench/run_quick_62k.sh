#!/bin/sh
# The whole `quick` experiment at the paper's size (issue 17): a synthetic
# catalog of 62,138 items in the paper's shape (41,425 users, 30
# interactions each on average: 1.24M interactions; 20 queries per item,
# 10 for training), then `semid experiment --preset quick` on it, each under
# /usr/bin/time -v: wall seconds, CPU seconds (user + system), peak memory.
# The load average is noted at the start and the end (the machine may be
# shared), and the experiment's log gets a clock time on every line, so the
# stages can be read off it.
#   bench/run_quick_62k.sh [BUILD_DIR] [OUT_DIR] [ITEMS] [key=value ...]
# e.g. bench/run_quick_62k.sh build/release /tmp/semid-quick-62k
# Extra arguments go to `semid experiment` as overrides. OUT_DIR/run is the
# run directory (delete it to time a fresh run: stages are cached there);
# OUT_DIR/summary.tsv gets one row per command.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
OUT=${2:-/tmp/semid-quick-62k}
N=${3:-62138}
[ $# -ge 3 ] && shift 3 || shift $#
S="$BUILD/semid"
T=/usr/bin/time
[ -x "$T" ] || { echo "run_quick_62k: needs GNU time at $T (apt-get install time)" >&2; exit 1; }
command -v perl >/dev/null || { echo "run_quick_62k: needs perl (time stamps on the log)" >&2; exit 1; }
mkdir -p "$OUT"
SUM="$OUT/summary.tsv"
[ -s "$SUM" ] || printf 'command\titems\twall_s\tcpu_s\tpeak_kb\tload1_start\tload1_end\n' >"$SUM"

# stamp: a clock time before each line of stdin.
stamp() { perl -MPOSIX -pe 'BEGIN { $| = 1 } $_ = strftime("%H:%M:%S ", localtime) . $_'; }

# timed NAME CMD...: runs CMD under time -v, its output (both streams)
# stamped into OUT/NAME.log, and appends a row to the summary.
timed() {
    name=$1
    shift
    load0=$(cut -d' ' -f1 /proc/loadavg)
    echo "$(date -u +%FT%TZ) $name: start, $(uptime)" | tee -a "$OUT/uptime.log"
    # The exit status crosses the pipe in a file (the left side is a subshell).
    { rc=0; "$T" -v -o "$OUT/$name.time" "$@" 2>&1 || rc=$?; echo "$rc" >"$OUT/$name.rc"; } | stamp >"$OUT/$name.log"
    rc=$(cat "$OUT/$name.rc")
    load1=$(cut -d' ' -f1 /proc/loadavg)
    echo "$(date -u +%FT%TZ) $name: end (exit $rc), $(uptime)" | tee -a "$OUT/uptime.log"
    [ "$rc" -eq 0 ] || { echo "run_quick_62k: $name failed (exit $rc):" >&2; tail -5 "$OUT/$name.log" >&2; exit 1; }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$OUT/$name.time")
    cpu=$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {printf "%.1f", u + s}' "$OUT/$name.time")
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/$name.time")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$N" "$wall" "$cpu" "$kb" "$load0" "$load1" >>"$SUM"
    printf '%-12s %6s items: %8.1f s wall, %8.1f CPU s, %6d MB peak (load %s -> %s)\n' "$name" "$N" "$wall" "$cpu" \
        $((kb / 1024)) "$load0" "$load1"
}

USERS=$((N * 2 / 3))
timed synth "$S" data synth --items "$N" --users "$USERS" --history 30 --queries-per-item 20 --queries-train 10 \
    --out "$OUT/data.sdd"
timed experiment "$S" experiment --preset quick --dataset "$OUT/data.sdd" --out "$OUT/run" "$@"
grep -m1 -A3 '^| ' "$OUT/run/report.md" >/dev/null 2>&1 && echo "report: $OUT/run/report.md"
