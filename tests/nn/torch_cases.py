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


# ---------- losses (tests/nn/test_losses.cpp) ----------

def loss_case(name, fn, inputs, consts=None, seed=0):
    """A loss as a function of its inputs; consts (class weights, pos_weight) are stored under
    <name>/<key> and passed to fn by keyword, never differentiated."""
    consts = consts or {}
    for k, v in consts.items():
        OUT[f"{name}/{k}"] = to_np(v)
    record(name, None, inputs, forward=lambda _, *xs: fn(*xs, **consts), seed=seed)


def loss_cases():
    import warnings
    F = torch.nn.functional
    logits = randn(6, 5, seed=10)
    t = torch.tensor([0, 3, 4, 1, 3, 2])
    t_ign = torch.tensor([0, -100, 4, 1, -100, 2])
    w = torch.rand(5, generator=torch.Generator().manual_seed(11)) + 0.5
    for red in ["mean", "sum", "none"]:
        loss_case(f"ce_{red}", lambda x, y: F.cross_entropy(x, y, reduction=red), [logits, t])
        loss_case(f"ce_all_{red}", lambda x, y, weight: F.cross_entropy(
            x, y, weight=weight, ignore_index=-100, label_smoothing=0.15, reduction=red),
            [logits, t_ign], {"weight": w})
        loss_case(f"nll_{red}", lambda x, y, weight: F.nll_loss(
            x, y, weight=weight, reduction=red), [F.log_softmax(logits, -1), t_ign], {"weight": w})
    loss_case("ce_ignore3_smooth", lambda x, y: F.cross_entropy(x, y, ignore_index=3, label_smoothing=0.2),
              [logits, t])
    loss_case("ce_weight", lambda x, y, weight: F.cross_entropy(x, y, weight=weight), [logits, t], {"weight": w})
    # (N, L, C) channels last; PyTorch wants (N, C, L).
    l3 = randn(2, 3, 4, seed=12)
    t3 = torch.tensor([[0, 3, -100], [2, 1, 1]])
    loss_case("ce_3d_none", lambda x, y: F.cross_entropy(x.permute(0, 2, 1), y, reduction="none",
                                                         label_smoothing=0.1), [l3, t3])
    loss_case("ce_3d_mean", lambda x, y, weight: F.cross_entropy(x.permute(0, 2, 1), y, weight=weight),
              [l3, t3], {"weight": w[:4]})
    loss_case("ce_unbatched", lambda x, y: F.cross_entropy(x, y), [randn(5, seed=13), torch.tensor(2)])
    probs = torch.softmax(randn(6, 5, seed=14), -1)
    loss_case("ce_probs", lambda x, y: F.cross_entropy(x, y), [logits, probs])
    loss_case("ce_probs_all", lambda x, y, weight: F.cross_entropy(
        x, y, weight=weight, label_smoothing=0.1, reduction="sum"), [logits, probs], {"weight": w})

    p = torch.sigmoid(randn(4, 5, seed=15))
    q = torch.rand(4, 5, generator=torch.Generator().manual_seed(16))
    for red in ["mean", "sum", "none"]:
        loss_case(f"bce_{red}", lambda x, y, weight: F.binary_cross_entropy(x, y, weight=weight, reduction=red),
                  [p, q], {"weight": w})
        loss_case(f"bce_logits_{red}", lambda x, y, weight, pos_weight: F.binary_cross_entropy_with_logits(
            x, y, weight=weight, pos_weight=pos_weight, reduction=red),
            [randn(4, 5, seed=17) * 3, q], {"weight": w[:1], "pos_weight": w.flip(0)})
    loss_case("bce_plain", lambda x, y: F.binary_cross_entropy(x, y), [p, q])
    loss_case("bce_logits_plain", lambda x, y: F.binary_cross_entropy_with_logits(x, y),
              [randn(4, 5, seed=18) * 30, q])

    a, b = randn(3, 4, seed=19), randn(3, 4, seed=20)
    for red in ["mean", "sum", "none"]:
        loss_case(f"mse_{red}", lambda x, y: F.mse_loss(x, y, reduction=red), [a, b])
        loss_case(f"l1_{red}", lambda x, y: F.l1_loss(x, y, reduction=red), [a, b])
        loss_case(f"huber_{red}", lambda x, y: F.huber_loss(x, y, delta=0.7, reduction=red), [a, b])
        loss_case(f"smooth_l1_{red}", lambda x, y: F.smooth_l1_loss(x, y, beta=0.6, reduction=red), [a, b])
    loss_case("smooth_l1_beta0", lambda x, y: F.smooth_l1_loss(x, y, beta=0.0), [a, b])
    # MLX's log_cosh_loss and hinge_loss have no PyTorch function: their formulas in torch.
    loss_case("log_cosh", lambda x, y: (torch.logaddexp(x - y, y - x) - np.log(2.0)).mean(), [a * 10, b])
    sgn = torch.where(randn(3, 4, seed=21) > 0, 1.0, -1.0)
    loss_case("hinge", lambda x, y: torch.clamp(1 - x * y, min=0).mean(), [a, sgn])
    loss_case("hinge_embedding", lambda x, y: F.hinge_embedding_loss(x, y, margin=1.5), [a, sgn])
    loss_case("hinge_embedding_none", lambda x, y: F.hinge_embedding_loss(x, y, reduction="none"), [a, sgn])

    lp = F.log_softmax(randn(3, 4, seed=22), -1)
    tp = torch.softmax(randn(3, 4, seed=23), -1)
    with warnings.catch_warnings():  # PyTorch's note that 'mean' is not 'batchmean'
        warnings.simplefilter("ignore")
        for red in ["none", "mean", "sum", "batchmean"]:
            loss_case(f"kl_div_{red}", lambda x, y: F.kl_div(x, y, reduction=red), [lp, tp])
    # A zero target: 0 log 0 = 0. PyTorch's gradient with respect to that target is NaN (0 / 0),
    # alloy's is finite, so the target is a constant here.
    tz = tp.clone()
    tz[0, 1] = 0.0
    loss_case("kl_div_zero_target", lambda x, target: F.kl_div(x, target, reduction="sum"), [lp],
              {"target": tz})
    loss_case("kl_div_log_target", lambda x, y: F.kl_div(x, y, reduction="batchmean", log_target=True),
              [lp, F.log_softmax(randn(3, 4, seed=24), -1)])

    x1, x2 = randn(4, 5, seed=25), randn(4, 5, seed=26)
    loss_case("cosine_similarity", lambda u, v: F.cosine_similarity(u, v, dim=-1), [x1, x2])
    loss_case("cosine_similarity_axis0", lambda u, v: F.cosine_similarity(u, v, dim=0, eps=1e-3),
              [randn(3, 4, 2, seed=27), randn(3, 4, 2, seed=28)])
    loss_case("cosine_similarity_broadcast", lambda u, v: F.cosine_similarity(u, v, dim=1),
              [x1, randn(1, 5, seed=29)])
    # Norms below eps: the clamp acts on the value only. PyTorch 2 differentiates through the
    # clamp differently (it normalizes each input first), so this case is PyTorch 1's.
    if torch.__version__ < "2":
        loss_case("cosine_similarity_small", lambda u, v: F.cosine_similarity(u, v, dim=-1, eps=0.5),
                  [x1 * 0.1, x2 * 0.1])
    ypm = torch.tensor([1.0, -1.0, -1.0, 1.0])
    for red in ["mean", "none"]:
        loss_case(f"cosine_embedding_{red}", lambda u, v, y: F.cosine_embedding_loss(
            u, v, y, margin=-0.2, reduction=red), [x1, x2, ypm])
    loss_case("cosine_embedding_unbatched", lambda u, v, y: F.cosine_embedding_loss(u, v, y),
              [x1[0], x2[0], torch.tensor(-1.0)])
    loss_case("margin_ranking", lambda u, v, y: F.margin_ranking_loss(u, v, y, margin=0.3),
              [randn(6, seed=30), randn(6, seed=31), torch.tensor([1.0, -1, 1, 1, -1, -1])])

    an, po, ne = randn(4, 5, seed=32), randn(4, 5, seed=33), randn(4, 5, seed=34)
    loss_case("triplet", lambda a_, p_, n_: F.triplet_margin_loss(a_, p_, n_, margin=2.0), [an, po, ne])
    loss_case("triplet_p1_swap_none", lambda a_, p_, n_: F.triplet_margin_loss(
        a_, p_, n_, margin=1.5, p=1, swap=True, reduction="none"), [an, po, ne])
    loss_case("triplet_p3_sum", lambda a_, p_, n_: F.triplet_margin_loss(
        a_, p_, n_, margin=3.0, p=3, eps=1e-3, reduction="sum"), [an, po * 0.5, ne])

    mu, tg = randn(4, 3, seed=35), randn(4, 3, seed=36)
    var = torch.rand(4, 3, generator=torch.Generator().manual_seed(37)) + 0.1
    var[1, 2] = 1e-8  # below eps: clamped
    loss_case("gaussian_nll", lambda m, y, v: F.gaussian_nll_loss(m, y, v), [mu, tg, var])
    loss_case("gaussian_nll_full_sum", lambda m, y, v: F.gaussian_nll_loss(m, y, v, full=True, eps=1e-4,
                                                                           reduction="sum"), [mu, tg, var])
    loss_case("gaussian_nll_per_sample", lambda m, y, v: F.gaussian_nll_loss(m, y, v, reduction="none"),
              [mu, tg, var[:, 0]])
    loss_case("gaussian_nll_per_sample1", lambda m, y, v: F.gaussian_nll_loss(m, y, v),
              [mu, tg, var[:, :1]])


