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
        record(f"act_{name}", module, [x])
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
