#!/usr/bin/env python3
"""Reference values for the core op tests, computed with NumPy.

Writes one JSON file: {"cases": [{"name", "op", "params", "inputs", "expected"}]}. Each input
and the expected output is {"dtype", "shape", "data"} with data flattened in row-major order;
non-finite numbers are the strings "nan", "inf", "-inf". An input may carry "broadcast_to":
the test views it broadcast to that shape. Expected values are computed in float64 from the
inputs as stored in their dtype (bfloat16 inputs are float32 values rounded to bfloat16).

Usage: references.py OUT.json
"""
import json
import sys

import numpy as np

RNG = np.random.default_rng(1234)
FLOATS = ["float16", "bfloat16", "float32", "float64"]


def round_bf16(x):
    x = np.asarray(x, dtype=np.float32)
    b = x.view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32)


def store(x, dtype):
    """x rounded to `dtype` and returned as float64 (or int/bool) values."""
    if dtype == "bfloat16":
        return round_bf16(x).astype(np.float64)
    return np.asarray(x).astype(dtype)


def encode(x, dtype):
    flat = np.asarray(x).reshape(-1)
    data = []
    for v in flat.tolist():
        if isinstance(v, float) and not np.isfinite(v):
            data.append("nan" if np.isnan(v) else ("inf" if v > 0 else "-inf"))
        else:
            data.append(v)
    return {"dtype": dtype, "shape": list(np.shape(x)), "data": data}


CASES = []


def case(name, op, inputs, expected, out_dtype, params=None):
    """inputs: list of (values, dtype[, broadcast_to])."""
    enc = []
    for item in inputs:
        e = encode(item[0], item[1])
        if len(item) > 2:
            e["broadcast_to"] = list(item[2])
        enc.append(e)
    CASES.append({"name": name, "op": op, "params": params or {}, "inputs": enc,
                  "expected": encode(expected, out_dtype)})


def rand(shape, lo, hi, dtype):
    if dtype in ("bool",):
        return RNG.integers(0, 2, shape).astype(bool)
    if dtype.startswith("int") or dtype.startswith("uint"):
        return RNG.integers(lo, hi, shape).astype(dtype)
    return store(RNG.uniform(lo, hi, shape), dtype)


# ---------------- unary ----------------
UNARY_FLOAT = {
    "exp": (np.exp, -5, 5), "expm1": (np.expm1, -3, 3), "log": (np.log, 0.05, 10),
    "log1p": (np.log1p, -0.9, 5), "log2": (np.log2, 0.05, 10), "log10": (np.log10, 0.05, 10),
    "sqrt": (np.sqrt, 0, 10), "rsqrt": (lambda x: 1 / np.sqrt(x), 0.1, 10),
    "square": (np.square, -3, 3), "reciprocal": (lambda x: 1 / x, 0.2, 5),
    "sin": (np.sin, -4, 4), "cos": (np.cos, -4, 4), "tan": (np.tan, -1.2, 1.2),
    "arcsin": (np.arcsin, -0.95, 0.95), "arccos": (np.arccos, -0.95, 0.95),
    "arctan": (np.arctan, -4, 4), "sinh": (np.sinh, -3, 3), "cosh": (np.cosh, -3, 3),
    "tanh": (np.tanh, -3, 3), "arcsinh": (np.arcsinh, -4, 4), "arccosh": (np.arccosh, 1.1, 5),
    "arctanh": (np.arctanh, -0.9, 0.9), "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), -6, 6),
    "erf": (None, -2.5, 2.5), "erfinv": (None, -0.95, 0.95),
    "abs": (np.abs, -3, 3), "negative": (np.negative, -3, 3), "sign": (np.sign, -3, 3),
    "floor": (np.floor, -4, 4), "ceil": (np.ceil, -4, 4), "round": (np.round, -4, 4),
}


def erf64(x):
    import math
    return np.vectorize(math.erf)(x)


def erfinv64(y):
    # Invert erf by bisection in float64 (NumPy has no erfinv).
    lo, hi = np.full_like(y, -6.0), np.full_like(y, 6.0)
    for _ in range(200):
        mid = (lo + hi) / 2
        too_big = erf64(mid) > y
        hi = np.where(too_big, mid, hi)
        lo = np.where(too_big, lo, mid)
    return (lo + hi) / 2


