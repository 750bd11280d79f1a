#!/usr/bin/env python3
"""llama.cpp (through PyPI's llama-cpp-python) on llama-bench's two tests, printed in alloy
bench's table format so both peers' rows sit side by side:
  pp<N>: one N-token prompt processed as a batch (n_batch = n_ubatch = N);
  tg<N>: N single-token decode steps from an empty cache.
A warm-up run of each first, then -r repetitions; tokens/s as mean ± sd.

  python3 bench/bench_llm_peer.py MODEL.gguf -p 128 -n 32 -r 3 -t 2 [--gpu-layers 99]
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
    a = ap.parse_args()
    ctx = max(a.p, a.n) + 16
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=ctx, n_batch=max(a.p, 1), n_ubatch=max(a.p, 1),
                          n_threads=a.threads, n_threads_batch=a.threads, n_gpu_layers=a.gpu_layers,
                          logits_all=False, verbose=False)
    vocab = llm.n_vocab()
    rng = random.Random(1234)
    prompt = [rng.randrange(vocab) for _ in range(a.p)]
    device = "GPU" if a.gpu_layers > 0 else "CPU"

    def pp():
        llm.reset()  # eval() then drops the cached positions from n_tokens = 0 on
        t0 = time.perf_counter()
        llm.eval(prompt)
        return time.perf_counter() - t0

    def tg(n):
        llm.reset()  # eval() then drops the cached positions from n_tokens = 0 on
        t0 = time.perf_counter()
        for _ in range(n):
            llm.eval([1])
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
