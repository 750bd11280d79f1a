#!/usr/bin/env python3
"""Reference values for the nn tests, computed with PyTorch (Debian's python3-torch) in float64.

Usage: torch_cases.py OUT.npz

Each case runs one PyTorch layer (or loss) on a fixed random input, then backpropagates a fixed
random cotangent. It stores, under "<case>/...":
  input (or input0, input1, ... for several inputs), output, cotangent,
  grad_input (grad_input0, ...), param/<name> and grad/<name> for every parameter,
  buffer/<name> for buffers after the forward pass (BatchNorm's running statistics).
Arrays are stored in alloy's layouts: channels last for convolutions and pooling
(input (N, ..., C)), conv weights (C_out, k..., C_in / groups), so the C++ side loads
param/<name> straight into the module with load_weights.
"""
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
OUT = {}


def to_np(t):
    return t.detach().cpu().numpy()


def channels_last(t):
    """(N, C, ...) -> (N, ..., C)"""
    return t.permute(0, *range(2, t.dim()), 1) if t.dim() >= 3 else t


def channels_first(a):
    """(N, ..., C) -> (N, C, ...)"""
    return a.permute(0, a.dim() - 1, *range(1, a.dim() - 1)) if a.dim() >= 3 else a


def conv_weight_to_alloy(w, transposed=False, groups=1):
    """PyTorch conv weight -> alloy's (C_out, k..., C_in / groups)."""
    if transposed:
        # (C_in, C_out/g, k...) -> (g, C_in/g, C_out/g, k...) -> (g, C_out/g, k..., C_in/g)
        cin, coutg = w.shape[0], w.shape[1]
        k = list(w.shape[2:])
        w = w.reshape(groups, cin // groups, coutg, *k)
        w = w.permute(0, 2, *range(3, 3 + len(k)), 1)
        return w.reshape(groups * coutg, *k, cin // groups)
    return w.permute(0, *range(2, w.dim()), 1)


def record(name, module, inputs, layout="plain", forward=None, param_map=None, seed=0):
    """Runs module(*inputs) (or forward(module, *inputs)) and stores the case.

    layout "channels_last": inputs and output are converted (N, C, ...) <-> (N, ..., C).
    param_map(name, tensor) -> tensor converts a parameter to alloy's layout.
    """
    g = torch.Generator().manual_seed(seed + 1)
    inputs = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    out = forward(module, *inputs) if forward else module(*inputs)
    cot = torch.randn(out.shape, generator=g, dtype=out.dtype)
    params = list(module.named_parameters()) if module is not None else []
    diff = [x for x in inputs if x.requires_grad] + [p for _, p in params]
    grads = torch.autograd.grad(out, diff, cot, allow_unused=True)
    conv = (lambda t: to_np(channels_last(t))) if layout == "channels_last" else to_np
    OUT[f"{name}/output"] = conv(out)
    OUT[f"{name}/cotangent"] = conv(cot)
    gi = iter(grads)
    for i, x in enumerate(inputs):
        key = "input" if len(inputs) == 1 else f"input{i}"
        OUT[f"{name}/{key}"] = conv(x) if x.is_floating_point() else to_np(x)
        if x.requires_grad:
            gx = next(gi)
            OUT[f"{name}/grad_{key}"] = conv(gx if gx is not None else torch.zeros_like(x))
    for pname, p in params:
        gp = next(gi)
        gp = gp if gp is not None else torch.zeros_like(p)
        pm = (lambda n, t: param_map(n, t)) if param_map else (lambda n, t: t)
        OUT[f"{name}/param/{pname}"] = to_np(pm(pname, p))
        OUT[f"{name}/grad/{pname}"] = to_np(pm(pname, gp))
    if module is not None:
        for bname, b in module.named_buffers():
            OUT[f"{name}/buffer/{bname}"] = to_np(b)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ---------- cases ----------

def linear_cases():
    torch.manual_seed(0)
    record("linear", torch.nn.Linear(5, 3), [randn(4, 5)])
    record("linear_nobias_3d", torch.nn.Linear(6, 2, bias=False), [randn(2, 3, 6)])
    seq = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    record("sequential_mlp", seq, [randn(5, 4, seed=3)])


# ---------- attention and transformer (nn/attention.h, nn/transformer.h) ----------

def split_attention_params(name):
    """PyTorch's packed attention parameters -> alloy's (MLX's) names, in the case `name`:
    in_proj_weight (3E, E) / in_proj_bias (3E,) -> query_proj / key_proj / value_proj rows
    [0, E), [E, 2E), [2E, 3E); q/k/v_proj_weight (kdim, vdim given) -> *_proj.weight."""
    parts = ("query_proj", "key_proj", "value_proj")
    for kind in ("param", "grad"):
        prefix = f"{name}/{kind}/"
        for key in [k for k in OUT if k.startswith(prefix)]:
            head, _, leaf = key[len(prefix):].rpartition(".")
            base = prefix + (head + "." if head else "")
            if leaf in ("in_proj_weight", "in_proj_bias"):
                packed = OUT.pop(key)
                for part, rows in zip(parts, np.split(packed, 3, axis=0)):
                    OUT[f"{base}{part}.{leaf[len('in_proj_'):]}"] = np.ascontiguousarray(rows)
            elif leaf in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                OUT[f"{base}{parts['qkv'.index(leaf[0])]}.weight"] = OUT.pop(key)


def randomize_parameters(module, seed):
    """PyTorch starts attention biases at zero and norms at one: random values test them all."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            for pname, p in m.named_parameters(recurse=False):
                r = torch.randn(p.shape, generator=g)
                p.copy_(1 + 0.2 * r if isinstance(m, torch.nn.LayerNorm) and pname == "weight" else 0.4 * r)
    return module


def allowed_mask(shape, seed):
    """A random bool mask, true = may attend (alloy's convention), every query row with a key."""
    g = torch.Generator().manual_seed(seed)
    m = torch.rand(shape, generator=g) < 0.6
    m[..., 0] = True
    return m


def causal_mask(n):
    return torch.nn.Transformer.generate_square_subsequent_mask(n).to(torch.float64)


class GroupedQueryAttention(torch.nn.Module):
    """alloy's MultiHeadAttention with num_kv_heads key/value heads, written out in torch ops
    (PyTorch 1.13 has no grouped-query attention): query head h reads key/value head
    h // (heads // kv_heads)."""

    def __init__(self, dims, heads, kv_heads, bias=True):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dims // heads
        self.query_proj = torch.nn.Linear(dims, dims, bias=bias)
        self.key_proj = torch.nn.Linear(dims, kv_heads * self.head_dim, bias=bias)
        self.value_proj = torch.nn.Linear(dims, kv_heads * self.head_dim, bias=bias)
        self.out_proj = torch.nn.Linear(dims, dims, bias=bias)

    def forward(self, q, k, v, mask=None):
        (n, l, e), s = q.shape, k.shape[1]
        groups = self.heads // self.kv_heads
        q = self.query_proj(q).view(n, l, self.heads, self.head_dim).transpose(1, 2)
        k = self.key_proj(k).view(n, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.value_proj(v).view(n, s, self.kv_heads, self.head_dim).transpose(1, 2)
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(-1, -2) / self.head_dim ** 0.5
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        out = torch.softmax(scores, -1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(n, l, e))


def attention_cases():
    torch.manual_seed(0)
    n, l, s, e, h = 2, 4, 6, 8, 2
    q, k, v = randn(n, l, e, seed=10), randn(n, s, e, seed=11), randn(n, s, e, seed=12)

    def mha_case(name, mha, inputs, torch_mask=None, mask=None, seed=0):
        randomize_parameters(mha, seed)
        record(name, mha, inputs,
               forward=lambda m, *x: m(*x, attn_mask=torch_mask, need_weights=False)[0])
        split_attention_params(name)
        if mask is not None:
            OUT[f"{name}/mask"] = to_np(mask)

    mha_case("mha", torch.nn.MultiheadAttention(e, h, batch_first=True), [q, k, v], seed=1)
    mha_case("mha_nobias", torch.nn.MultiheadAttention(e, h, bias=False, batch_first=True), [q, k, v], seed=2)
    mha_case("mha_kvdim", torch.nn.MultiheadAttention(e, h, kdim=6, vdim=5, batch_first=True),
             [q, randn(n, s, 6, seed=13), randn(n, s, 5, seed=14)], seed=3)
    # Additive mask (N, H, L, S); PyTorch takes it as (N * H, L, S).
    add_mask = randn(n, h, l, s, seed=15)
    mha_case("mha_additive_mask", torch.nn.MultiheadAttention(e, h, batch_first=True), [q, k, v],
             torch_mask=add_mask.reshape(n * h, l, s), mask=add_mask, seed=4)
    # Bool mask (L, S): alloy's true = may attend is PyTorch's false = not masked.
    keep = allowed_mask((l, s), seed=16)
    mha_case("mha_bool_mask", torch.nn.MultiheadAttention(e, h, batch_first=True), [q, k, v],
             torch_mask=~keep, mask=keep, seed=5)
    # Causal self-attention shapes (L = S); the C++ side builds its own causal mask.
    x = [randn(n, 5, e, seed=17), randn(n, 5, e, seed=18), randn(n, 5, e, seed=19)]
    mha_case("mha_causal", torch.nn.MultiheadAttention(e, h, batch_first=True), x, torch_mask=causal_mask(5), seed=6)

    # The grouped-query reference is checked against PyTorch's own attention where they agree.
    check = randomize_parameters(GroupedQueryAttention(e, 4, 4), 7)
    ref = torch.nn.MultiheadAttention(e, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([check.query_proj.weight, check.key_proj.weight, check.value_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([check.query_proj.bias, check.key_proj.bias, check.value_proj.bias]))
        ref.out_proj.weight.copy_(check.out_proj.weight)
        ref.out_proj.bias.copy_(check.out_proj.bias)
        assert torch.allclose(check(q, k, v, keep), ref(q, k, v, attn_mask=~keep)[0], rtol=1e-12, atol=1e-12)
    gqa_mask = randn(n, 1, l, s, seed=20)
    for name, kv_heads, mask in (("mha_gqa", 2, None), ("mha_gqa_bool_mask", 2, keep), ("mha_mqa", 1, gqa_mask)):
        module = randomize_parameters(GroupedQueryAttention(e, 4, kv_heads), 8 + kv_heads)
        record(name, module, [q, k, v], forward=lambda m, *x, mask=mask: m(*x, mask))
        if mask is not None:
            OUT[f"{name}/mask"] = to_np(mask)


def transformer_cases():
    torch.manual_seed(0)
    n, l, t, e, h, ff = 2, 5, 4, 8, 2, 16
    src, tgt, memory = randn(n, l, e, seed=30), randn(n, t, e, seed=31), randn(n, l, e, seed=32)
    TEL, TDL = torch.nn.TransformerEncoderLayer, torch.nn.TransformerDecoderLayer

    def case(name, module, inputs, forward, masks, seed):
        randomize_parameters(module, seed).eval()  # eval: dropout off
        record(name, module, inputs, forward=forward)
        split_attention_params(name)
        for key, mask in masks.items():
            OUT[f"{name}/{key}"] = to_np(mask)

    # Encoder layers: post-norm relu with a causal mask; pre-norm gelu with a bool mask.
    case("encoder_layer_post_relu", TEL(e, h, ff, batch_first=True), [src],
         lambda m, x: m(x, src_mask=causal_mask(l)), {}, 40)
    keep = allowed_mask((l, l), seed=33)
    case("encoder_layer_pre_gelu", TEL(e, h, ff, activation="gelu", norm_first=True, batch_first=True), [src],
         lambda m, x: m(x, src_mask=~keep), {"src_mask": keep}, 41)
    # Decoder layers: causal target mask; the pre-norm one also has a bool memory mask.
    case("decoder_layer_post_relu", TDL(e, h, ff, batch_first=True), [tgt, memory],
         lambda m, x, mem: m(x, mem, tgt_mask=causal_mask(t)), {}, 42)
    mem_keep = allowed_mask((t, l), seed=34)
    case("decoder_layer_pre_gelu", TDL(e, h, ff, activation="gelu", norm_first=True, batch_first=True),
         [tgt, memory], lambda m, x, mem: m(x, mem, tgt_mask=causal_mask(t), memory_mask=~mem_keep),
         {"memory_mask": mem_keep}, 43)
    # Stacks with a final norm; an additive (N, H, L, L) mask, PyTorch's (N * H, L, L).
    add_mask = randn(n, h, l, l, seed=35)
    enc = torch.nn.TransformerEncoder(TEL(e, h, ff, batch_first=True), 2, norm=torch.nn.LayerNorm(e))
    case("encoder_stack", enc, [src], lambda m, x: m(x, mask=add_mask.reshape(n * h, l, l)),
         {"mask": add_mask}, 44)
    dec = torch.nn.TransformerDecoder(TDL(e, h, ff, norm_first=True, batch_first=True), 2,
                                      norm=torch.nn.LayerNorm(e))
    case("decoder_stack", dec, [tgt, memory],
         lambda m, x, mem: m(x, mem, tgt_mask=causal_mask(t), memory_mask=~mem_keep), {"memory_mask": mem_keep}, 45)
    # Whole Transformers: 2 encoder layers, 1 decoder layer.
    tr = torch.nn.Transformer(e, h, 2, 1, ff, batch_first=True)
    case("transformer_post_relu", tr, [src, tgt], lambda m, s_, t_: m(s_, t_, tgt_mask=causal_mask(t)), {}, 46)
    tr = torch.nn.Transformer(e, h, 2, 1, ff, activation="gelu", norm_first=True, batch_first=True)
    case("transformer_pre_gelu", tr, [src, tgt],
         lambda m, s_, t_: m(s_, t_, src_mask=~keep, tgt_mask=causal_mask(t), memory_mask=~mem_keep),
         {"src_mask": keep, "memory_mask": mem_keep}, 47)


CASE_GROUPS = [linear_cases, attention_cases, transformer_cases]


def main():
    for group in CASE_GROUPS:
        group()
    np.savez(sys.argv[1], **OUT)


if __name__ == "__main__":
    main()