for name, (fn, lo, hi) in UNARY_FLOAT.items():
    for dt in FLOATS:
        x = rand((3, 5), lo, hi, dt)
        if name == "round":
            x = store(np.round(x * 2) / 2, dt)  # exact halves check half-to-even
        xf = x.astype(np.float64)
        if name == "erf":
            y = erf64(xf)
        elif name == "erfinv":
            y = erfinv64(xf)
        else:
            y = fn(xf)
        case(f"{name}_{dt}", name, [(x, dt)], y, dt)

# expm1, log1p and erf near 0 (where exp(x) - 1 and log(1 + x) cancel) and for large |x| (overflow,
# saturation at -1 and +-1, log1p's pole at -1); float16 stays inside its range (max 65504).
EDGE = {
    "expm1": {"wide": [-1e-7, -3e-5, 0.0, 2e-6, 1e-4, -0.3, 0.4, -20.0, -90.0, 30.0, 80.0, 88.5],
              "float16": [-1e-4, -3e-3, 0.0, 2e-3, 1e-2, -0.3, 0.4, -12.0, -20.0, 5.0, 9.5, 10.5]},
    "log1p": {"wide": [-1e-7, -3e-5, 0.0, 2e-6, 1e-4, -0.999, -0.5, 3.0, 1e6, 1e30, 3e38, -1.0],
              "float16": [-1e-4, -3e-3, 0.0, 2e-3, 1e-2, -0.99, -0.5, 3.0, 100.0, 6e4, 30.0, -1.0]},
    "erf": {"wide": [-1e-7, -3e-5, 0.0, 2e-6, 1e-4, -0.89, 0.91, 2.0, -3.5, 3.95, 5.0, -30.0],
            "float16": [-1e-4, -3e-3, 0.0, 2e-3, 1e-2, -0.89, 0.91, 2.0, -3.5, 3.95, 5.0, -30.0]},
}
for name, sets in EDGE.items():
    ref = {"expm1": np.expm1, "log1p": np.log1p, "erf": erf64}[name]
    for dt in FLOATS:
        x = store(np.array(sets["float16" if dt == "float16" else "wide"]).reshape(3, 4), dt)
        with np.errstate(divide="ignore"):
            case(f"{name}_edges_{dt}", name, [(x, dt)], ref(x.astype(np.float64)), dt)

for name, fn in {"abs": np.abs, "negative": np.negative, "sign": np.sign, "square": np.square}.items():
    for dt in ["int8", "int32", "int64"]:
        x = rand((4, 3), -9, 9, dt)
        case(f"{name}_{dt}", name, [(x, dt)], fn(x), dt)
for dt in ["uint8", "int16", "int64", "bool"]:
    x = rand((4, 3), 0, 200, dt) if dt != "bool" else rand((4, 3), 0, 2, dt)
    case(f"bitwise_invert_{dt}", "bitwise_invert", [(x, dt)], np.invert(x), dt)
for dt in ["float32", "float16"]:
    x = np.array([[1.0, np.nan, np.inf], [-np.inf, 0.0, -2.5]])
    case(f"isnan_{dt}", "isnan", [(x, dt)], np.isnan(x), "bool")
    case(f"isinf_{dt}", "isinf", [(x, dt)], np.isinf(x), "bool")
    case(f"isfinite_{dt}", "isfinite", [(x, dt)], np.isfinite(x), "bool")
x = rand((3, 4), -2, 3, "int32")
case("logical_not_int32", "logical_not", [(x, "int32")], np.logical_not(x), "bool")
case("exp_int32_promotes", "exp", [(x, "int32")], np.exp(x.astype(np.float64)), "float32")

# ---------------- binary ----------------
BINARY_FLOAT = {
    "add": (np.add, -3, 3, -3, 3), "subtract": (np.subtract, -3, 3, -3, 3),
    "multiply": (np.multiply, -3, 3, -3, 3), "divide": (np.divide, -3, 3, 0.5, 3),
    "floor_divide": (np.floor_divide, -9, 9, 0.7, 3), "remainder": (np.remainder, -9, 9, 0.7, 3),
    "power": (np.power, 0.2, 3, -2, 2), "maximum": (np.maximum, -3, 3, -3, 3),
    "minimum": (np.minimum, -3, 3, -3, 3), "logaddexp": (np.logaddexp, -5, 5, -5, 5),
    "arctan2": (np.arctan2, -3, 3, -3, 3),
}
COMPARE = {"equal": np.equal, "not_equal": np.not_equal, "less": np.less,
           "less_equal": np.less_equal, "greater": np.greater, "greater_equal": np.greater_equal}

