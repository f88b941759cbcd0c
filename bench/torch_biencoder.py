#!/usr/bin/python3
"""PyTorch peer of bench/bench_embed_encoder.c: the same search bi-encoder
trained on the same data, to compare training throughput.

    build/release/bench_embed_encoder ../shared/data/ml-1m out=/tmp/benc
    /usr/bin/python3 bench/torch_biencoder.py /tmp/benc [--mode sparse|dense]

Reads what the C bench wrote: each text as a weighted bag over the rows of
[word embeddings | n-gram buckets] (offsets, rows, weights), the training
pairs (left = query text, right = item text), semid's initial weights, and
semid's figures (semid.json). Model, as semid's: h = EmbeddingBag(sum, per-
sample weights) (the weights hold 1/T and 1/(T*G)), z = Linear(h), y = z/|z|;
loss = cross-entropy of (Q I^T / temperature) with the diagonal as target,
the same item twice in a batch masked out; same batch, epochs, shuffling
per epoch, threads, learning rate with linear warm-up (10%) then decay.

Optimiser, --mode dense (default; torch's fastest here): one AdamW over everything
(dense gradients); --mode sparse:
EmbeddingBag(sparse=True) + SparseAdam (lazy Adam, as semid) and AdamW for
the projection (slower: the sparse gradient holds one row per bag entry).
Prints pairs/s (median over epochs) and the ratio semid / torch.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--mode", choices=["sparse", "dense"], default="dense")
    ap.add_argument("--epochs", type=int, default=0, help="0 = as semid")
    ap.add_argument("--steps", type=int, default=0,
                    help="steps per epoch, 0 = full epochs (pairs/s then counts the pairs of the steps run)")
    args = ap.parse_args()
    d = args.dir
    cfg = json.load(open(os.path.join(d, "semid.json")))
    threads = cfg["threads"]
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    offsets = torch.from_numpy(np.load(os.path.join(d, "offsets.npy")).astype(np.int64))
    rows = torch.from_numpy(np.load(os.path.join(d, "rows.npy")).astype(np.int64))
    weights = torch.from_numpy(np.load(os.path.join(d, "weights.npy")).reshape(-1).astype(np.float32))
    left = np.load(os.path.join(d, "left.npy")).astype(np.int64)
    right = np.load(os.path.join(d, "right.npy")).astype(np.int64)
    emb0 = torch.from_numpy(np.load(os.path.join(d, "emb.npy")))
    w0 = torch.from_numpy(np.load(os.path.join(d, "proj_w.npy")))
    b0 = torch.from_numpy(np.load(os.path.join(d, "proj_b.npy")).reshape(-1))
    n_pairs = len(left)
    B = cfg["batch"]
    epochs = args.epochs or cfg["epochs"]
    tau = cfg["temperature"]
    lr = cfg["lr"]

    sparse = args.mode == "sparse"
    bag = torch.nn.EmbeddingBag(emb0.shape[0], emb0.shape[1], mode="sum", sparse=sparse)
    proj = torch.nn.Linear(emb0.shape[1], w0.shape[0])
    with torch.no_grad():
        bag.weight.copy_(emb0)
        proj.weight.copy_(w0)
        proj.bias.copy_(b0)
    if sparse:
        opts = [torch.optim.SparseAdam(bag.parameters(), lr=lr),
                torch.optim.AdamW(proj.parameters(), lr=lr, weight_decay=0.01)]
    else:
        opts = [torch.optim.AdamW(list(bag.parameters()) + list(proj.parameters()), lr=lr, weight_decay=0.01)]
    steps_per_epoch = (n_pairs + B - 1) // B
    run_steps = min(args.steps, steps_per_epoch) if args.steps > 0 else steps_per_epoch
    total = steps_per_epoch * epochs
    warm = int(0.1 * total)
    sched = [torch.optim.lr_scheduler.LambdaLR(
        o, lambda s: (s + 1) / warm if s < warm else max(0.0, 1 - (s - warm) / max(1, total - warm)))
        for o in opts]

    def gather(texts):
        """Flat bag input for a list of text indices."""
        starts = offsets[texts]
        ends = offsets[texts + 1]
        lens = ends - starts
        idx = torch.repeat_interleave(starts - torch.cumsum(lens, 0) + lens, lens) + torch.arange(int(lens.sum()))
        offs = torch.cumsum(lens, 0) - lens
        return rows[idx], offs, weights[idx]

    def encode(texts):
        r, o, w = gather(texts)
        h = bag(r, o, per_sample_weights=w)
        return torch.nn.functional.normalize(proj(h), dim=1)

    rng = np.random.default_rng(42)
    rates, cpu_rates, losses = [], [], []
    for ep in range(epochs):
        perm = rng.permutation(n_pairs)
        t0, c0 = time.perf_counter(), time.process_time()
        tot, n, seen = 0.0, 0, 0
        for s in range(run_steps):
            p = perm[s * B:(s + 1) * B]
            if len(p) < 2:
                break
            texts = torch.from_numpy(np.concatenate([left[p], right[p]]))
            items = torch.from_numpy(right[p])
            y = encode(texts)
            q, i = y[:len(p)], y[len(p):]
            scores = q @ i.T / tau
            same = (items[:, None] == items[None, :]) & ~torch.eye(len(p), dtype=torch.bool)
            scores = scores.masked_fill(same, float("-inf"))
            loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(p)))
            for o in opts:
                o.zero_grad()
            loss.backward()
            for o in opts:
                o.step()
            for sc in sched:
                sc.step()
            tot += loss.item()
            n += 1
            seen += len(p)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        rates.append(seen / dt)
        cpu_rates.append(seen / dc)
        losses.append(tot / max(n, 1))
        print("torch epoch %d: %d steps, %.1f s, %.1f CPU-s, loss %.4f, %.0f pairs/s, %.0f pairs per CPU-s"
              % (ep + 1, n, dt, dc, losses[-1], rates[-1], cpu_rates[-1]), flush=True)
    med = statistics.median(rates)
    cmed = statistics.median(cpu_rates)
    print("torch (%s, %d threads, batch %d): %.0f pairs/s, %.0f pairs per CPU-s (medians over %d epochs of %d steps)"
          % (args.mode, threads, B, med, cmed, epochs, run_steps))
    print("semid: %.0f pairs/s; losses semid %s, torch %s" % (cfg["pairs_per_s"], cfg["losses"],
                                                             [round(x, 4) for x in losses]))
    print("ratio semid / torch: %.2fx (wall), %.2fx (CPU time)"
          % (cfg["pairs_per_s"] / med, cfg["pairs_per_cpu_s"] / cmed))


if __name__ == "__main__":
    main()