# ---------- optimizers (tests/nn/test_optimizers.cpp) ----------

OPTIM_STEPS = 6


def optim_data():
    """Shared parameters and a fixed sequence of gradients: optim_data/param/<name> and
    optim_data/grad<k>/<name> for k = 0 .. OPTIM_STEPS - 1."""
    params = {"w": randn(3, 4, seed=40), "b": randn(4, seed=41), "k": randn(2, 3, 2, seed=42)}
    grads = [{n: randn(*p.shape, seed=100 + 10 * k + i) for i, (n, p) in enumerate(params.items())}
             for k in range(OPTIM_STEPS)]
    for n, p in params.items():
        OUT[f"optim_data/param/{n}"] = to_np(p)
    for k, g in enumerate(grads):
        for n, v in g.items():
            OUT[f"optim_data/grad{k}/{n}"] = to_np(v)
    return params, grads


def torch_optim_case(name, make, params, grads):
    """Steps torch.optim.<make> with the given gradients; stores <name>/step<k>/<param> after
    update k (1-based)."""
    ps = {n: p.clone().requires_grad_(True) for n, p in params.items()}
    opt = make(list(ps.values()))
    for k, g in enumerate(grads):
        for n, p in ps.items():
            p.grad = g[n].clone()
        opt.step()
        for n, p in ps.items():
            OUT[f"{name}/step{k + 1}/{n}"] = to_np(p).copy()  # p changes in place


