#!/usr/bin/env bash
# Load on `semid serve` over loopback: search and recommend, beam 30, top 30,
# at 1, 8 and 64 connections (bench_serve_load: closed loop, keep-alive), then
# the same model decoded in process (semid search --queries, semid recommend
# --histories: bench_gen_decode takes no model directory), for the cost of
# HTTP, JSON and batching beside the decode.
#
#   bench/run_serve_load.sh [--build build/release] [--model DIR | --dataset DATA]
#                           [--work /tmp/semid-serve-load] [--threads 2]
#                           [--requests 2000] [--seconds 20] [--max-steps 1500] [--codebook 256]
#
# --model DIR: a bundle from `semid train`. --dataset DATA: a dataset to import
# (e.g. ../shared/data/ml-1m); the script makes queries, multi-task
# embeddings, 2 x --codebook RQ-KMeans IDs and a 2 x 128 model trained --max-steps
# steps into WORK/model (reused when there). Neither: a synthetic catalog.
# Requests: search queries are "<first genre> <title>" of every catalog item
# (items.jsonl), histories 20 items drawn at random (seeded); both cycle.
# The server gets --threads decode threads; the load generator's own threads
# share the same cores (a shared 2-core machine is noisy: compare runs made
# back to back).
set -euo pipefail

build=build/release model="" dataset="" work=/tmp/semid-serve-load threads=2 requests=2000 seconds=20 max_steps=1500 codebook=256
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --max-steps) max_steps=$2; shift 2 ;;
    --codebook) codebook=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run_serve_load.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

semid=$build/semid
if [[ ! -x $semid || ! -x $build/bench_serve_load ]]; then
  echo "building semid and bench_serve_load in $build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target semid_cli bench_serve_load >/dev/null
fi
mkdir -p "$work"

# ---- the model ----
if [[ -z $model ]]; then
  model=$work/model
  if [[ ! -f $model/model.safetensors ]]; then
    ds=$work/data.sdd
    if [[ -n $dataset ]]; then
      echo "training a 2 x 128 model on $dataset ($max_steps steps) into $model"
      "$semid" data import "$dataset" --out "$ds"
      "$semid" data queries "$ds" --out "$ds"
    else
      echo "training a 2 x 128 model on synthetic data ($max_steps steps) into $model"
      "$semid" data synth --out "$ds"
    fi
    "$semid" embed --method multi --dataset "$ds" --out "$work/emb" --threads "$threads"
    "$semid" sid build --embeddings "$work/emb/multi.npy" --method rqkmeans --levels 2 --codebook "$codebook" --disambiguate \
      --out "$work/multi.sid"
    "$semid" train --dataset "$ds" --sids "$work/multi.sid" --out "$model" --layers 2 --dim 128 --heads 4 \
      --max-steps "$max_steps" --threads "$threads" --valid-sample 200 --quiet
  fi
fi
[[ -f $model/items.jsonl && -f $model/train.json ]] || { echo "run_serve_load.sh: $model is not a bundle" >&2; exit 1; }

# ---- request files ----
awk -F'"' '{t = ""; g = ""; for (i = 1; i < NF; i++) { if ($i == "title") t = $(i + 2); if ($i == "genres") g = $(i + 2) }
            split(g, a, ","); q = tolower(a[1] " " t); gsub(/\\/, "", q); if (q ~ /[a-z0-9]/) print q}' \
  "$model/items.jsonl" > "$work/queries.txt"
awk -F'"' 'BEGIN { srand(1) } { ids[NR] = $4 }
           END { for (u = 0; u < 500; u++) { s = ""; for (j = 0; j < 20; j++) s = s (j ? "," : "") ids[1 + int(rand() * NR)]; print s } }' \
  "$model/items.jsonl" > "$work/histories.txt"

# ---- the server ----
log=$work/serve.log
"$semid" serve --model "$model" --host 127.0.0.1 --port 0 --threads "$threads" 2>"$log" &
server=$!
stop_server() { if kill -0 "$server" 2>/dev/null; then kill -TERM "$server"; wait "$server" || true; fi; }
trap stop_server EXIT
port=""
for _ in $(seq 1 600); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log" | head -1)
  [[ -n $port ]] && break
  kill -0 "$server" 2>/dev/null || { echo "semid serve exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
[[ -n $port ]] || { echo "semid serve did not start:" >&2; cat "$log" >&2; exit 1; }
health() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  local reply; reply=$(cat <&3); exec 3<&-
  [[ $reply == "HTTP/1.1 200"* ]] && echo "${reply##*$'\r\n\r\n'}"
}
until h=$(health 2>/dev/null); do sleep 0.1; done

