"""Side-by-side table of bench_gpu (alloy) and bench_gpu_torch (PyTorch) results from one run of
tests/run_gpu.sh: usage gpu_table.py bench_gpu.json bench_gpu_torch.json. Prints markdown."""
import json
import sys

ours = {r["case"]: r for r in json.load(open(sys.argv[1]))}
torch = {r["case"]: r for r in json.load(open(sys.argv[2]))}
lower_better = {"ms", "us/op"}
print("| case | alloy | PyTorch | alloy vs PyTorch |")
print("|---|---|---|---|")
for case, r in ours.items():
    t = torch.get(case) or torch.get(case.replace("tiny op, async_eval each", "eager tiny op"))
    if not t:
        continue
    speedup = t["value"] / r["value"] if r["unit"] in lower_better else r["value"] / t["value"]
    print(f"| {case} | {r['value']:.2f} {r['unit']} | {t['value']:.2f} {t['unit']} | {speedup:.2f}x |")