def numpy_optim_case(name, rule, params, grads):
    """The same for a rule written here in NumPy: rule(t, p, g, state) -> new p."""
    ps = {n: to_np(p).copy() for n, p in params.items()}
    states = {n: {} for n in ps}
    for k, g in enumerate(grads):
        for n in ps:
            ps[n] = rule(k + 1, ps[n], to_np(g[n]), states[n])
            OUT[f"{name}/step{k + 1}/{n}"] = ps[n].copy()


def lion_rule(lr, b1, b2, wd):
    """Lion, from Chen et al. 2023 (Algorithm 2) as mlx.optimizers.Lion writes it; torch 1.13
    has no Lion, so this is an independent NumPy reference."""
    def rule(t, p, g, st):
        m = st.get("m", np.zeros_like(p))
        c = b1 * m + (1 - b1) * g
        st["m"] = b2 * m + (1 - b2) * g
        p = p * (1 - lr * wd)
        return p - lr * np.sign(c)
    return rule


def adafactor_rule(lr=None, eps=(1e-30, 1e-3), clip=1.0, decay=-0.8, beta1=None, wd=0.0,
                   scale_parameter=True, relative_step=True, warmup_init=False):
    """Adafactor, from Shazeer & Stern 2018 as Hugging Face's transformers.Adafactor writes it;
    torch 1.13 has no Adafactor, so this is an independent NumPy reference."""
    def rms(x):
        return np.sqrt(np.mean(x * x))

    def rule(t, p, g, st):
        if relative_step:
            rho = min(1e-6 * t if warmup_init else 1e-2, 1.0 / np.sqrt(t))
        else:
            rho = lr
        step_lr = max(eps[1], rms(p)) * rho if scale_parameter else rho
        beta2 = 1.0 - t ** decay
        u = g * g + eps[0]
        if p.ndim >= 2:
            row = beta2 * st.get("row", np.zeros(p.shape[:-1])) + (1 - beta2) * u.mean(-1)
            col = beta2 * st.get("col", np.zeros(p.shape[:-2] + p.shape[-1:])) + (1 - beta2) * u.mean(-2)
            st["row"], st["col"] = row, col
            r = 1 / np.sqrt(row / row.mean(-1, keepdims=True))
            c = 1 / np.sqrt(col)
            u = r[..., :, None] * c[..., None, :] * g
        else:
            v = beta2 * st.get("v", np.zeros_like(p)) + (1 - beta2) * u
            st["v"] = v
            u = g / np.sqrt(v)
        u = u / max(1.0, rms(u) / clip)
        u = step_lr * u
        if beta1 is not None:
            st["m"] = beta1 * st.get("m", np.zeros_like(p)) + (1 - beta1) * u
            u = st["m"]
        if wd != 0:
            p = p - wd * step_lr * p
        return p - u
    return rule