for name, (fn, alo, ahi, blo, bhi) in BINARY_FLOAT.items():
    for dt in FLOATS:
        a, b = rand((4, 6), alo, ahi, dt), rand((4, 6), blo, bhi, dt)
        if name == "remainder" and dt in ("float16", "bfloat16"):
            # Avoid results within rounding of the divisor (the sign flip is then unstable).
            pass
        y = fn(a.astype(np.float64), b.astype(np.float64))
        case(f"{name}_{dt}", name, [(a, dt), (b, dt)], y, dt)
    # Broadcasting: (3, 1, 4) with (5, 4), and a (1, 4) row broadcast explicitly to (5, 4).
    a, b = rand((3, 1, 4), alo, ahi, "float32"), rand((5, 4), blo, bhi, "float32")
    case(f"{name}_broadcast", name, [(a, "float32"), (b, "float32")],
         fn(a.astype(np.float64), b.astype(np.float64)), "float32")
    a, b = rand((1, 4), alo, ahi, "float32"), rand((5, 4), blo, bhi, "float32")
    case(f"{name}_broadcast_view", name, [(a, "float32", (5, 4)), (b, "float32")],
         fn(np.broadcast_to(a, (5, 4)).astype(np.float64), b.astype(np.float64)), "float32")

# maximum/minimum take NaN from either argument (NumPy), in every float dtype.
for name, fn in {"maximum": np.maximum, "minimum": np.minimum}.items():
    for dt in FLOATS:
        a = store(np.array([[1.0, np.nan, np.nan, -2.0], [3.0, -np.inf, 0.0, np.nan]]), dt)
        b = store(np.array([[np.nan, 2.0, np.nan, -3.0], [np.inf, np.nan, -0.5, 4.0]]), dt)
        case(f"{name}_nan_{dt}", name, [(a, dt), (b, dt)], fn(a.astype(np.float64), b.astype(np.float64)), dt)
        case(f"{name}_nan_scalar_{dt}", name, [(a, dt), (np.array(np.nan), dt, (2, 4))],
             np.full((2, 4), np.nan), dt)

INT_BINARY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
              "floor_divide": np.floor_divide, "remainder": np.remainder,
              "maximum": np.maximum, "minimum": np.minimum, "power": np.power}
for name, fn in INT_BINARY.items():
    for dt in ["int8", "int32", "int64", "uint8", "uint32"]:
        signed = dt.startswith("int")
        a = rand((3, 5), -20 if signed else 0, 20, dt)
        b = rand((3, 5), 1, 6, dt)
        if name == "power":
            a = rand((3, 5), -3 if signed else 0, 4, dt)
            b = rand((3, 5), 0, 4, dt)
        elif signed and name in ("floor_divide", "remainder", "multiply", "subtract"):
            b = b * np.where(RNG.integers(0, 2, b.shape) == 1, 1, -1).astype(dt)
        with np.errstate(all="ignore"):
            y = fn(a, b)
        case(f"{name}_{dt}", name, [(a, dt), (b, dt)], y, dt)
for name, fn in COMPARE.items():
    for dt in ["float32", "int32", "float16"]:
        a, b = rand((4, 5), -3, 3, dt), rand((4, 5), -3, 3, dt)
        b = np.where(RNG.integers(0, 3, b.shape) == 0, a, b).astype(a.dtype)  # some ties
        case(f"{name}_{dt}", name, [(a, dt), (b, dt)], fn(a, b), "bool")
for name, fn in {"logical_and": np.logical_and, "logical_or": np.logical_or}.items():
    a, b = rand((3, 4), 0, 2, "bool"), rand((3, 4), 0, 2, "bool")
    case(f"{name}_bool", name, [(a, "bool"), (b, "bool")], fn(a, b), "bool")
