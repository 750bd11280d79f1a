"""PyTorch's figures for the cases of bench_gpu on the same GPU, in the same run of tests/run_gpu.sh:
elementwise and reductions in GB/s, GEMM in TFLOP/s, eager per-op overhead, scaled-dot-product
attention (prefill and decode). Timing: CUDA events, median of repeated runs after warm-up."""
import json
import sys
import time

import torch


def median_ms(fn, reps=20):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def main():
    rows = []

    def report(group, case, value, unit):
        rows.append({"group": group, "case": case, "value": value, "unit": unit})
        print(f"torch {group:<12} {case:<36} {value:10.2f} {unit}", flush=True)

    n = 1 << 28
    x = torch.rand(n, device="cuda") * 2 - 1
    y = torch.rand(n, device="cuda") * 2 - 1
    b = 4.0 * n
    gbs = lambda moved, fn: moved / median_ms(fn, 10) / 1e6
    report("elementwise", "add, 256M float32", gbs(3 * b, lambda: x + y), "GB/s")
    report("elementwise", "exp, 256M float32", gbs(2 * b, lambda: torch.exp(x)), "GB/s")
    report("reduction", "sum, 256M float32", gbs(b, lambda: x.sum()), "GB/s")
    m = x.view(16384, 16384)
    report("reduction", "sum of rows 16Kx16K", gbs(b, lambda: m.sum(1)), "GB/s")
    report("reduction", "sum of columns 16Kx16K", gbs(b, lambda: m.sum(0)), "GB/s")
    s = x.view(65536, 4096)
    report("fused", "softmax 64Kx4096 float32", gbs(2 * b, lambda: torch.softmax(s, -1)), "GB/s")
    report("fused", "rms_norm 64Kx4096 float32", gbs(2 * b, lambda: torch.nn.functional.rms_norm(s, (4096,))), "GB/s")
    del x, y, m, s
    for dt, name in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16")):
        for k in (4096, 8192):
            a = torch.randn(k, k, device="cuda", dtype=dt)
            c = torch.randn(k, k, device="cuda", dtype=dt)
            report("matmul", f"{name} {k}", 2 * k**3 / median_ms(lambda: a @ c, 10) / 1e9, "TFLOP/s")
    z = torch.zeros(1, device="cuda")
    ops = 2000

    def chain():
        w = z
        for _ in range(ops):
            w = w + 1.0
        return w

    report("overhead", "eager tiny op", median_ms(chain, 5) / ops * 1e3, "us/op")

    def chain_synchronized():
        w = z
        for _ in range(ops):
            w = w + 1.0
            torch.cuda.synchronize()
        return w

    # alloy's "eval each" row: every op waited for by the host before the next is issued.
    chain_synchronized()
    waited = []
    for _ in range(5):
        t0 = time.perf_counter()
        chain_synchronized()
        waited.append(time.perf_counter() - t0)
    waited.sort()
    report("overhead", "eager tiny op (eval each)", waited[2] / ops * 1e6, "us/op")
    sdpa = torch.nn.functional.scaled_dot_product_attention
    for batch, seq in ((1, 512), (1, 4096), (4, 2048), (8, 1024), (1, 8192)):
        q = torch.randn(batch, 32, seq, 128, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(batch, 8, seq, 128, device="cuda", dtype=torch.bfloat16)
        v = torch.randn(batch, 8, seq, 128, device="cuda", dtype=torch.bfloat16)
        report("attention", f"prefill causal B={batch} T={seq}",
               median_ms(lambda: sdpa(q, k, v, is_causal=True, enable_gqa=True), 10), "ms")
        q1 = q[:, :, -1:, :].contiguous()
        report("attention", f"decode B={batch} T={seq}",
               median_ms(lambda: sdpa(q1, k, v, enable_gqa=True), 20), "ms")
    with open(sys.argv[1] if len(sys.argv) > 1 else "bench_gpu_torch.json", "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
