#!/bin/sh
# How each stage's cost grows with the catalog (issue 17): a synthetic
# catalog of N items with 20 interactions and 20 queries per item (the
# paper's shape: 62,138 items, 1.24M interactions, 1.24M queries), then
# every stage of the quick preset run as its own command under
# /usr/bin/time: wall seconds, CPU seconds and peak memory, one TSV row a
# stage and size.
#   bench/run_scale.sh [BUILD_DIR] [OUT_DIR] [SIZES] [STAGES]
# e.g. bench/run_scale.sh build/release /tmp/semid-scale 5000,20000,62138
# SIZES: item counts, comma separated (users = items * 2 / 3, 30
# interactions each on average, so interactions = 20 per item).
# STAGES: a comma-separated subset of the stage names below (default: all).
# Appends to OUT_DIR/scale.tsv: items users interactions stage wall_s cpu_s
# peak_kb load1 note; bench/scale_report.py makes the table and the SVG plot.
# Run it while nothing else uses OUT_DIR: the stages of a size share files.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
OUT=${2:-/tmp/semid-scale}
SIZES=${3:-5000,20000,62138}
STAGES=${4:-all}
S="$BUILD/semid"
T=/usr/bin/time
[ -x "$T" ] || { echo "run_scale: needs GNU time at $T (apt-get install time)" >&2; exit 1; }
mkdir -p "$OUT"
TSV="$OUT/scale.tsv"
[ -s "$TSV" ] || printf 'items\tusers\tinteractions\tstage\twall_s\tcpu_s\tpeak_kb\tload1\tnote\n' >"$TSV"

wants() { [ "$STAGES" = all ] || case ",$STAGES," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# run STAGE NOTE CMD...: times CMD, appends a row; a failing command stops the script.
run() {
    stage=$1 note=$2
    shift 2
    wants "$stage" || return 0
    load=$(cut -d' ' -f1 /proc/loadavg)
    if ! nice "$T" -f '%e %U %S %M' -o "$DIR/$stage.time" "$@" >"$DIR/$stage.out" 2>"$DIR/$stage.err"; then
        echo "run_scale: $stage at $N items failed:" >&2
        tail -5 "$DIR/$stage.err" >&2
        exit 1
    fi
    read -r wall user sys kb <"$DIR/$stage.time"
    cpu=$(echo "$user $sys" | awk '{printf "%.2f", $1 + $2}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$USERS" "$INTER" "$stage" "$wall" "$cpu" "$kb" "$load" "$note" >>"$TSV"
    printf '%8s items  %-14s %9ss wall %9ss cpu %8s MB  (load %s) %s\n' "$N" "$stage" "$wall" "$cpu" $((kb / 1024)) "$load" "$note"
}

for N in $(echo "$SIZES" | tr ',' ' '); do
    USERS=$((N * 2 / 3))
    DIR="$OUT/n$N"
    mkdir -p "$DIR"
    D="$DIR/data.sdd" E="$DIR/emb"
    INTER=
    run synth "" "$S" data synth --items "$N" --users "$USERS" --history 30 --queries-per-item 20 \
        --queries-train 10 --out "$D"
    INTER=$("$S" data stats "$D" | awk '$1 == "interactions" && NF == 2 {print $2}')
    # The synth row was written before its interactions were known.
    awk -F'\t' -v OFS='\t' -v n="$N" -v i="$INTER" '$1 == n && $3 == "" {$3 = i} 1' "$TSV" >"$TSV.tmp"
    mv "$TSV.tmp" "$TSV"
    run queries "20 per item" "$S" data queries "$D" --per-item 20 --train 10 --out "$D" --tsv "$DIR/queries.tsv"
    # The importer on the same catalog, from the generic TSV layout.
    run export "generic TSV" "$S" data export "$D" --out "$DIR/tsv"
    run import "generic TSV" "$S" data import "$DIR/tsv" --format generic --keep-uninteracted --out "$DIR/imported.sdd"
    # The decoding sample: every 50th test query (2% of them, items / 5).
    if [ -s "$DIR/queries.tsv" ]; then
        awk -F'\t' '$2 == "test" && ++n % 50 == 0 {print $1 "\t" $3}' "$DIR/queries.tsv" >"$DIR/decode.tsv"
    fi
    # The quick preset's embeddings: width 64, ENMF 20 epochs, bi-encoders 2 (batch 256, lr 0.01).
    for m in content search rec multi fused_concat fused_svd; do
        case $m in
        rec) opts="--epochs 20" ;;
        *) opts="--epochs 2 --batch 256 --lr 0.01" ;;
        esac
        # shellcheck disable=SC2086
        run "embed_$m" "" "$S" embed --method "$m" --dataset "$D" --out "$E" --dim 64 $opts
    done
    for t in rqkmeans rqvae rlfq dict; do
        run "sid_$t" "2 x 64 + disambiguation" "$S" sid build --embeddings "$E/multi.npy" --dataset "$D" \
            --strategy multi --method "$t" --levels 2 --codebook 64 --disambiguate \
            --out "$DIR/$t.sid" --tokenizer-out "$DIR/$t.tok"
    done
    run train_epoch "2 x 64, batch 64, 1 epoch" "$S" train --dataset "$D" --sids "$DIR/rqkmeans.sid" \
        --out "$DIR/model" --layers 2 --dim 64 --heads 4 --batch 64 --lr 0.003 --window 20 --epochs 1 \
        --valid-sample 0 --quiet
    # Loading the bundle (model, ID table, trie) and one query, then the sample.
    run load_trie "bundle load + 1 query" "$S" search --model "$DIR/model" --k 30 --beam 30 --threads 2 \
        "a film about space"
    run decode "$( (wc -l <"$DIR/decode.tsv") 2>/dev/null || echo 0) queries, beam 30, top 30" "$S" search --model "$DIR/model" \
        --k 30 --beam 30 --threads 2 --queries "$DIR/decode.tsv"
done
