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


CASE_GROUPS = [linear_cases]


def main():
    for group in CASE_GROUPS:
        group()
    np.savez(sys.argv[1], **OUT)


if __name__ == "__main__":
    main()
