#!/bin/sh
# The generative model's quality on MovieLens-1M: one joint model trained on
# rec-based (ENMF) Semantic IDs and one on search-based IDs, beside the dense
# search bi-encoder, ENMF and popularity on the same test queries and users,
# with the time each training run takes. It is `semid experiment` restricted
# to those two strategies, with a model bigger than the quick preset's.
#   bench/run_gen_ml1m.sh [BUILD_DIR] [ML1M_DIR] [OUT_DIR] [key=value ...]
# e.g. bench/run_gen_ml1m.sh build/release ../shared/data/ml-1m /tmp/semid-gen-ml1m
# Prints the report's main table and each model's training time.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
DATA=${2:-$ROOT/../shared/data/ml-1m}
OUT=${3:-/tmp/semid-gen-ml1m}
[ $# -gt 3 ] && shift 3 || set --
if [ ! -d "$DATA" ]; then
    echo "run_gen_ml1m: no ML-1M at $DATA (see ../shared/data/README.md)" >&2
    exit 1
fi
cmake --build "$BUILD" --target semid_cli -j2 >/dev/null
/usr/bin/time -v "$BUILD/semid" experiment --dataset "$DATA" --preset quick --out "$OUT" \
    sid.strategies=search,rec sid.ablation= sid.codebook=256 \
    model.layers=2 model.dim=128 model.heads=4 model.epochs=3 model.max_steps=0 model.valid_sample=300 \
    "$@" 2>"$OUT.log" || { tail -20 "$OUT.log" >&2; exit 1; }
awk '/^## Table 2/{p=1} /^## Table 3/||/^!\[/{p=0} p' "$OUT/report.md"
for f in "$OUT"/models/*/train.json; do
    printf '%s: ' "$(basename "$(dirname "$f")")"
    /usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); h=t.get("history",[]); print("%d epochs, %.0f s training" % (len(h), sum(e["seconds"] for e in h)))' "$f"
done
grep -E "Elapsed|Maximum resident" "$OUT.log"
