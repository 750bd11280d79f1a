#!/usr/bin/env python3
"""Writes a random-weight MLX-community quantized Llama folder, for timing `alloy` loads.

The layout is what mlx_lm.convert -q writes (checked against mlx.core.quantize by
tests/llm/check_mlx_quantized.py): every Linear and the embedding as (weight uint32 words,
scales, biases) in affine groups, the norms dense, config.json with "quantization". The packed
words and the scales are random: a load does the same work whatever the values are.

Usage: make_mlx_model.py OUT_DIR TOKENIZER_DIR [--shape 3B|1B|tiny] [--bits 4] [--group 64]
TOKENIZER_DIR gives tokenizer.json and tokenizer_config.json (e.g. ../shared/data/hf/tiny-llama).
The default shape is Llama-3.2-3B's (the seed's mlx-community/Llama-3.2-3B-Instruct-4bit).
"""
import argparse
import json
import pathlib
import shutil

import numpy as np

SHAPES = {  # dim, ffn, layers, heads, kv heads, vocab
    "3B": (3072, 8192, 28, 24, 8, 128256),
    "1B": (2048, 8192, 16, 32, 8, 128256),
    "tiny": (256, 512, 2, 4, 2, 1024),
}


def bf16(values):
    """float32 -> bfloat16 bit patterns (round to nearest even), as uint16."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def write_safetensors(path, tensors):
    """tensors: name -> (dtype string, shape, numpy array of the raw bytes)."""
    header, offset = {}, 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + data.nbytes]}
        offset += data.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for _, _, data in tensors.values():
            f.write(data.tobytes())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("tokenizer_dir")
    p.add_argument("--shape", default="3B", choices=SHAPES)
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--group", type=int, default=64)
    a = p.parse_args()
    dim, ffn, layers, heads, kv_heads, vocab = SHAPES[a.shape]
    head_dim = dim // heads
    rng = np.random.default_rng(0)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    tensors = {}

    def linear(name, rows, cols):
        words = rng.integers(0, 2**32, size=(rows, cols * a.bits // 32), dtype=np.uint32)
        groups = (rows, cols // a.group)
        scales = bf16(rng.uniform(0.5e-3, 2e-3, size=groups))
        biases = bf16(rng.uniform(-0.02, -0.005, size=groups))
        tensors[name + ".weight"] = ("U32", words.shape, words)
        tensors[name + ".scales"] = ("BF16", groups, scales)
        tensors[name + ".biases"] = ("BF16", groups, biases)

    def norm(name, n):
        tensors[name] = ("BF16", (n,), bf16(np.ones(n)))

    linear("model.embed_tokens", vocab, dim)
    for i in range(layers):
        pre = f"model.layers.{i}."
        norm(pre + "input_layernorm.weight", dim)
        norm(pre + "post_attention_layernorm.weight", dim)
        linear(pre + "self_attn.q_proj", heads * head_dim, dim)
        linear(pre + "self_attn.k_proj", kv_heads * head_dim, dim)
        linear(pre + "self_attn.v_proj", kv_heads * head_dim, dim)
        linear(pre + "self_attn.o_proj", dim, heads * head_dim)
        linear(pre + "mlp.gate_proj", ffn, dim)
        linear(pre + "mlp.up_proj", ffn, dim)
        linear(pre + "mlp.down_proj", dim, ffn)
    norm("model.norm.weight", dim)
    write_safetensors(out / "model.safetensors", tensors)

    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": dim,
        "intermediate_size": ffn, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "head_dim": head_dim, "vocab_size": vocab,
        "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
        "tie_word_embeddings": True, "torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2,
        "quantization": {"group_size": a.group, "bits": a.bits},
    }
    config["quantization_config"] = config["quantization"]
    (out / "config.json").write_text(json.dumps(config, indent=1))
    src = pathlib.Path(a.tokenizer_dir)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(src / f, out / f)
    weights = sum(np.prod(s) * (32 // a.bits if d == "U32" else 1) for d, s, _ in tensors.values())
    print(f"{out}: {a.shape} Llama, {weights / 1e9:.2f}G weights, MLX {a.bits}-bit groups of {a.group}")


if __name__ == "__main__":
    main()