def optimizer_cases():
    params, grads = optim_data()
    O = torch.optim
    cases = {
        "sgd_plain": lambda ps: O.SGD(ps, lr=0.1),
        "sgd_nesterov_wd": lambda ps: O.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        "sgd_dampening": lambda ps: O.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3),
        "adam": lambda ps: O.Adam(ps, lr=0.01),
        "adam_wd_amsgrad": lambda ps: O.Adam(ps, lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1,
                                             amsgrad=True),
        "adamw": lambda ps: O.AdamW(ps, lr=0.01, weight_decay=0.1),
        "adamw_amsgrad": lambda ps: O.AdamW(ps, lr=0.01, amsgrad=True),
        "adamax": lambda ps: O.Adamax(ps),
        "adamax_wd": lambda ps: O.Adamax(ps, lr=0.01, betas=(0.8, 0.9), weight_decay=0.05),
        "rmsprop": lambda ps: O.RMSprop(ps),
        "rmsprop_centered_momentum": lambda ps: O.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.02,
                                                          momentum=0.5, centered=True),
        "rmsprop_centered": lambda ps: O.RMSprop(ps, lr=0.01, centered=True),
        "adagrad": lambda ps: O.Adagrad(ps, lr=0.1),
        "adagrad_all": lambda ps: O.Adagrad(ps, lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                            initial_accumulator_value=0.2, eps=1e-8),
        "adadelta": lambda ps: O.Adadelta(ps),
        "adadelta_all": lambda ps: O.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1),
    }
    for name, make in cases.items():
        torch_optim_case("optim_" + name, make, params, grads)
    numpy_optim_case("optim_lion", lion_rule(0.01, 0.9, 0.99, 0.0), params, grads)
    numpy_optim_case("optim_lion_wd", lion_rule(0.01, 0.8, 0.95, 0.1), params, grads)
    numpy_optim_case("optim_adafactor", adafactor_rule(), params, grads)
    numpy_optim_case("optim_adafactor_fixed", adafactor_rule(lr=0.01, clip=0.5, beta1=0.9, wd=0.1,
                                                             scale_parameter=False, relative_step=False),
                     params, grads)
    numpy_optim_case("optim_adafactor_warmup", adafactor_rule(warmup_init=True, beta1=0.5, decay=-0.5),
                     params, grads)

    # clip_grad_norm_: one call that clips, one that does not.
    for name, max_norm in [("clip_grad_norm", 1.5), ("clip_grad_norm_noop", 100.0)]:
        gs = {n: g.clone() for n, g in grads[0].items()}
        ps = [torch.zeros_like(g, requires_grad=True) for g in gs.values()]
        for p, g in zip(ps, gs.values()):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        OUT[f"{name}/total"] = to_np(total)
        for (n, _), p in zip(gs.items(), ps):
            OUT[f"{name}/clipped/{n}"] = to_np(p.grad)


