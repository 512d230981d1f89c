"""A tiny training job in plain Python: logistic regression by SGD on synthetic data.

It exists so that ``wattprint run -- python -m wattprint.examples.tiny_train`` measures a real,
CPU-bound training on any machine. It prints ``epoch N/M`` lines, which ``wattprint run``
reads as progress.

    python -m wattprint.examples.tiny_train --epochs 8 --samples 20000
"""
from __future__ import annotations

import argparse
import math
import random
import sys
import time


def make_data(n: int, dim: int, seed: int):
    rng = random.Random(seed)
    w_true = [rng.gauss(0, 1) for _ in range(dim)]
    data = []
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in range(dim)]
        z = sum(a * b for a, b in zip(w_true, x))
        data.append((x, 1.0 if z + rng.gauss(0, 0.5) > 0 else 0.0))
    return data


def train(epochs: int, samples: int, dim: int, lr: float, seed: int) -> float:
    data = make_data(samples, dim, seed)
    w = [0.0] * dim
    b = 0.0
    rng = random.Random(seed + 1)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        rng.shuffle(data)
        loss = 0.0
        for x, y in data:
            z = b + sum(wi * xi for wi, xi in zip(w, x))
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            loss -= y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12)
            g = p - y
            for i in range(dim):
                w[i] -= lr * g * x[i]
            b -= lr * g
        print(f"epoch {epoch}/{epochs} loss {loss / len(data):.4f} "
              f"({time.perf_counter() - t0:.2f} s)", flush=True)
    return loss / len(data)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--samples", type=int, default=100000)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.epochs < 1 or a.samples < 1 or a.dim < 1:
        p.error("--epochs, --samples and --dim must be at least 1")
    train(a.epochs, a.samples, a.dim, a.lr, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
