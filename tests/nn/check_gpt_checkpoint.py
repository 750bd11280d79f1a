#!/usr/bin/env python3
"""Checks that the gpt example's checkpoint folder is a real Hugging Face model: transformers
loads it as LlamaForCausalLM and its greedy continuation of a prompt equals the one the alloy
LLM runtime (`alloy generate`, CPU) produces from the same folder. Run on a machine with
transformers (the GPU machine); prints MATCH or MISMATCH and exits non-zero on a mismatch.

Usage: check_gpt_checkpoint.py CHECKPOINT_DIR ALLOY_BINARY [PROMPT]
"""
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    ckpt, alloy = sys.argv[1], sys.argv[2]
    prompt = sys.argv[3] if len(sys.argv) > 3 else "The "
    n = 40
    tok = AutoTokenizer.from_pretrained(ckpt)
    model = AutoModelForCausalLM.from_pretrained(ckpt, torch_dtype=torch.float32).eval()
    ids = tok(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=256)
    hf_text = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    ran = subprocess.run([alloy, "generate", "-m", ckpt, "-p", prompt, "-n", str(n), "--temp", "0", "--ignore-eos",
                          "--device", "cpu"], capture_output=True, text=True, errors="replace")
    alloy_text = ran.stdout
    if alloy_text.startswith(prompt):
        alloy_text = alloy_text[len(prompt):]
    alloy_text = alloy_text.rstrip("\n")
    print("transformers:", repr(hf_text))
    print("alloy:       ", repr(alloy_text))
    ok = hf_text.strip() == alloy_text.strip()
    print("MATCH" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
