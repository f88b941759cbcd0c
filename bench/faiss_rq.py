#!/usr/bin/python3
"""FAISS's k-means and ResidualQuantizer on the data bench_quant_faiss wrote
(DIR/small.npy, DIR/paper.npy): the peer of bench/bench_quant_faiss.c.

  /usr/bin/python3 bench/faiss_rq.py DIR [--runs 3] [--threads 2] [--sets small,paper]

Writes DIR/faiss_results.tsv, then prints medians of both sides side by side
(error = mean over vectors of the squared L2 reconstruction error; time =
training wall time) with semid/FAISS ratios, if DIR/semid_results.tsv exists.
"""
import argparse
import os
import statistics
import sys
import time

import faiss
import numpy as np


def mse(x, rec):
    return float(((x.astype(np.float64) - rec) ** 2).sum(axis=1).mean())


def run_kmeans(x):
    km = faiss.Kmeans(x.shape[1], 256, niter=25, seed=1234)  # FAISS defaults otherwise
    t0, c0 = time.perf_counter(), time.process_time()
    km.train(x)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    d, _ = km.index.search(x, 1)
    encode_s = time.perf_counter() - t0
    return float(d.sum() / len(x)), train_s, encode_s, train_cpu


def run_rq(x, plain):
    rq = faiss.ResidualQuantizer(x.shape[1], 2, 8)  # 2 levels x 256 codes
    if plain:  # plain k-means per level, 25 iterations, as semid does
        rq.train_type = faiss.ResidualQuantizer.Train_default
        rq.cp.niter = 25
    t0, c0 = time.perf_counter(), time.process_time()
    rq.train(x)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    codes = rq.compute_codes(x)
    encode_s = time.perf_counter() - t0
    return mse(x, rq.decode(codes)), train_s, encode_s, train_cpu


ALGOS = {
    "kmeans": lambda x: run_kmeans(x),
    "rq_default": lambda x: run_rq(x, plain=False),
    "rq_plain25": lambda x: run_rq(x, plain=True),
}

# Which semid row faces which FAISS row in the summary.
PAIRS = [
    ("kmeans_pp", "kmeans"),
    ("kmeans_random", "kmeans"),
    ("rq_beam5", "rq_default"),
    ("rq_beam5", "rq_plain25"),
    ("rq_beam1", "rq_default"),
]


def read_tsv(path):
    rows = {}
    with open(path) as f:
        next(f)
        for line in f:
            side, data, algo, m, tr, en, cpu = line.rstrip("\n").split("\t")
            rows.setdefault((data, algo), []).append((float(m), float(tr), float(en), float(cpu)))
    return rows


def med(v, i):
    return statistics.median(r[i] for r in v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sets", default="small,paper")
    ap.add_argument("--summary-only", action="store_true")
    a = ap.parse_args()
    faiss.omp_set_num_threads(a.threads)
    out_path = os.path.join(a.dir, "faiss_results.tsv")
    if not a.summary_only:
        with open(out_path, "w") as out:
            out.write("side\tdata\talgo\tmse\ttrain_s\tencode_s\ttrain_cpu_s\n")
            for name in ("small", "paper"):
                if name not in a.sets.split(","):
                    continue
                x = np.ascontiguousarray(np.load(os.path.join(a.dir, name + ".npy")), dtype=np.float32)
                for algo, fn in ALGOS.items():
                    res = []
                    for _ in range(a.runs):
                        r = fn(x)
                        res.append(r)
                        out.write("faiss\t%s\t%s\t%.6f\t%.4f\t%.4f\t%.4f\n" % ((name, algo) + r))
                        out.flush()
                    print("faiss  %-6s %-14s mse %10.5f  train %8.3fs (cpu %8.3fs)  encode %7.3fs  (median of %d, %d threads)"
                          % (name, algo, med(res, 0), med(res, 1), med(res, 3), med(res, 2), a.runs, a.threads),
                          flush=True)
    semid_path = os.path.join(a.dir, "semid_results.tsv")
    if not os.path.exists(semid_path):
        return 0
    s, f = read_tsv(semid_path), read_tsv(out_path)
    print("\nmedians; time = training wall time, cpu = training CPU time of all threads")
    print("%-6s %-14s %-11s %10s %10s %7s %8s %8s %7s %8s %8s %7s" % (
        "data", "semid", "faiss", "semid mse", "faiss mse", "ratio", "semid s", "faiss s", "ratio",
        "semid cpu", "faiss cpu", "ratio"))
    for name in ("small", "paper"):
        for sa, fa in PAIRS:
            if (name, sa) not in s or (name, fa) not in f:
                continue
            sm, fm = med(s[(name, sa)], 0), med(f[(name, fa)], 0)
            st, ft = med(s[(name, sa)], 1), med(f[(name, fa)], 1)
            sc, fc = med(s[(name, sa)], 3), med(f[(name, fa)], 3)
            print("%-6s %-14s %-11s %10.4f %10.4f %7.4f %8.2f %8.2f %7.3f %8.2f %8.2f %7.3f" % (
                name, sa, fa, sm, fm, sm / fm, st, ft, st / ft, sc, fc, sc / fc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
