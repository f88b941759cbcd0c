#!/bin/sh
# Search on test queries in a style training never sees (semid data queries
# --unseen-style): on MovieLens-1M, the dense search bi-encoder, the content
# encoder (averaged GloVe) and one generative model per strategy, each
# evaluated on the generator's own test queries and on 5 unseen-style
# queries per item, trained once on the same training queries.
#   bench/run_unseen_style.sh [BUILD_DIR] [ML1M_DIR] [OUT_DIR] [STRATEGIES] [EPOCHS]
# e.g. bench/run_unseen_style.sh build/release ../shared/data/ml-1m /tmp/semid-unseen "search multi" 3
# Prints one line per system: search Recall@30 in style, unseen, and the ratio.
# `semid experiment ... queries.unseen_style=5` reports the same for every row of its tables
# (docs/results-ml1m.md, section 6); this script keeps section 6's bigger models and own seeds.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
DATA=${2:-$ROOT/../shared/data/ml-1m}
OUT=${3:-/tmp/semid-unseen}
STRATEGIES=${4:-search multi}
EPOCHS=${5:-3}
if [ ! -d "$DATA" ]; then
    echo "run_unseen_style: no ML-1M at $DATA (see ../shared/data/README.md)" >&2
    exit 1
fi
cmake --build "$BUILD" --target semid_cli -j2 >/dev/null
S="$BUILD/semid"
mkdir -p "$OUT"
log="$OUT/log.txt"
if [ ! -f "$OUT/ml1m.sdd" ]; then
    "$S" data import "$DATA" --out "$OUT/ml1m.sdd" >>"$log" 2>&1
    "$S" data queries "$OUT/ml1m.sdd" --seed 1 >>"$log" 2>&1 # the experiment's 20 per item, 10 for training
fi
"$S" data queries "$OUT/ml1m.sdd" --unseen-style 5 --seed 7 --out "$OUT/unseen.sdd" --samples 2 >>"$log" 2>&1

row() { # name in-style.json unseen.json: search Recall@30 of each and the share kept
    /usr/bin/python3 -c 'import json,sys
r = [json.load(open(f))["search"]["all"]["recall"] for f in sys.argv[2:4]]
print("%-28s %8.4f %8.4f %6.0f%%" % (sys.argv[1], r[0], r[1], 100 * r[1] / r[0]))' "$@"
}

for m in content search $STRATEGIES; do
    [ -f "$OUT/emb/$m.npy" ] || "$S" embed --method "$m" --dataset "$OUT/ml1m.sdd" --out "$OUT/emb" >>"$log" 2>&1
done
for ds in ml1m unseen; do
    "$S" baseline --dataset "$OUT/$ds.sdd" --method search --embeddings "$OUT/emb/search.npy" \
        --encoder "$OUT/emb/search_encoder.safetensors" --json "$OUT/dense-$ds.json" >>"$log" 2>&1
    "$S" baseline --dataset "$OUT/$ds.sdd" --method search --embeddings "$OUT/emb/content.npy" \
        --json "$OUT/content-$ds.json" >>"$log" 2>&1
done
for m in $STRATEGIES; do
    [ -f "$OUT/$m.sid" ] || "$S" sid build --embeddings "$OUT/emb/$m.npy" --method rqkmeans --levels 2 --codebook 256 \
        --disambiguate --out "$OUT/$m.sid" >>"$log" 2>&1
    "$S" train --dataset "$OUT/ml1m.sdd" --sids "$OUT/$m.sid" --out "$OUT/model-$m" --layers 2 --dim 128 --heads 4 \
        --epochs "$EPOCHS" $( [ -f "$OUT/model-$m/resume.safetensors" ] && echo --resume ) >>"$log" 2>&1
    for ds in ml1m unseen; do
        "$S" eval --model "$OUT/model-$m" --dataset "$OUT/$ds.sdd" --k 30 --json "$OUT/gen-$m-$ds.json" >>"$log" 2>&1
    done
done
printf '%-28s %8s %8s %7s\n' system "in style" unseen kept
row "dense search bi-encoder" "$OUT/dense-ml1m.json" "$OUT/dense-unseen.json"
row "content encoder (GloVe)" "$OUT/content-ml1m.json" "$OUT/content-unseen.json"
for m in $STRATEGIES; do row "generative, $m IDs" "$OUT/gen-$m-ml1m.json" "$OUT/gen-$m-unseen.json"; done
