#!/usr/bin/env bash
# Memory under sustained load: `semid serve` on loopback answers search and
# recommendation from 8 + 8 keep-alive connections (bench_serve_load, closed
# loop) for --seconds, while the server's resident memory (VmRSS) is sampled
# every --every seconds. Bounded memory means the last samples stay at the
# level reached after warm-up.
#
#   bench/run_serve_soak.sh --model DIR --queries FILE --histories FILE
#                           [--build build/release] [--seconds 300] [--every 15] [--port 18190]
set -euo pipefail
build=build/release model="" queries="" histories="" seconds=300 every=15 port=18190
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    --histories) histories=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "run_serve_soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n $model && -n $queries && -n $histories ]] || { echo "run_serve_soak.sh: needs --model, --queries and --histories" >&2; exit 2; }

log=$(mktemp /tmp/semid-soak-XXXXXX.log)
"$build/semid" serve --model "$model" --port "$port" --threads 2 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
echo "server pid $pid, RSS at start $(rss) kB"
"$build/bench_serve_load" --port "$port" --queries "$queries" --kind search --connections 8 \
  --requests 100000000 --seconds "$seconds" > "$log.search" 2>&1 &
s=$!
"$build/bench_serve_load" --port "$port" --queries "$histories" --kind recommend --connections 8 \
  --requests 100000000 --seconds "$seconds" > "$log.rec" 2>&1 &
r=$!
printf "%8s %10s\n" "seconds" "RSS_kB"
t=0
while kill -0 $s 2>/dev/null || kill -0 $r 2>/dev/null; do
  printf "%8d %10s\n" "$t" "$(rss)"
  sleep "$every"
  t=$((t + every))
done
wait $s $r || true
printf "%8s %10s\n" "end" "$(rss)"
echo "search:";    tail -n 4 "$log.search"
echo "recommend:"; tail -n 4 "$log.rec"
kill -TERM $pid
wait $pid && echo "server exited 0 after SIGTERM"
trap - EXIT
