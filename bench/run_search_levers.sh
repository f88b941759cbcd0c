#!/bin/sh
# Issue 14, part 3: what closes the gap between generative and dense search?
# One lever at a time on MovieLens-1M, multi-task IDs, the `quick` preset
# otherwise, each model evaluated on the generator's test queries and on 5
# queries per movie in a style training never sees (queries.unseen_style=5;
# the same unseen-style queries for every lever: they come from their own
# seed). One `semid experiment` per lever, each in its own run directory
# (OUT/<lever>), so nothing one lever caches is taken for another's.
#   bench/run_search_levers.sh [BUILD_DIR] [ML1M_DIR] [OUT_DIR] [LEVER ...]
# e.g. bench/run_search_levers.sh build/release ../shared/data/ml-1m /tmp/semid-levers
# Levers (all by default, in this order):
#   base       the quick preset as it is (2 x 64 model, 1,200 steps, random query words)
#   glove      query words start from the shipped GloVe (model.word_vectors=default)
#   enc_multi  query words start from the run's multi-task bi-encoder (encoder:multi)
#   enc_search query words start from the run's search bi-encoder (encoder:search)
#   queries20  20 training queries per movie instead of 10 (queries.per_item=30
#              queries.train=20: 10 test queries per movie, other draws than base's)
#   size       2 x 128 model, 3 full epochs, 2 x 256 codes (section 3's size)
#   size_enc   size and enc_multi
#   size_q20   size and queries20
#   combined   size, queries20 and enc_multi together
#   longer     combined, trained 6 epochs instead of 3
#   longest    combined, trained 10 epochs
# Prints one row per lever: search Recall@30 in style and unseen style (the
# share kept), rec Recall@30, and the dense search bi-encoder of that run.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
DATA=${2:-$ROOT/../shared/data/ml-1m}
OUT=${3:-/tmp/semid-levers}
[ $# -ge 3 ] && shift 3 || shift $#
LEVERS=${*:-base glove enc_multi enc_search queries20 size size_enc size_q20 combined longer longest}
if [ ! -d "$DATA" ]; then
    echo "run_search_levers: no ML-1M at $DATA (see ../shared/data/README.md)" >&2
    exit 1
fi
S="$BUILD/semid"
mkdir -p "$OUT"
COMMON="sid.strategies=multi sid.ablation= sid.atomic=0 decode.diverse=0 queries.unseen_style=5"

settings() {
    case "$1" in
    base) echo "" ;;
    glove) echo "model.word_vectors=default" ;;
    enc_multi) echo "model.word_vectors=encoder:multi" ;;
    enc_search) echo "model.word_vectors=encoder:search" ;;
    queries20) echo "queries.per_item=30 queries.train=20" ;;
    size) echo "sid.codebook=256 model.layers=2 model.dim=128 model.heads=4 model.epochs=3 model.max_steps=0" ;;
    size_enc) echo "$(settings size) $(settings enc_multi)" ;;
    size_q20) echo "$(settings size) $(settings queries20)" ;;
    combined) echo "$(settings size) $(settings queries20) $(settings enc_multi)" ;;
    longer) echo "$(settings combined) model.epochs=6" ;;
    longest) echo "$(settings combined) model.epochs=10" ;;
    *) echo "run_search_levers: unknown lever '$1'" >&2; exit 2 ;;
    esac
}

for lever in $LEVERS; do
    extra=$(settings "$lever")
    start=$(date +%s)
    # shellcheck disable=SC2086 # the settings are words on purpose
    "$S" experiment --dataset "$DATA" --preset quick --out "$OUT/$lever" $COMMON $extra >"$OUT/$lever.log" 2>&1 ||
        { echo "run_search_levers: $lever failed:" >&2; tail -5 "$OUT/$lever.log" >&2; exit 1; }
    echo "$lever $(($(date +%s) - start))" >>"$OUT/seconds.txt"
done

/usr/bin/python3 - "$OUT" $LEVERS <<'EOF'
import json, sys
out, levers = sys.argv[1], sys.argv[2:]
secs = {}
try:
    for line in open(out + "/seconds.txt"):
        name, s = line.split()
        secs[name] = int(s)
except OSError:
    pass
def mean(row, key):
    v = row.get(key)
    return v["mean"] if isinstance(v, dict) and v.get("mean") is not None else float("nan")
print("%-11s %9s %9s %6s %8s %11s %11s %7s %6s" % ("lever", "search", "unseen", "kept", "rec", "dense srch",
                                                   "dense unsn", "%dense", "s"))
for lever in levers:
    r = json.load(open("%s/%s/results.json" % (out, lever)))
    rows = {(x["table"], x["name"]): x for x in r["rows"]}
    g = rows.get(("main", "multi"))
    d = next((x for x in r["rows"] if x["name"] == "dense_search"), None)
    s, u, rc = mean(g, "search_recall"), mean(g, "search_unseen_recall"), mean(g, "rec_recall")
    ds, du = mean(d, "search_recall"), mean(d, "search_unseen_recall")
    print("%-11s %9.4f %9.4f %5.0f%% %8.4f %11.4f %11.4f %6.0f%% %6s" % (lever, s, u, 100 * u / s, rc, ds, du,
                                                                     100 * s / ds, secs.get(lever, "-")))
EOF