for name, fn in {"bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
                 "bitwise_xor": np.bitwise_xor}.items():
    for dt in ["uint8", "int32", "int64"]:
        a, b = rand((3, 4), 0, 120, dt), rand((3, 4), 0, 120, dt)
        case(f"{name}_{dt}", name, [(a, dt), (b, dt)], fn(a, b), dt)
for name, fn in {"left_shift": np.left_shift, "right_shift": np.right_shift}.items():
    for dt in ["uint8", "int32", "int64"]:
        a, b = rand((3, 4), 0, 100, dt), rand((3, 4), 0, 7, dt)
        case(f"{name}_{dt}", name, [(a, dt), (b, dt)], fn(a, b), dt)

# Promotion: int32 + float16 -> float16 (MLX rule), uint8 + int8 -> int16.
a, b = rand((2, 3), -5, 5, "int32"), rand((2, 3), -2, 2, "float16")
case("add_int32_float16", "add", [(a, "int32"), (b, "float16")],
     a.astype(np.float64) + b.astype(np.float64), "float16")
a, b = rand((2, 3), 0, 200, "uint8"), rand((2, 3), -100, 100, "int8")
case("add_uint8_int8", "add", [(a, "uint8"), (b, "int8")], a.astype(np.int16) + b, "int16")

c = rand((4, 5), 0, 2, "bool")
for dt in ["float32", "int32", "bfloat16"]:
    x, y = rand((4, 5), -3, 3, dt), rand((1, 5), -3, 3, dt)
    case(f"where_{dt}", "where", [(c, "bool"), (x, dt), (y, dt)],
         np.where(c, x.astype(np.float64) if "float" in dt else x,
                  np.broadcast_to(y, (4, 5)).astype(np.float64) if "float" in dt else y),
         dt)
# where in every element size, with a broadcast mask and scalar branches.
c_row = rand((1, 5), 0, 2, "bool")
for dt in ["float16", "float64", "int8", "uint16", "int64", "bool"]:
    x, y = rand((4, 5), -3, 3, dt), rand((4, 5), -3, 3, dt)
    case(f"where_{dt}", "where", [(c, "bool"), (x, dt), (y, dt)], np.where(c, x, y), dt)
    case(f"where_row_mask_{dt}", "where", [(c_row, "bool", (4, 5)), (x, dt), (y[:1], dt, (4, 5))],
         np.where(c_row, x, y[:1]), dt)
x = rand((4, 5), -3, 3, "float32")
case("where_scalars", "where", [(c, "bool"), (np.array(1.5), "float32", (4, 5)), (x, "float32")],
     np.where(c, 1.5, x), "float32")
x = store(np.array([[np.nan, 1.0, -np.inf, 2.0, np.nan]]), "float32")
case("where_nan", "where", [(c, "bool"), (x, "float32", (4, 5)), (np.array(0.0), "float32", (4, 5))],
     np.where(c, x, 0.0), "float32")

x = rand((4, 5), -3, 3, "float32")
case("clip", "clip", [(x, "float32")], np.clip(x, -1.0, 1.5), "float32", {"min": -1.0, "max": 1.5})

# ---------------- reductions ----------------
AXES = [None, 0, 1, [0, 2], [1, 2], [0, 1, 2]]
for name in ["sum", "prod", "max", "min", "mean"]:
    fn = getattr(np, name if name not in ("max", "min") else "a" + name)
    for dt in ["float32", "float64", "float16", "int32"]:
        if name == "mean" and dt == "int32":
            continue
        lo, hi = (0.5, 1.5) if name == "prod" else (-3, 3)
        x = rand((3, 4, 5), lo, hi, dt) if "float" in dt else rand((3, 4, 5), -3 if name != "prod" else 1, 4, dt)
        for axes in AXES:
            for keep in [False, True]:
                ax = tuple(axes) if isinstance(axes, list) else axes
                y = fn(x.astype(np.float64) if "float" in dt else x, axis=ax, keepdims=keep)
                out_dt = dt
                if dt == "int32" and name in ("sum", "prod"):
                    out_dt = "int64"
                case(f"{name}_{dt}_{axes}_{keep}", name, [(x, dt)], y, out_dt,
                     {"axes": axes, "keepdims": keep})
