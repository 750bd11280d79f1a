#!/usr/bin/env python3
"""PyTorch's side of bench_train_gpt: the same Llama-layout model (RMSNorm, rotary embeddings,
SwiGLU, tied embeddings), shape, batch and random tokens, trained in eager mode with bf16
autocast, scaled_dot_product_attention (flash), fused AdamW and gradient clipping. Prints tokens/s
over the timed steps after warm-up, and one JSON line.

Usage: bench_train_gpt_torch.py [--batch 16] [--context 1024] [--dim 768] [--layers 12]
                                [--heads 12] [--vocab 50257] [--ffn 2048] [--steps 10] [--warmup 3]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def rope(x, theta=10000.0):
    # x (B, H, T, D), rotate-half form.
    T, D = x.shape[-2], x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, device=x.device).float() / D))
    ang = torch.arange(T, device=x.device).float()[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype), torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Block(nn.Module):
    def __init__(self, dim, heads, ffn):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim, bias=False) for _ in range(4))
        self.gate, self.up = nn.Linear(dim, ffn, bias=False), nn.Linear(dim, ffn, bias=False)
        self.down = nn.Linear(ffn, dim, bias=False)
        self.n1, self.n2 = RMSNorm(dim), RMSNorm(dim)

    def forward(self, x):
        B, T, C = x.shape
        h = self.n1(x)
        q, k, v = (p(h).view(B, T, self.heads, C // self.heads).transpose(1, 2) for p in (self.q, self.k, self.v))
        o = F.scaled_dot_product_attention(rope(q), rope(k), v, is_causal=True)
        x = x + self.o(o.transpose(1, 2).reshape(B, T, C))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class GPT(nn.Module):
    def __init__(self, vocab, dim, layers, heads, ffn):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, ffn) for _ in range(layers))
        self.norm = RMSNorm(dim)

    def forward(self, idx):
        x = self.embed(idx)
        for b in self.blocks:
            x = b(x)
        return F.linear(self.norm(x), self.embed.weight)


def main():
    p = argparse.ArgumentParser()
    for name, default in [("batch", 16), ("context", 1024), ("dim", 768), ("layers", 12), ("heads", 12),
                          ("vocab", 50257), ("ffn", 2048), ("steps", 10), ("warmup", 3)]:
        p.add_argument(f"--{name}", type=int, default=default)
    a = p.parse_args()
    torch.manual_seed(0)
    dev = "cuda"
    model = GPT(a.vocab, a.dim, a.layers, a.heads, a.ffn).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    tokens = torch.randint(0, a.vocab, (a.batch, a.context + 1), device=dev)
    x, y = tokens[:, :-1], tokens[:, 1:]
    total = 0.0
    for s in range(a.warmup + a.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(x)
        loss = F.cross_entropy(logits.float().view(-1, a.vocab), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss_value = loss.item()
        dt = time.perf_counter() - t0
        if s >= a.warmup:
            total += dt
    tps = a.batch * a.context * a.steps / total
    params = sum(p.numel() for p in model.parameters())
    print(f"pytorch {torch.__version__}: {params} parameters, {tps:.0f} tokens/s ({1e3 * total / a.steps:.1f} ms/step), "
          f"peak memory {torch.cuda.max_memory_allocated() / 1e9:.2f} GB")
    print(json.dumps({"impl": "pytorch", "version": torch.__version__, "tokens_per_s": tps,
                      "ms_per_step": 1e3 * total / a.steps, "params": params, "loss": loss_value}))


if __name__ == "__main__":
    main()
