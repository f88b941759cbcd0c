#!/bin/sh
# How long adding 1,000 items to a trained ML-1M bundle takes (issue 15's
# aim: under 5 s). Builds a small bundle on content IDs (2 x 256 RQ-KMeans,
# disambiguated; a 2 x 64 model trained 30 steps: catalog add reads the ID
# table and the tokenizer, never the weights), makes 1,000 new items (two
# catalog titles joined, the first one's genres), replaces those catalog add
# refuses (an ID prefix whose disambiguation tokens are all used) by the
# next ones, then times the add of the final 1,000 on a fresh catalog twice.
#   bench/run_catalog_add_ml1m.sh [BUILD_DIR] [ML1M_DIR] [OUT_DIR]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
DATA=${2:-$ROOT/../shared/data/ml-1m}
OUT=${3:-/tmp/semid-catalog-ml1m}
if [ ! -f "$DATA/items.tsv" ]; then
    echo "run_catalog_add_ml1m: no ML-1M items.tsv at $DATA (see ../shared/data/README.md)" >&2
    exit 1
fi
cmake --build "$BUILD" --target semid_cli -j2 >/dev/null
BUILD=$(cd "$BUILD" && pwd)
DATA=$(cd "$DATA" && pwd)
S="$BUILD/semid"
mkdir -p "$OUT"
cd "$OUT"
"$S" data import "$DATA" --out ml1m.sdd
"$S" embed --method content --dataset ml1m.sdd --out emb
"$S" sid build --embeddings emb/content.npy --method rqkmeans --levels 2 --codebook 256 --disambiguate \
    --out content.sid --tokenizer-out content.tok
"$S" train --dataset ml1m.sdd --sids content.sid --out model --layers 2 --dim 64 --heads 4 --epochs 1 \
    --max-steps 30 --batch 64 --valid-sample 0 --quiet
rm -rf model_try && cp -r model model_try
S="$S" DATA="$DATA" /usr/bin/python3 - <<'PY'
import os, re, subprocess
rows = [l.rstrip('\n').split('\t') for l in open(os.path.join(os.environ['DATA'], 'items.tsv'))]
hdr, body = rows[0], rows[1:]
ti, ge = hdr.index('title'), hdr.index('genres')
cand = ['new%d\t%s %s\t%d\t%s\n' % (i, body[i % len(body)][ti], body[(i * 7 + 13) % len(body)][ti], 2001 + i % 20,
                                    body[i % len(body)][ge]) for i in range(3000)]
chosen, nxt = cand[:1000], 1000
while True:
    open('new.tsv', 'w').write('item_id\ttitle\tyear\tgenres\n' + ''.join(chosen))
    r = subprocess.run([os.environ['S'], 'catalog', 'add', '--model', 'model_try', '--items', 'new.tsv', '--tokenizer',
                        'content.tok', '--content', '--dataset', 'ml1m.sdd'], capture_output=True, text=True)
    if r.returncode == 0:
        break
    m = re.search(r"item '(new\d+)'", r.stderr)
    if not m:
        raise SystemExit(r.stderr)
    chosen = [c for c in chosen if not c.startswith(m.group(1) + '\t')] + [cand[nxt]]
    nxt += 1
print('catalog add refused %d of the candidates (no disambiguation token left); they were replaced' % (nxt - 1000))
PY
for i in 1 2; do
    rm -f model/catalog.json
    /usr/bin/time -f "catalog add, 1000 items: %e s wall, %U s user" "$S" catalog add --model model --items new.tsv \
        --tokenizer content.tok --content --dataset ml1m.sdd
done
