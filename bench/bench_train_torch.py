#!/usr/bin/env python3
"""The PyTorch peer of the training examples: the same models, data, batch size and thread
count as examples/mnist_mlp and examples/mnist_cnn, timed the same way (a full epoch for the MLP,
the mean of N steps after warm-up for the CNN). Prints one JSON line per measurement.

Usage: bench_train_torch.py mlp|cnn [--epochs 1] [--steps 50] [--batch 64] [--threads 2]
"""
import argparse
import gzip
import json
import time

import numpy as np
import torch
import torch.nn as nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def cnn():
    # The same network as examples/mnist_cnn.cpp (PyTorch is channels-first).
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model", choices=["mlp", "cnn"])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    images = torch.from_numpy(read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    labels = torch.from_numpy(read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64))
    images = images.unsqueeze(1)  # (N, 1, 28, 28)
    model = mlp() if a.model == "mlp" else cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    n = images.shape[0]
    if a.model == "mlp":
        for epoch in range(a.epochs):
            perm = torch.randperm(n)
            t0 = time.perf_counter()
            for s in range(0, n, a.batch):
                idx = perm[s:s + a.batch]
                step(images[idx], labels[idx])
            dt = time.perf_counter() - t0
            print(json.dumps({"peer": f"pytorch {torch.__version__}", "model": "mlp", "epoch": epoch + 1,
                              "epoch_s": dt, "threads": a.threads, "batch": a.batch}))
    else:
        perm = torch.randperm(n)
        for s in range(5):  # warm-up
            idx = perm[s * a.batch:(s + 1) * a.batch]
            step(images[idx], labels[idx])
        t0 = time.perf_counter()
        for s in range(a.steps):
            idx = perm[(s + 5) * a.batch:(s + 6) * a.batch]
            step(images[idx], labels[idx])
        dt = (time.perf_counter() - t0) / a.steps
        print(json.dumps({"peer": f"pytorch {torch.__version__}", "model": "cnn", "step_ms": dt * 1e3,
                          "threads": a.threads, "batch": a.batch}))


if __name__ == "__main__":
    main()
