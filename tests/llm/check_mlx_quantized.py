#!/usr/bin/env python3
"""Checks alloy's reading of MLX-community quantized safetensors against MLX itself: quantizes a
Hugging Face Llama folder with mlx.core.quantize (as mlx_lm.convert -q does: every Linear and the
embedding, affine groups, saved by mlx.core.save_safetensors), writes beside it the same model
with mlx.core.dequantize's weights stored densely, converts both to float32 GGUF with `alloy
convert` (which reads MLX's groups dequantized, exactly) and compares `alloy generate`'s greedy
continuations of the two. (Loading the quantized folder itself runs weights of up to 6 bits as
Q8_0 blocks, whose logits are close but not equal: tests/llm/test_mlx_quantized.cpp bounds them.)
Needs `pip install mlx mlx-cpu` (Linux). Prints MATCH or MISMATCH per scheme and exits non-zero
on a mismatch.

Usage: check_mlx_quantized.py HF_LLAMA_DIR ALLOY_BINARY
"""
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

import mlx.core as mx


def write(src, dst, group, bits, quantize):
    dst.mkdir(parents=True)
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(src / f, dst / f)
    config = json.loads((src / "config.json").read_text())
    out = {}
    for name, w in mx.load(str(src / "model.safetensors")).items():
        if w.ndim == 2 and (name.endswith("_proj.weight") or "embed_tokens" in name or "lm_head" in name):
            q, s, b = mx.quantize(w, group_size=group, bits=bits)
            if quantize:
                prefix = name[: -len(".weight")]
                out[name], out[prefix + ".scales"], out[prefix + ".biases"] = q, s, b
            else:
                out[name] = mx.dequantize(q, s, b, group_size=group, bits=bits)
        else:
            out[name] = w
    if quantize:
        config["quantization"] = {"group_size": group, "bits": bits}
        config["quantization_config"] = config["quantization"]  # as newer mlx_lm writes it
    (dst / "config.json").write_text(json.dumps(config))
    mx.save_safetensors(str(dst / "model.safetensors"), out)


def generate(alloy, folder):
    model = folder.with_suffix(".gguf")
    ran = subprocess.run([alloy, "convert", str(folder), str(model), "--type", "F32"], capture_output=True, text=True)
    if ran.returncode != 0:
        sys.exit(f"alloy convert failed on {folder}: {ran.stderr.strip()}")
    ran = subprocess.run([alloy, "generate", "-m", str(model), "-p", "Once upon a time", "-n", "24", "--temp", "0",
                          "--ignore-eos", "--device", "cpu"], capture_output=True, text=True, errors="replace")
    if ran.returncode != 0:
        sys.exit(f"alloy generate failed on {model}: {ran.stderr.strip()}")
    return ran.stdout


def main():
    src, alloy = pathlib.Path(sys.argv[1]), sys.argv[2]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for group, bits in ((32, 4), (64, 4), (64, 8), (32, 3), (64, 6)):
            q, d = pathlib.Path(tmp) / f"q{bits}g{group}", pathlib.Path(tmp) / f"d{bits}g{group}"
            write(src, q, group, bits, True)
            write(src, d, group, bits, False)
            a, b = generate(alloy, q), generate(alloy, d)
            print(f"{bits}-bit, groups of {group}: {'MATCH' if a == b else 'MISMATCH'} {a!r}")
            ok = ok and a == b
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
