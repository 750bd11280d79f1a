#!/usr/bin/python3
"""Reference files for alloy's io tests, written by independent writers: NumPy (.npy, .npz)
and hand-written Python (safetensors, GGUF).

Usage: make_npy_fixtures.py OUTDIR

Writes the files and OUTDIR/manifest.txt, one line per array:
    <kind> <file> <key> <alloy dtype> <shape> <expected file>
kind is npy, npz or safetensors; key is '-' for npy; shape is comma-separated dims or
'scalar'; the expected file holds the values as raw little-endian bytes in C order.
The GGUF file (gguf_small.gguf) is checked by values hard-coded in the C++ test.
Exits with status 77 when NumPy is missing (the C++ test then skips).
"""
import json
import os
import struct
import sys

try:
    import numpy as np
except ImportError:
    print("make_npy_fixtures.py: NumPy is not installed", file=sys.stderr)
    sys.exit(77)

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
manifest = []

ALLOY_NAME = {
    "bool": "bool", "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
    "uint64": "uint64", "int8": "int8", "int16": "int16", "int32": "int32",
    "int64": "int64", "float16": "float16", "float32": "float32", "float64": "float64",
}
counter = [0]


def expected(arr, alloy_dtype=None):
    """Writes the C-order little-endian bytes of arr; returns (dtype, shape, file)."""
    counter[0] += 1
    name = "expected_%03d.bin" % counter[0]
    le = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"))
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(le.tobytes(order="C"))
    shape = ",".join(str(d) for d in arr.shape) if arr.ndim else "scalar"
    return alloy_dtype or ALLOY_NAME[arr.dtype.name], shape, name


def add(kind, file, key, arr, alloy_dtype=None):
    dt, shape, exp = expected(arr, alloy_dtype)
    manifest.append("%s %s %s %s %s %s" % (kind, file, key, dt, shape, exp))


def sample(dtype, shape):
    n = int(np.prod(shape))
    i = np.arange(n)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        v = (i % 3) == 0
    elif dt.kind == "u":
        v = (i * 2654435761) % (np.iinfo(dt).max + 1 if dt.itemsize < 8 else 2**63)
        v = v.astype(dt)
        v.flat[-1] = np.iinfo(dt).max
    elif dt.kind == "i":
        info = np.iinfo(dt)
        v = ((i * 40503) % 251 - 125).astype(dt)
        v.flat[0] = info.min
        v.flat[-1] = info.max
    else:
        v = ((i - n / 2) * 0.37).astype(dt)
        if n >= 4:
            v.flat[1] = np.inf
            v.flat[2] = -0.0
            v.flat[3] = np.nan
    return np.asarray(v, dtype=dt).reshape(shape)


DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64"]

# ---- .npy: every dtype, C order ----
for dt in DTYPES:
    a = sample(dt, (3, 4))
    fn = "c_%s.npy" % dt
    np.save(os.path.join(OUT, fn), a)
    add("npy", fn, "-", a)

# ---- Fortran order ----
for dt, shape in [("float32", (2, 3, 4)), ("int16", (5, 7)), ("bool", (3, 2)), ("float64", (4,))]:
    a = np.asfortranarray(sample(dt, shape))
    fn = "f_%s_%d.npy" % (dt, len(shape))
    np.save(os.path.join(OUT, fn), a)
    add("npy", fn, "-", a)

# ---- big-endian ----
for dt in [">f4", ">f8", ">i8", ">u2", ">f2", ">i4", ">u8"]:
    a = sample(np.dtype(dt).newbyteorder("="), (2, 5)).astype(dt)
    fn = "be_%s.npy" % dt[1:]
    np.save(os.path.join(OUT, fn), a)
    add("npy", fn, "-", a.astype(a.dtype.newbyteorder("<")))
# big-endian and Fortran order together
a = np.asfortranarray(sample("int32", (3, 4)).astype(">i4"))
np.save(os.path.join(OUT, "be_f_i4.npy"), a)
add("npy", "be_f_i4.npy", "-", a.astype("<i4"))

# ---- shapes: scalar, 1-d, empty, 5-d, and a transposed (non-contiguous) source ----
for fn, a in [
    ("scalar.npy", np.array(3.25, dtype=np.float64)),
    ("vec.npy", np.arange(7, dtype=np.int64)),
    ("empty.npy", np.zeros((0, 3), dtype=np.float32)),
    ("five_d.npy", np.arange(2 * 3 * 1 * 2 * 2, dtype=np.int32).reshape(2, 3, 1, 2, 2)),
    ("transposed.npy", np.arange(24, dtype=np.float32).reshape(2, 3, 4).transpose(2, 0, 1)),
    ("strided.npy", np.arange(60, dtype=np.uint16).reshape(6, 10)[::2, 1::3]),
]:
    np.save(os.path.join(OUT, fn), a)
    add("npy", fn, "-", a)

# ---- format versions 2.0 and 3.0 ----
for version in [(1, 0), (2, 0), (3, 0)]:
    a = sample("float32", (4, 3))
    fn = "v%d.npy" % version[0]
    with open(os.path.join(OUT, fn), "wb") as f:
        np.lib.format.write_array(f, a, version=version)
    add("npy", fn, "-", a)

# ---- .npz: np.savez (stored) and np.savez_compressed (deflated) ----
arrays = {"weights": sample("float32", (8, 5)), "ids": sample("int64", (11,)),
          "mask": sample("bool", (2, 2, 2)), "half": sample("float16", (3, 3)),
          "nested/name": sample("uint8", (4,))}