shape=$(tr -d ' \t\n' < "$model/train.json")
layers=$(sed -n 's/.*"n_layer":\([0-9]*\).*/\1/p' <<<"$shape")
dim=$(sed -n 's/.*"d_model":\([0-9]*\).*/\1/p' <<<"$shape")
heads=$(sed -n 's/.*"n_head":\([0-9]*\).*/\1/p' <<<"$shape")
vocab=$(sed -n 's/.*"vocab_size":\([0-9]*\).*/\1/p' <<<"$shape")
sid_tokens=$(head -c 4096 "$model/idtable.sid" | tr -d ' \t\n' | sed -n 's/.*"n_tokens":\([0-9]*\).*/\1/p')
items=$(wc -l < "$model/items.jsonl")
echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
echo "model: $model ($layers x $dim, $heads heads, vocabulary $vocab, $sid_tokens ID tokens, $items items); server on 127.0.0.1:$port, --threads $threads: $h"
echo "load: closed loop, keep-alive, k 30, beam 30; each run stops at $requests answers or $seconds s"
echo

# ---- load ----
rows=()
for kind in search recommend; do
  file=$work/queries.txt
  [[ $kind == recommend ]] && file=$work/histories.txt
  for conns in 1 8 64; do
    out=$("$build/bench_serve_load" --port "$port" --kind "$kind" --queries "$file" --connections "$conns" \
      --requests "$requests" --seconds "$seconds" --k 30 --beam 30 --warmup 20 2>&1) || true
    line=$(grep '^RESULT' <<<"$out" || true)
    [[ -n $line ]] || { echo "$out" >&2; exit 1; }
    rows+=("$line")
    echo "$out" | grep -v '^RESULT' | grep -v '^bench_serve_load: request' || true
  done
done
echo
printf '| %-9s | %5s | %8s | %7s | %8s | %8s | %8s | %6s |\n' kind conns answered qps "p50 ms" "p90 ms" "p99 ms" errors
printf '| %-9s | %5s | %8s | %7s | %8s | %8s | %8s | %6s |\n' --- ---: ---: ---: ---: ---: ---: ---:
for r in "${rows[@]}"; do
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$r"; }
  printf '| %-9s | %5s | %8s | %7.1f | %8.2f | %8.2f | %8.2f | %6s |\n' "$(get kind)" "$(get connections)" "$(get ok)" \
    "$(get qps)" "$(get p50_ms)" "$(get p90_ms)" "$(get p99_ms)" "$(get errors)"
done

# ---- batch sizes seen by the server, then stop it (SIGTERM must exit 0) ----
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
metrics=$(cat <&3); exec 3<&-
bsum=$(sed -n 's/^semid_batch_size_sum \(.*\)\r\{0,1\}$/\1/p' <<<"$metrics" | tr -d '\r')
bcount=$(sed -n 's/^semid_batch_size_count \(.*\)\r\{0,1\}$/\1/p' <<<"$metrics" | tr -d '\r')
if [[ -n $bsum && -n $bcount && $bcount != 0 ]]; then
  awk -v s="$bsum" -v c="$bcount" 'BEGIN { printf "server: %d decodes, %.1f queries per decode on average\n", c, s / c }'
fi
trap - EXIT
kill -TERM "$server"
rc=0; wait "$server" || rc=$?
echo "semid serve: exit $rc after SIGTERM"

# ---- the decoder alone ----
# On this model: the CLI's batch mode (one process, the model loaded once,
# the file decoded in batches), wall time including the load.
echo
nb=512
head -n "$nb" "$work/queries.txt" | awk '{ print NR "\t" $0 }' > "$work/batch_queries.tsv"
head -n "$nb" "$work/histories.txt" | awk '{ print "u" NR "\t" $0 }' > "$work/batch_histories.tsv"
nq=$(wc -l < "$work/batch_queries.tsv"); nh=$(wc -l < "$work/batch_histories.tsv")
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'; }
ts=$(secs "$semid" search --model "$model" --queries "$work/batch_queries.tsv" --k 30 --beam 30 --threads "$threads")
tr=$(secs "$semid" recommend --model "$model" --histories "$work/batch_histories.tsv" --k 30 --beam 30 --threads "$threads")
echo "in process, this model (semid search --queries / recommend --histories, $threads threads, beam 30 top-30, model load included):"
awk -v n="$nq" -v t="$ts" 'BEGIN { printf "  search:    %d queries in %.2f s: %.0f queries/s\n", n, t, n / t }'
awk -v n="$nh" -v t="$tr" 'BEGIN { printf "  recommend: %d histories in %.2f s: %.0f histories/s\n", n, t, n / t }'
echo
echo "bench_gen_decode (the decoder benchmark) takes no model directory: it decodes a random model of a"
echo "given shape over a random ID table, so it is not run here; the lines above are this model in process."
