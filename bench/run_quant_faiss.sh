#!/bin/sh
# semid's k-means / RQ-KMeans beside FAISS on the same data, same 2 x 256
# codes and the same threads; medians of RUNS runs and semid/FAISS ratios.
#   bench/run_quant_faiss.sh [BUILD_DIR] [DATA_DIR] [RUNS] [SETS]
# e.g. bench/run_quant_faiss.sh build/release /tmp/semid-quant-bench 3 small,paper
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
DATA=${2:-/tmp/semid-quant-bench}
RUNS=${3:-3}
SETS=${4:-small,paper}
THREADS=2
cmake --build "$BUILD" --target bench_quant_faiss -j2 >/dev/null
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
"$BUILD/bench_quant_faiss" "$DATA" --runs "$RUNS" --threads "$THREADS" --sets "$SETS"
/usr/bin/python3 "$ROOT/bench/faiss_rq.py" "$DATA" --runs "$RUNS" --threads "$THREADS" --sets "$SETS"