x = rand((6, 4), -3, 3, "bfloat16")
case("sum_bfloat16", "sum", [(x, "bfloat16")], x.sum(axis=1), "bfloat16", {"axes": 1, "keepdims": False})
for name in ["var", "std"]:
    for ddof in [0, 1]:
        x = rand((5, 6), -3, 3, "float32")
        for axes in [None, 0, 1]:
            y = getattr(np, name)(x.astype(np.float64), axis=axes, ddof=ddof)
            case(f"{name}_{axes}_{ddof}", name, [(x, "float32")], y, "float32",
                 {"axes": axes, "keepdims": False, "ddof": ddof})
for axes in [None, 1, [0, 1]]:
    x = rand((4, 7), -20, 20, "float32")
    ax = tuple(axes) if isinstance(axes, list) else axes
    m = np.max(x, axis=ax, keepdims=True)
    y = np.squeeze(np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)) + m, axis=ax)
    case(f"logsumexp_{axes}", "logsumexp", [(x, "float32")], y, "float32", {"axes": axes, "keepdims": False})
for name in ["all", "any"]:
    x = rand((3, 4), 0, 2, "bool")
    x[0, :] = True
    for axes in [None, 0, 1]:
        case(f"{name}_{axes}", name, [(x, "bool")], getattr(np, name)(x, axis=axes), "bool",
             {"axes": axes, "keepdims": False})
for name in ["argmax", "argmin"]:
    for dt in ["float32", "int32", "float16"]:
        x = rand((4, 6), -50, 50, dt)
        for axis in [0, 1]:
            case(f"{name}_{dt}_{axis}", name, [(x, dt)], getattr(np, name)(x, axis=axis), "uint32",
                 {"axis": axis})

# ---------------- scans ----------------
for name, fn in {"cumsum": np.cumsum, "cumprod": np.cumprod,
                 "cummax": np.maximum.accumulate, "cummin": np.minimum.accumulate}.items():
    for dt in ["float32", "int32"]:
        x = rand((4, 5), 0.5, 1.5, dt) if dt == "float32" else rand((4, 5), -3, 4, dt)
        out_dt = "int64" if dt == "int32" and name in ("cumsum", "cumprod") else dt
        xv = x.astype(np.float64) if dt == "float32" else x.astype(np.int64)
        for axis in [0, 1]:
            for reverse in [False, True]:
                for inclusive in [True, False]:
                    if not inclusive and name in ("cummax", "cummin"):
                        continue
                    v = np.flip(xv, axis) if reverse else xv
                    y = fn(v, axis=axis)
                    if not inclusive:
                        init = {"cumsum": 0, "cumprod": 1}[name]
                        y = np.concatenate([np.full_like(np.take(y, [0], axis=axis), init),
                                            np.delete(y, -1, axis=axis)], axis=axis)
                    if reverse:
                        y = np.flip(y, axis)
                    case(f"{name}_{dt}_{axis}_{reverse}_{inclusive}", name, [(x, dt)], y, out_dt,
                         {"axis": axis, "reverse": reverse, "inclusive": inclusive})

for dt in ["float32", "float16", "bfloat16", "float64"]:
    x = rand((3, 4, 9), -4, 4, dt)
    for axis in [-1, 1]:
        xf = x.astype(np.float64)
        e = np.exp(xf - xf.max(axis=axis, keepdims=True))
        case(f"softmax_{dt}_{axis}", "softmax", [(x, dt)], e / e.sum(axis=axis, keepdims=True), dt, {"axis": axis})
        lse = np.log(np.sum(np.exp(xf - xf.max(axis=axis, keepdims=True)), axis=axis, keepdims=True)) + xf.max(axis=axis, keepdims=True)
        case(f"log_softmax_{dt}_{axis}", "log_softmax", [(x, dt)], xf - lse, dt, {"axis": axis})

