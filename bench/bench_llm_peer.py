#!/usr/bin/env python3
"""llama.cpp (through PyPI's llama-cpp-python) on llama-bench's two tests, printed in alloy
bench's table format so both peers' rows sit side by side:
  pp<N>: one N-token prompt processed as a batch (n_batch = n_ubatch = N);
  tg<N>: N single-token decode steps from an empty cache.
A warm-up run of each first, then -r repetitions; tokens/s as mean ± sd. The loops call the C API
as llama-bench does (one llama_decode and llama_synchronize per batch or token).

  python3 bench/bench_llm_peer.py MODEL.gguf -p 128 -n 32 -r 3 -t 2 [--gpu-layers 99] [--flash-attn]
--flash-attn turns llama.cpp's flash attention on (llama-cpp-python's default is off; llama-bench
picks it per device).
"""
import argparse
import random
import statistics
import time

import llama_cpp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-r", type=int, default=5)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--gpu-layers", type=int, default=0)
    ap.add_argument("--flash-attn", action="store_true")
    a = ap.parse_args()
    ctx = max(a.p, a.n) + 16
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=ctx, n_batch=max(a.p, 1), n_ubatch=max(a.p, 1),
                          n_threads=a.threads, n_threads_batch=a.threads, n_gpu_layers=a.gpu_layers,
                          flash_attn=a.flash_attn, logits_all=False, verbose=False)
    vocab = llm.n_vocab()
    rng = random.Random(1234)
    prompt = [rng.randrange(vocab) for _ in range(a.p)]
    device = ("GPU" if a.gpu_layers > 0 else "CPU") + (" fa" if a.flash_attn else "")
    # llama-bench's loops on the C API: llama_decode then llama_synchronize, the cache cleared
    # first; no logits are copied to Python (Llama.eval copies a row each step, tens of
    # microseconds that a GPU decode step at ~1 ms would count against llama.cpp).
    ctx_ptr = llm.ctx

    def decode(tokens):
        arr = (llama_cpp.llama_token * len(tokens))(*tokens)
        if llama_cpp.llama_decode(ctx_ptr, llama_cpp.llama_batch_get_one(arr, len(tokens))) != 0:
            raise RuntimeError("llama_decode failed")
        llama_cpp.llama_synchronize(ctx_ptr)

    def clear():
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx_ptr), True)

    def pp():
        clear()
        t0 = time.perf_counter()
        decode(prompt)
        return time.perf_counter() - t0

    def tg(n):
        clear()
        t0 = time.perf_counter()
        for _ in range(n):
            decode([1])
        return time.perf_counter() - t0

    def row(test, tps):
        sd = statistics.stdev(tps) if len(tps) > 1 else 0.0
        print(f"| llama.cpp {llama_cpp.__version__} | | | {device} | {test} | {statistics.mean(tps):.2f} ± {sd:.2f} | |",
              flush=True)

    if a.p > 0:
        pp()
        row(f"pp{a.p}", [a.p / pp() for _ in range(a.r)])
    if a.n > 0:
        tg(min(a.n, 16))
        row(f"tg{a.n}", [a.n / tg(a.n) for _ in range(a.r)])


if __name__ == "__main__":
    main()