CASE_GROUPS = [linear_cases, attention_cases, transformer_cases, loss_cases, optimizer_cases]


# ---------- layers (nn-layers): embedding, conv, pooling, normalization, activations ----------

def _randomize_affine(module, seed):
    """Non-trivial weight and bias, so their gradients and effect are tested."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if getattr(module, "weight", None) is not None:
            module.weight.copy_(torch.rand(module.weight.shape, generator=g) + 0.5)
        if getattr(module, "bias", None) is not None:
            module.bias.copy_(torch.randn(module.bias.shape, generator=g))


def _unbatched_channels_last(module, x):
    """Runs PyTorch's unbatched path on alloy's (spatial..., C) layout: (L, C) or (H, W, C)."""
    nd = x.dim()
    y = module(x.permute(nd - 1, *range(nd - 1)))
    return y.permute(*range(1, nd), 0)


def embedding_cases():
    torch.manual_seed(10)
    emb = torch.nn.Embedding(10, 4)
    idx = torch.tensor([[1, 3, 3, 9], [0, 3, 7, 1], [9, 9, 2, 5]], dtype=torch.int64)
    record("embedding", emb, [idx])
    record("embedding_as_linear", emb, [randn(2, 3, 4, seed=11)], forward=lambda m, x: x @ m.weight.T)


def conv_cases():
    def cw(transposed, groups):
        return lambda n, t: conv_weight_to_alloy(t, transposed, groups) if n == "weight" else t

    torch.manual_seed(20)
    nn = torch.nn
    record("conv1d", nn.Conv1d(3, 4, 3), [randn(2, 3, 9, seed=21)], "channels_last", param_map=cw(False, 1))
    record("conv1d_strided_grouped", nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2),
           [randn(2, 4, 11, seed=22)], "channels_last", param_map=cw(False, 2))
    record("conv1d_nobias", nn.Conv1d(2, 3, 4, padding=1, bias=False), [randn(3, 2, 7, seed=23)],
           "channels_last", param_map=cw(False, 1))
    record("conv1d_unbatched", nn.Conv1d(3, 2, 2, stride=2), [randn(8, 3, seed=24)],
           forward=_unbatched_channels_last, param_map=cw(False, 1))
    record("conv2d", nn.Conv2d(3, 4, 3, padding=1), [randn(2, 3, 6, 5, seed=25)], "channels_last",
           param_map=cw(False, 1))
    record("conv2d_strided_grouped",
           nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
           [randn(2, 4, 7, 8, seed=26)], "channels_last", param_map=cw(False, 2))
    record("conv2d_depthwise", nn.Conv2d(4, 8, 3, stride=2, groups=4, bias=False), [randn(2, 4, 7, 7, seed=27)],
           "channels_last", param_map=cw(False, 4))
    record("conv2d_unbatched", nn.Conv2d(2, 3, (2, 3), padding=(1, 1)), [randn(5, 4, 2, seed=28)],
           forward=_unbatched_channels_last, param_map=cw(False, 1))
    record("conv_transpose1d", nn.ConvTranspose1d(3, 4, 3), [randn(2, 3, 5, seed=29)], "channels_last",
           param_map=cw(True, 1))
    record("conv_transpose1d_strided_grouped",
           nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2),
           [randn(2, 4, 5, seed=30)], "channels_last", param_map=cw(True, 2))
    record("conv_transpose1d_unbatched", nn.ConvTranspose1d(2, 3, 2, stride=3, bias=False), [randn(4, 2, seed=31)],
           forward=_unbatched_channels_last, param_map=cw(True, 1))
    record("conv_transpose2d", nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
           [randn(2, 3, 4, 3, seed=32)], "channels_last", param_map=cw(True, 1))
    record("conv_transpose2d_strided_grouped",
           nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2,
                              dilation=(1, 2)),
           [randn(2, 4, 4, 5, seed=33)], "channels_last", param_map=cw(True, 2))
    record("conv_transpose2d_unbatched", nn.ConvTranspose2d(2, 4, 2, stride=2, groups=2),
           [randn(3, 2, 2, seed=34)], forward=_unbatched_channels_last, param_map=cw(True, 2))


def pooling_cases():
    nn = torch.nn
    record("maxpool1d", nn.MaxPool1d(3, stride=2, padding=1), [randn(2, 3, 10, seed=40)], "channels_last")
    record("maxpool1d_default_stride", nn.MaxPool1d(2), [randn(2, 3, 9, seed=41)], "channels_last")
    record("maxpool1d_unbatched", nn.MaxPool1d(3, stride=1), [randn(7, 2, seed=42)],
           forward=_unbatched_channels_last)
    record("maxpool2d", nn.MaxPool2d(2), [randn(2, 3, 8, 7, seed=43)], "channels_last")
    record("maxpool2d_strided_padded", nn.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 1)),
           [randn(2, 3, 9, 8, seed=44)], "channels_last")
    record("maxpool2d_unbatched", nn.MaxPool2d(3, stride=2, padding=1), [randn(7, 6, 2, seed=45)],
           forward=_unbatched_channels_last)
    record("avgpool1d", nn.AvgPool1d(3, stride=2, padding=1), [randn(2, 3, 10, seed=46)], "channels_last")
    record("avgpool1d_unbatched", nn.AvgPool1d(2), [randn(9, 3, seed=47)], forward=_unbatched_channels_last)
    record("avgpool2d", nn.AvgPool2d(2), [randn(2, 3, 8, 7, seed=48)], "channels_last")
    record("avgpool2d_strided_padded", nn.AvgPool2d((3, 2), stride=(2, 1), padding=(1, 1)),
           [randn(2, 3, 9, 8, seed=49)], "channels_last")
    record("avgpool2d_unbatched", nn.AvgPool2d(3, stride=2, padding=1), [randn(7, 6, 2, seed=50)],
           forward=_unbatched_channels_last)


class _LayerNormWeightOnly(torch.nn.Module):
    """LayerNorm(bias=False) (PyTorch 1.13's LayerNorm has no bias argument)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)
        self.weight = torch.nn.Parameter(torch.ones(self.shape))

    def forward(self, x):
        return torch.nn.functional.layer_norm(x, self.shape, self.weight, None, 1e-5)


class _RMSNorm(torch.nn.Module):
    """x / sqrt(mean(x^2) + eps) * w (PyTorch 1.13 has no RMSNorm)."""

    def __init__(self, dims, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dims))

    def forward(self, x):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def normalization_cases():
    nn = torch.nn

    def rec(name, module, x, layout="plain", seed=0):
        _randomize_affine(module, seed)
        record(name, module, [x], layout)

    rec("layernorm", nn.LayerNorm(5), randn(4, 5, seed=60), seed=1)
    rec("layernorm_2d_shape", nn.LayerNorm((3, 4)), randn(2, 3, 4, seed=61), seed=2)
    rec("layernorm_no_affine", nn.LayerNorm(6, eps=1e-3, elementwise_affine=False), randn(3, 2, 6, seed=62))
    rec("layernorm_no_bias", _LayerNormWeightOnly((5,)), randn(3, 5, seed=63), seed=3)
    rec("rmsnorm", _RMSNorm(6), randn(2, 3, 6, seed=64), seed=4)
    rec("groupnorm_2d", nn.GroupNorm(2, 6), randn(2, 6, 4, 3, seed=65), "channels_last", seed=5)
    rec("groupnorm_1d", nn.GroupNorm(3, 6, eps=1e-3), randn(2, 6, 5, seed=66), "channels_last", seed=6)
    rec("groupnorm_nc", nn.GroupNorm(2, 4), randn(3, 4, seed=67), seed=7)
    rec("groupnorm_no_affine", nn.GroupNorm(1, 3, affine=False), randn(2, 3, 4, 4, seed=68), "channels_last")
    rec("batchnorm_nc_train", nn.BatchNorm1d(5), randn(8, 5, seed=69), seed=8)
    rec("batchnorm_ncl_train", nn.BatchNorm1d(3, momentum=0.3), randn(4, 3, 6, seed=70), "channels_last", seed=9)
    rec("batchnorm_2d_train", nn.BatchNorm2d(3), randn(4, 3, 5, 6, seed=71), "channels_last", seed=10)
    rec("batchnorm_cumulative_train", nn.BatchNorm1d(4, momentum=None), randn(6, 4, seed=72), seed=11)
    rec("batchnorm_no_affine_train", nn.BatchNorm2d(2, affine=False), randn(3, 2, 4, 4, seed=73), "channels_last")
    bn = nn.BatchNorm2d(3, eps=1e-3)
    g = torch.Generator().manual_seed(74)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(3, generator=g))
        bn.running_var.copy_(torch.rand(3, generator=g) + 0.5)
        bn.num_batches_tracked.fill_(7)
    rec("batchnorm_2d_eval", bn.eval(), randn(4, 3, 5, 6, seed=75), "channels_last", seed=12)
    rec("batchnorm_untracked_eval", nn.BatchNorm1d(5, track_running_stats=False).eval(), randn(6, 5, seed=76),
        seed=13)
    rec("instancenorm_2d", nn.InstanceNorm2d(3, affine=True), randn(2, 3, 5, 4, seed=77), "channels_last", seed=14)
    rec("instancenorm_1d", nn.InstanceNorm1d(4), randn(3, 4, 7, seed=78), "channels_last")


