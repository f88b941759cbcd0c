#!/usr/bin/python3
"""Reference fixture for semid's transformer (tests/test_gen_reference.c).

Builds the same decoder-only model as src/gen/model.c in PyTorch (pre-LN
GPT-2 layout, tanh GELU, tied output projection, cross-entropy with
ignore_index=-1 averaged over positions with a target), on a tiny config with
deterministic random weights, and writes into tests/fixtures/:

  gpt_tiny.safetensors           the weights under semid's names and layout,
                                 loadable by semid_gpt_load
  gpt_tiny_expected.safetensors  inputs and targets (as float32), the logits of
                                 every position, the loss, every parameter's
                                 gradient ("grad.<name>") and the losses of the
                                 first 5 AdamW steps

The reference runs in float64 (from the float32 weights), so the C float32
results are compared with an exact answer. AdamW: lr 1e-2, betas 0.9/0.999,
eps 1e-8, weight decay 0.01 on the embeddings and weight matrices only (as
semid_gpt_decay_mask), no clipping. torch.optim.AdamW decays p *= 1 - lr*wd and
then subtracts lr * m_hat / (sqrt(v_hat) + eps): the same update as
linalg/adamw.c's p -= lr * (update + wd * p).

Run: /usr/bin/python3 tests/ref/make_gpt_fixture.py   (Debian python3-torch)
"""
import json
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

V, TMAX, L, C, NH = 37, 8, 2, 16, 2
B, T = 3, 8
ADAM_STEPS = 5
LR, WD, BETAS, EPS = 1e-2, 0.01, (0.9, 0.999), 1e-8

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures")


def make_weights(gen):
    """Named float32 tensors, every one random (biases and gains too) so that
    every path carries a gradient."""
    def randn(*shape, std):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * std).float()

    w = {"wte": randn(V, C, std=0.3), "wpe": randn(TMAX, C, std=0.3)}
    for l in range(L):
        p = f"h.{l}."
        w[p + "ln1.w"] = 1 + randn(C, std=0.1)
        w[p + "ln1.b"] = randn(C, std=0.1)
        w[p + "attn.qkv.w"] = randn(3 * C, C, std=0.3)
        w[p + "attn.qkv.b"] = randn(3 * C, std=0.1)
        w[p + "attn.proj.w"] = randn(C, C, std=0.3)
        w[p + "attn.proj.b"] = randn(C, std=0.1)
        w[p + "ln2.w"] = 1 + randn(C, std=0.1)
        w[p + "ln2.b"] = randn(C, std=0.1)
        w[p + "mlp.fc.w"] = randn(4 * C, C, std=0.3)
        w[p + "mlp.fc.b"] = randn(4 * C, std=0.1)
        w[p + "mlp.proj.w"] = randn(C, 4 * C, std=0.2)
        w[p + "mlp.proj.b"] = randn(C, std=0.1)
    w["lnf.w"] = 1 + randn(C, std=0.1)
    w["lnf.b"] = randn(C, std=0.1)
    return w


def decayed(name):
    return name in ("wte", "wpe") or name.endswith(("qkv.w", "attn.proj.w", "fc.w", "mlp.proj.w"))


def forward(p, idx, targets):
    """p: dict of float64 tensors. Returns logits (B, T, V) and the loss."""
    Bn, Tn = idx.shape
    hs = C // NH
    x = p["wte"][idx] + p["wpe"][:Tn]
    mask = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))
    for l in range(L):
        g = lambda k: p[f"h.{l}.{k}"]
        h = F.layer_norm(x, (C,), g("ln1.w"), g("ln1.b"), eps=1e-5)
        qkv = h @ g("attn.qkv.w").T + g("attn.qkv.b")
        q, k, v = qkv.split(C, dim=-1)
        q = q.view(Bn, Tn, NH, hs).transpose(1, 2)
        k = k.view(Bn, Tn, NH, hs).transpose(1, 2)
        v = v.view(Bn, Tn, NH, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / hs ** 0.5
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + y @ g("attn.proj.w").T + g("attn.proj.b")
        h = F.layer_norm(x, (C,), g("ln2.w"), g("ln2.b"), eps=1e-5)
        h = F.gelu(h @ g("mlp.fc.w").T + g("mlp.fc.b"), approximate="tanh")
        x = x + h @ g("mlp.proj.w").T + g("mlp.proj.b")
    x = F.layer_norm(x, (C,), p["lnf.w"], p["lnf.b"], eps=1e-5)
    logits = x @ p["wte"].T
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1)
    return logits, loss


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, float32 numpy array). Written atomically."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, arr in tensors:
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    gen = torch.Generator().manual_seed(1234)
    w32 = make_weights(gen)
    idx = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    targets[torch.rand(B, T, generator=gen) < 0.4] = -1  # positions without a target
    targets[0, 0] = -1

    params = {k: v.double().clone().requires_grad_(True) for k, v in w32.items()}
    logits, loss = forward(params, idx, targets)
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in params.items()}

    # AdamW trajectory from the same start
    for p in params.values():
        p.grad = None
    opt = torch.optim.AdamW(
        [{"params": [p for k, p in params.items() if decayed(k)], "weight_decay": WD},
         {"params": [p for k, p in params.items() if not decayed(k)], "weight_decay": 0.0}],
        lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for _ in range(ADAM_STEPS):
        opt.zero_grad()
        _, l_ = forward(params, idx, targets)
        losses.append(l_.item())
        l_.backward()
        opt.step()

    os.makedirs(OUT, exist_ok=True)
    config = {"vocab_size": V, "max_seq_len": TMAX, "n_layer": L, "n_head": NH, "d_model": C}
    write_safetensors(os.path.join(OUT, "gpt_tiny.safetensors"),
                      [(k, v.numpy()) for k, v in w32.items()],
                      {"format": "semid-gpt-1", "config": json.dumps(config, separators=(",", ":")),
                       "extra": json.dumps({"source": "tests/ref/make_gpt_fixture.py"})})
    expected = [("inputs", idx.float().numpy()), ("targets", targets.float().numpy()),
                ("logits", logits.detach().float().numpy()), ("loss", np.array([loss.item()], dtype=np.float32)),
                ("adamw_losses", np.array(losses, dtype=np.float32))]
    expected += [("grad." + k, g.float().numpy()) for k, g in grads.items()]
    write_safetensors(os.path.join(OUT, "gpt_tiny_expected.safetensors"), expected,
                      {"config": json.dumps(config, separators=(",", ":")),
                       "adamw": json.dumps({"lr": LR, "weight_decay": WD, "beta1": BETAS[0], "beta2": BETAS[1],
                                            "eps": EPS, "clip_norm": 0, "steps": ADAM_STEPS})})
    print(f"loss {loss.item():.6f}; AdamW losses {['%.6f' % x for x in losses]}; "
          f"{int((targets >= 0).sum())} of {B * T} positions have a target")


if __name__ == "__main__":
    main()
