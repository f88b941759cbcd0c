#!/usr/bin/python3
"""PyTorch peer of bench/bench_gen_train.c: the same decoder-only transformer
(pre-LN, fused qkv, tanh GELU, tied output projection, biases), the same
batch and targets, one step = forward + backward + AdamW, on the CPU with the
same thread count. Prints the median step time and tokens/s.

  /usr/bin/python3 bench/torch_gpt.py [--C 128] [--targets all|sparse] [--gather]
  /usr/bin/python3 bench/torch_gpt.py --batches PREFIX [--L 2 --C 128 --threads 2]

--gather computes logits only at positions with a target (what semid does);
without it the logits of every position are computed, as GPT code usually does.

--batches trains on the real batches bench_gen_train dump=PREFIX wrote (padded
rows, each step's batch cut to its longest sequence, as semid's trainer did
before packing), with semid's trainer's output head: logits at the positions
with a target only, over the ID tokens only. It prints the tokens of real work
(non-padding inputs) per second over the timed steps, wall and per CPU second.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.ln1 = nn.LayerNorm(C)
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self.ln2 = nn.LayerNorm(C)
        self.fc = nn.Linear(C, 4 * C)
        self.fcproj = nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q = q.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        k = k.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        v = v.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") \
            else self._attn(q, k, v, T)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    @staticmethod
    def _attn(q, k, v, T):
        att = (q @ k.transpose(-2, -1)) * (1.0 / k.size(-1) ** 0.5)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        return att.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v


class GPT(nn.Module):
    def __init__(self, V, T, L, C, NH):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block(C, NH) for _ in range(L))
        self.lnf = nn.LayerNorm(C)
        for name, p in self.named_parameters():  # GPT-2 initialisation, as semid
            if p.dim() >= 2:
                std = 0.02 / (2 * L) ** 0.5 if name.endswith(("proj.weight", "fcproj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif "ln" not in name:
                nn.init.zeros_(p)

    def forward_range(self, idx, targets, lo, hi):
        """semid's trainer's head: logits at target positions over tokens [lo, hi)."""
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        x = self.lnf(x)
        rows = targets.view(-1) >= 0
        logits = x.view(-1, x.size(-1))[rows] @ self.wte.weight[lo:hi].T
        return F.cross_entropy(logits, targets.view(-1)[rows] - lo)

    def forward(self, idx, targets, gather):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        x = self.lnf(x)
        if gather:
            rows = targets.view(-1) >= 0
            logits = x.view(-1, x.size(-1))[rows] @ self.wte.weight.T
            return F.cross_entropy(logits, targets.view(-1)[rows])
        logits = x @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def main():
    ap = argparse.ArgumentParser()
    for k, d in [("V", 2000), ("T", 64), ("L", 4), ("C", 128), ("NH", 4), ("B", 32), ("steps", 20), ("warmup", 3),
                 ("threads", 2)]:
        ap.add_argument("--" + k, type=int, default=d)
    ap.add_argument("--targets", choices=["all", "sparse"], default="all")
    ap.add_argument("--gather", action="store_true")
    ap.add_argument("--batches", help="PREFIX of bench_gen_train dump=PREFIX: train on those batches")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.batches:
        return real_batches(a)
    torch.manual_seed(0)
    model = GPT(a.V, a.T, a.L, a.C, a.NH)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-3)
    idx = torch.randint(0, a.V, (a.B, a.T))
    targets = torch.randint(0, a.V, (a.B, a.T))
    if a.targets == "sparse":
        targets[:, : a.T - 4] = -1
    times, cpu = [], []
    for s in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = model(idx, targets, a.gather)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if s >= a.warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    med, cmed = statistics.median(times), statistics.median(cpu)
    n = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__} train: V={a.V} T={a.T} L={a.L} C={a.C} NH={a.NH} B={a.B} threads={a.threads} "
          f"targets={a.targets} gather={a.gather} params={n}")
    print(f"torch train: median step {med * 1e3:.2f} ms, {a.B * a.T / med:.0f} tokens/s "
          f"(cpu {cmed * 1e3:.2f} ms/step; last loss {loss.item():.4f})")


def real_batches(a):
    import numpy as np
    meta = np.load(a.batches + ".meta.npy")
    inputs = torch.from_numpy(np.load(a.batches + ".inputs.npy").astype(np.int64))
    targets = torch.from_numpy(np.load(a.batches + ".targets.npy").astype(np.int64))
    V, lo, hi, B, Tmax = (int(x) for x in meta[:5])
    lens = [int(x) for x in meta[5:]]
    torch.manual_seed(0)
    model = GPT(V, Tmax, a.L, a.C, a.NH)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-3)
    warmup = min(a.warmup, len(lens) - 1)
    wall = cpu = tokens = slots = 0.0
    for s, T in enumerate(lens):
        idx, tg = inputs[s * B:(s + 1) * B, :T], targets[s * B:(s + 1) * B, :T]
        t0, c0 = time.perf_counter(), time.process_time()
        loss = model.forward_range(idx, tg, lo, hi)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if s >= warmup:
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            tokens += float((idx != 0).sum())
            slots += idx.numel()
    print(f"torch {torch.__version__} train (real batches {a.batches}): L={a.L} C={a.C} NH={a.NH} B={B} V={V} "
          f"T<={Tmax} threads={a.threads}, {len(lens) - warmup} timed steps")
    print(f"torch train: {tokens / wall:.0f} tokens/s, {tokens / cpu:.0f} tokens per CPU second (real tokens; "
          f"{100 * (1 - tokens / slots):.1f}% of the slots padding); last loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