# Values covering negative, zero and positive inputs, every kink (hardtanh's +-1 and -2, 1.5,
# relu6's 0 and 6, hardswish's +-3) and softplus's thresholds (x = 20 for beta 1, threshold 20;
# x = 2.5 for beta 2, threshold 5), with points just on either side.
ACTIVATION_INPUT = [-50, -20.5, -10, -6, -3.5, -3, -2.5, -2, -1.5, -1, -0.75, -0.5, -0.25, -0.1, -1e-3, 0,
                    1e-3, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.4, 2.5, 2.6, 3, 3.5, 4, 5, 6, 6.5, 10, 15, 19.9,
                    20, 20.1, 30, 50]


def activation_cases():
    nn = torch.nn
    x = torch.tensor(ACTIVATION_INPUT, dtype=torch.float64).reshape(4, 10)
    cases = {
        "relu": nn.ReLU(), "relu6": nn.ReLU6(), "leaky_relu": nn.LeakyReLU(),
        "leaky_relu_0.2": nn.LeakyReLU(0.2), "leaky_relu_1.5": nn.LeakyReLU(1.5),
        "elu": nn.ELU(), "elu_0.7": nn.ELU(0.7), "selu": nn.SELU(),
        "celu": nn.CELU(), "celu_1.5": nn.CELU(1.5), "gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"),
        "silu": nn.SiLU(), "mish": nn.Mish(), "softplus": nn.Softplus(), "softplus_beta2_t5": nn.Softplus(2, 5),
        "softsign": nn.Softsign(), "hardswish": nn.Hardswish(), "hardtanh": nn.Hardtanh(),
        "hardtanh_-2_1.5": nn.Hardtanh(-2, 1.5), "glu": nn.GLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(),
        "softmax": nn.Softmax(dim=-1), "log_softmax": nn.LogSoftmax(dim=-1), "prelu": nn.PReLU(),
    }
    for name, module in cases.items():
        inp = x
        if name == "hardswish":
            # PyTorch's gradient at x = -3 is -0.5 in 1.13's vectorized kernel and 0 in 2.x: the
            # kinks are left out (test_activations.cpp pins alloy's values there).
            inp = torch.where(x.abs() == 3, x * 1.01, x)
        record(f"act_{name}", module, [inp])
    prelu = nn.PReLU(10)
    with torch.no_grad():
        prelu.weight.copy_(torch.linspace(-0.5, 0.9, 10))
    record("act_prelu_channels", prelu, [x])
    prelu4 = nn.PReLU(3)
    with torch.no_grad():
        prelu4.weight.copy_(torch.tensor([0.1, -0.3, 0.6]))
    record("act_prelu_channels_last", prelu4, [randn(2, 3, 4, 5, seed=80)], "channels_last")
    record("act_glu_axis0", nn.GLU(dim=0), [x])


CASE_GROUPS += [embedding_cases, conv_cases, pooling_cases, normalization_cases, activation_cases]


def main():
    for group in CASE_GROUPS:
        group()
    np.savez(sys.argv[1], **OUT)


if __name__ == "__main__":
    main()