# ---------------- linear algebra ----------------
MM_SHAPES = [((4, 5), (5, 3)), ((1, 7), (7, 1)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
             ((5,), (5, 3)), ((4, 5), (5,)), ((6,), (6,)), ((33, 65), (65, 17))]
for sa, sb in MM_SHAPES:
    for dt in ["float32", "float64", "float16", "bfloat16"]:
        a, b = rand(sa, -1, 1, dt), rand(sb, -1, 1, dt)
        case(f"matmul_{dt}_{sa}_{sb}", "matmul", [(a, dt), (b, dt)],
             np.matmul(a.astype(np.float64), b.astype(np.float64)), dt)
a, b, c = rand((4, 5), -1, 1, "float32"), rand((5, 3), -1, 1, "float32"), rand((3,), -1, 1, "float32")
case("addmm", "addmm", [(c, "float32"), (a, "float32"), (b, "float32")],
     0.5 * (a.astype(np.float64) @ b) + 2.0 * c, "float32", {"alpha": 0.5, "beta": 2.0})
a, b = rand((3, 4), -1, 1, "float32"), rand((5, 4), -1, 1, "float32")
case("inner", "inner", [(a, "float32"), (b, "float32")], np.inner(a.astype(np.float64), b), "float32")
a, b = rand((3,), -1, 1, "float32"), rand((4,), -1, 1, "float32")
case("outer", "outer", [(a, "float32"), (b, "float32")], np.outer(a.astype(np.float64), b), "float32")
a, b = rand((3, 4, 5), -1, 1, "float32"), rand((4, 5, 2), -1, 1, "float32")
case("tensordot_2", "tensordot", [(a, "float32"), (b, "float32")],
     np.tensordot(a.astype(np.float64), b, 2), "float32", {"axes": 2})
a, b = rand((3, 4, 5), -1, 1, "float32"), rand((5, 3, 2), -1, 1, "float32")
case("tensordot_axes", "tensordot", [(a, "float32"), (b, "float32")],
     np.tensordot(a.astype(np.float64), b, ([0, 2], [1, 0])), "float32", {"axes_a": [0, 2], "axes_b": [1, 0]})
x = rand((4, 5), -2, 2, "float32")
xf = x.astype(np.float64)
for ordv in [None, 1, 2, 3, "inf", "-inf", 0]:
    o = {"inf": np.inf, "-inf": -np.inf}.get(ordv, ordv)
    for axes in [[1], [0]]:
        case(f"norm_vec_{ordv}_{axes}", "norm", [(x, "float32")], np.linalg.norm(xf, ord=o, axis=axes[0]),
             "float32", {"ord": ordv, "axes": axes})
for ordv in [None, "fro", 1, -1, "inf", "-inf"]:
    o = {"inf": np.inf, "-inf": -np.inf}.get(ordv, ordv)
    case(f"norm_mat_{ordv}", "norm", [(x, "float32")], np.linalg.norm(xf, ord=o, axis=(0, 1)),
         "float32", {"ord": ordv, "axes": [0, 1]})

# ---------------- shape ----------------
x = rand((3, 4, 2), -5, 5, "float32")
xi = rand((3, 4, 2), -5, 5, "int32")
case("transpose_axes", "transpose", [(x, "float32")], np.transpose(x, (2, 0, 1)), "float32", {"axes": [2, 0, 1]})
case("swapaxes", "swapaxes", [(x, "float32")], np.swapaxes(x, 0, 2), "float32", {"a": 0, "b": 2})
case("moveaxis", "moveaxis", [(x, "float32")], np.moveaxis(x, 0, -1), "float32", {"a": 0, "b": -1})
case("reshape", "reshape", [(x, "float32")], x.reshape(6, -1), "float32", {"shape": [6, -1]})
case("flatten", "flatten", [(x, "float32")], x.reshape(3, 8), "float32", {"start": 1, "end": 2})
case("expand_squeeze", "expand_dims", [(x, "float32")], np.expand_dims(x, (0, 3)), "float32", {"axes": [0, 3]})
case("concatenate", "concatenate", [(x, "float32"), (xi, "int32")],
     np.concatenate([x, xi.astype(np.float64)], axis=1), "float32", {"axis": 1})
case("stack", "stack", [(x, "float32"), (x, "float32")], np.stack([x, x], axis=-1), "float32", {"axis": -1})
case("tile", "tile", [(x, "float32")], np.tile(x, (2, 1, 3)), "float32", {"reps": [2, 1, 3]})
case("repeat", "repeat", [(x, "float32")], np.repeat(x, 3, axis=1), "float32", {"repeats": 3, "axis": 1})
case("pad_constant", "pad", [(x, "float32")], np.pad(x, ((1, 2), (0, 1), (2, 0)), constant_values=7.0),
     "float32", {"widths": [[1, 2], [0, 1], [2, 0]], "value": 7.0, "mode": "constant"})
case("pad_edge", "pad", [(x, "float32")], np.pad(x, ((1, 2), (0, 1), (2, 0)), mode="edge"),
     "float32", {"widths": [[1, 2], [0, 1], [2, 0]], "value": 0.0, "mode": "edge"})
case("flip", "flip", [(x, "float32")], np.flip(x, (0, 2)), "float32", {"axes": [0, 2]})
case("roll", "roll", [(x, "float32")], np.roll(x, -3, axis=1), "float32", {"shift": -3, "axis": 1})
case("roll_flat", "roll", [(x, "float32")], np.roll(x, 5), "float32", {"shift": 5})
m = rand((4, 6), -5, 5, "float32")
for off in [0, 2, -1]:
    case(f"diagonal_{off}", "diagonal", [(m, "float32")], np.diagonal(m, off), "float32", {"offset": off})
    case(f"trace_{off}", "trace", [(m, "float32")], np.trace(m.astype(np.float64), off), "float32", {"offset": off})
    case(f"tril_{off}", "tril", [(m, "float32")], np.tril(m, off), "float32", {"k": off})
    case(f"triu_{off}", "triu", [(m, "float32")], np.triu(m, off), "float32", {"k": off})
v = rand((4,), -5, 5, "float32")
for k in [0, 1, -2]:
    case(f"diag_{k}", "diag", [(v, "float32")], np.diag(v, k), "float32", {"k": k})
sl = rand((5, 7), -5, 5, "float32")
case("slice_neg_step", "slice", [(sl, "float32")], sl[4:0:-2, -1:-8:-3], "float32",
     {"start": [4, -1], "stop": [0, -8], "step": [-2, -3]})
case("slice_clamped", "slice", [(sl, "float32")], sl[-100:3, 2:100:2], "float32",
     {"start": [-100, 2], "stop": [3, 100], "step": [1, 2]})
upd = rand((2, 3), -1, 1, "float32")
ref = sl.copy(); ref[1:5:2, 0:6:2] = upd
case("slice_update", "slice_update", [(sl, "float32"), (upd, "float32")], ref, "float32",
     {"start": [1, 0], "stop": [5, 6], "step": [2, 2]})
a, b = rand((3,), -1, 1, "float32"), rand((4,), -1, 1, "float32")
for idx in ["xy", "ij"]:
    ga, gb = np.meshgrid(a, b, indexing=idx)
    case(f"meshgrid_{idx}_0", "meshgrid", [(a, "float32"), (b, "float32")], ga, "float32", {"indexing": idx, "which": 0})
    case(f"meshgrid_{idx}_1", "meshgrid", [(a, "float32"), (b, "float32")], gb, "float32", {"indexing": idx, "which": 1})
x = rand((6, 4), -5, 5, "float32")
for i, part in enumerate(np.split(x, [2, 5], axis=0)):
    case(f"split_indices_{i}", "split", [(x, "float32")], part, "float32", {"indices": [2, 5], "axis": 0, "which": i})
for i, part in enumerate(np.split(x, 2, axis=1)):
    case(f"split_equal_{i}", "split", [(x, "float32")], part, "float32", {"num": 2, "axis": 1, "which": i})

# ---------------- creation ----------------
case("arange", "arange", [], np.arange(-3, 7, 1.5), "float32", {"start": -3, "stop": 7, "step": 1.5})
case("arange_int", "arange", [], np.arange(10, 0, -3), "int32", {"start": 10, "stop": 0, "step": -3, "dtype": "int32"})
case("linspace", "linspace", [], np.linspace(-1, 2, 7), "float32", {"start": -1, "stop": 2, "num": 7})
case("eye", "eye", [], np.eye(4, 5, 1), "float32", {"n": 4, "m": 5, "k": 1})
case("tri", "tri", [], np.tri(4, 3, -1), "float32", {"n": 4, "m": 3, "k": -1})

with open(sys.argv[1], "w") as f:
    json.dump({"cases": CASES}, f)
print(f"wrote {len(CASES)} cases")