np.savez(os.path.join(OUT, "stored.npz"), **arrays)
np.savez_compressed(os.path.join(OUT, "deflated.npz"), **arrays)
for fn in ["stored.npz", "deflated.npz"]:
    for key, a in arrays.items():
        add("npz", fn, key, a)
pos = [sample("int32", (3,)), sample("float64", (2, 2))]
np.savez(os.path.join(OUT, "positional.npz"), *pos)
add("npz", "positional.npz", "arr_0", pos[0])
add("npz", "positional.npz", "arr_1", pos[1])


# ---- safetensors, written by hand (JSON header + bytes, in insertion order) ----
def write_safetensors(path, tensors, metadata=None):
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset, blobs = 0, []
    for name, (st_dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": st_dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def bf16_bits(values):
    # Values exactly representable in bfloat16: the top 16 bits of their float32 encoding.
    f = np.asarray(values, dtype=np.float32)
    return (f.view(np.uint32) >> 16).astype(np.uint16)


st = {}
st_expect = []
# An odd-length U8 tensor first, so the tensors after it are misaligned (the copy path).
for name, st_dtype, a, alloy in [
    ("bytes", "U8", sample("uint8", (3,)), None),
    ("f32", "F32", sample("float32", (2, 3)), None),
    ("i64", "I64", sample("int64", (5,)), None),
    ("f16", "F16", sample("float16", (4, 2)), None),
    ("bf16", "BF16", bf16_bits([[1.0, -2.5, 0.15625], [3.0e10, -0.0, 1.0e-20]]), "bfloat16"),
    ("flags", "BOOL", sample("bool", (7,)), None),
    ("scalar", "F64", np.array(-1.5, dtype=np.float64), None),
    ("empty", "I32", np.zeros((2, 0), dtype=np.int32), None),
    ("u16", "U16", sample("uint16", (3,)), None),
    ("i8", "I8", sample("int8", (2, 2)), None),
    ("u32", "U32", sample("uint32", (2,)), None),
    ("i16", "I16", sample("int16", (3,)), None),
    ("u64", "U64", sample("uint64", (2,)), None),
    ("i32", "I32", sample("int32", (2,)), None),
]:
    st[name] = (st_dtype, a.shape, np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())
    st_expect.append((name, a, alloy))
write_safetensors(os.path.join(OUT, "hand.safetensors"), st,
                  {"format": "pt", "note": "written by make_npy_fixtures.py"})
for name, a, alloy in st_expect:
    add("safetensors", "hand.safetensors", name, a, alloy)


# ---- a small GGUF, written by hand (checked by values in test_numpy_fixtures.cpp) ----
def gstr(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gkv(key, type_code, payload):
    return gstr(key) + struct.pack("<I", type_code) + payload


kv = [
    gkv("general.architecture", 8, gstr("tiny")),
    gkv("general.alignment", 4, struct.pack("<I", 64)),
    gkv("t.u8", 0, struct.pack("<B", 200)),
    gkv("t.i8", 1, struct.pack("<b", -5)),
    gkv("t.u16", 2, struct.pack("<H", 65000)),
    gkv("t.i16", 3, struct.pack("<h", -30000)),
    gkv("t.u32", 4, struct.pack("<I", 4000000000)),
    gkv("t.i32", 5, struct.pack("<i", -2000000000)),
    gkv("t.f32", 6, struct.pack("<f", 1.5)),
    gkv("t.bool", 7, struct.pack("<B", 1)),
    gkv("t.str", 8, gstr("h\u00e9llo")),
    gkv("t.u64", 10, struct.pack("<Q", 2**63 + 5)),
    gkv("t.i64", 11, struct.pack("<q", -2**62)),
    gkv("t.f64", 12, struct.pack("<d", 3.25)),
    gkv("t.arr_i32", 9, struct.pack("<IQ", 5, 3) + struct.pack("<3i", 1, -2, 3)),
    gkv("t.arr_str", 9, struct.pack("<IQ", 8, 2) + gstr("a") + gstr("bc")),
    gkv("t.arr_empty", 9, struct.pack("<IQ", 6, 0)),
    gkv("t.nested", 9, struct.pack("<IQ", 9, 2) + struct.pack("<IQ", 0, 2) + bytes([1, 2]) +
        struct.pack("<IQ", 8, 1) + gstr("x")),
]
w_f32 = (np.arange(12, dtype=np.float32) * 0.5).reshape(3, 4)   # ne = [4, 3]
w_f16 = np.array([1.0, -2.0, 0.5, 65504.0, -0.0], dtype=np.float16)  # ne = [5]
q8 = bytes(range(136))                                                  # Q8_0, ne = [64, 2]
tensors = [("w_f32", [4, 3], 0, w_f32.tobytes()), ("w_f16", [5], 1, w_f16.tobytes()),
           ("q8", [64, 2], 8, q8)]
infos, data, offset = b"", b"", 0
for name, ne, gtype, raw in tensors:
    infos += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
    infos += struct.pack("<IQ", gtype, offset)
    pad = (64 - len(raw) % 64) % 64
    data += raw + b"\0" * pad
    offset += len(raw) + pad
head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)) + b"".join(kv) + infos
head += b"\0" * ((64 - len(head) % 64) % 64)
with open(os.path.join(OUT, "gguf_small.gguf"), "wb") as f:
    f.write(head + data)

with open(os.path.join(OUT, "manifest.txt"), "w") as f:
    f.write("\n".join(manifest) + "\n")
print("wrote %d arrays to %s" % (len(manifest), OUT))
