#!/usr/bin/env python3
"""Checks that llama.cpp loads what `alloy convert` and `alloy quantize` write, and runs it as alloy does.

From a Hugging Face Llama folder (stories260K-hf of ../shared/data/hf: trained, so greedy text is
meaningful), writes GGUF files with alloy: `convert` to F32, F16 and BF16, `quantize` of the F32 file
to Q8_0, Q4_0, Q4_K_M, Q5_K_M and Q6_K, and `quantize` of the folder itself to Q8_0. Each file is
then loaded by llama.cpp (PyPI's llama-cpp-python) and by alloy, and both continue the same prompt
greedily for N tokens. Prints per file whether llama.cpp loaded it and whether the two texts agree,
and exits non-zero if llama.cpp refused a file or the float files' texts differ. (Quantized files
may part after a near tie: both quantize the activations for their dot products, each its own way,
so those print the shared prefix length.)

Usage: check_llama_cpp_loads.py HF_DIR ALLOY_BINARY [N]
Needs `pip install llama-cpp-python` (the CPU build is enough).
"""
import pathlib
import subprocess
import sys
import tempfile

import llama_cpp

PROMPT = "Once upon a time"


def alloy_text(alloy, model, n):
    ran = subprocess.run([alloy, "generate", "-m", str(model), "-p", PROMPT, "-n", str(n), "--temp", "0",
                          "--ignore-eos", "--device", "cpu"], capture_output=True, text=True, errors="replace")
    if ran.returncode != 0:
        sys.exit(f"alloy generate failed on {model}: {ran.stderr.strip()}")
    return ran.stdout


def llama_text(model, n):
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=256, n_threads=2, verbose=False, seed=0)
    out = llm.create_completion(PROMPT, max_tokens=n, temperature=0.0, top_k=1, repeat_penalty=1.0)
    return out["choices"][0]["text"]


def shared_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main():
    src, alloy = pathlib.Path(sys.argv[1]), sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        files = []
        for t in ("F32", "F16", "BF16"):
            out = tmp / f"convert-{t}.gguf"
            subprocess.run([alloy, "convert", str(src), str(out), "--type", t], check=True, capture_output=True)
            files.append((out, True))
        for t in ("Q8_0", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K"):
            out = tmp / f"quantize-{t}.gguf"
            subprocess.run([alloy, "quantize", str(tmp / "convert-F32.gguf"), str(out), "--type", t], check=True,
                           capture_output=True)
            files.append((out, False))
        out = tmp / "quantize-hf-Q8_0.gguf"
        subprocess.run([alloy, "quantize", str(src), str(out), "--type", "Q8_0"], check=True, capture_output=True)
        files.append((out, False))
        for model, exact in files:
            try:
                theirs = llama_text(model, n)
            except Exception as e:  # llama-cpp-python raises ValueError when llama.cpp refuses the file
                print(f"{model.name}: llama.cpp did not load it: {e}")
                ok = False
                continue
            ours = alloy_text(alloy, model, n)
            # alloy prints the prompt and the continuation; llama.cpp returns the continuation.
            ours = ours[len(PROMPT):] if ours.startswith(PROMPT) else ours
            same = ours.strip() == theirs.strip()
            p = shared_prefix(ours.strip(), theirs.strip())
            print(f"{model.name}: llama.cpp loaded it; texts {'AGREE' if same else f'part after {p} characters'}"
                  f"\n  alloy:     {ours.strip()[:120]!r}\n  llama.cpp: {theirs.strip()[:120]!r}")
            if exact and not same:
                ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
