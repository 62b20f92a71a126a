"""Harness training throughput vs a bare PyTorch loop, same model, data, batch size and optimiser.

Both train the same CNN for the same number of epochs on the same in-memory images; the harness
(``lensbench.run.trainer.fit``) also runs its per-epoch validation on a small val split (as it always
does), which is counted against it. Throughput = training images per second of wall time.
Writes a table into perf/README.md between the ``trainer`` markers and prints it.

    python perf/trainer_overhead.py [--n 2048] [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "examples" / "lensbench-example-plugin"))

from conftest import make_task, toy_split
from lensbench_example import TinyCNN
from perf_readme import write_section

from lensbench.run import trainer
from lensbench.specs import Budget, Preset


def bare_loop(model, images, target, budget: Budget, seed: int) -> float:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=budget.lr, weight_decay=budget.weight_decay)
    t0 = time.perf_counter()
    for _ in range(budget.epochs):
        model.train()
        order = torch.randperm(len(images), generator=gen)
        for start in range(0, len(images), budget.batch_size):
            idx = order[start:start + budget.batch_size]
            loss = F.cross_entropy(model(images[idx]), target[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2048, help="training images")
    ap.add_argument("--val", type=int, default=128, help="validation images (harness only)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    budget = Budget(epochs=args.epochs, batch_size=64, lr=1e-3, weight_decay=1e-4)
    task = make_task(epochs=args.epochs, size=64)
    task = type(task)(**{**task.to_dict(), "presets": {"quick": Preset({"train": 1, "val": 1, "test": 1}, budget)}})
    train, val = toy_split(task, args.n, seed=1), toy_split(task, args.val, seed=2)
    device = torch.device("cpu")
    bare, harness = [], []
    for r in range(args.repeats):  # interleave so drift hits both alike
        torch.manual_seed(r)
        bare.append(bare_loop(TinyCNN(1, 2), train.images, train.target, budget, seed=r))
        torch.manual_seed(r)
        t0 = time.perf_counter()
        trainer.fit(task, TinyCNN(1, 2), budget, train, val, seed=r, device=device, progress=False)
        harness.append(time.perf_counter() - t0)
    imgs = args.n * args.epochs
    b, h = imgs / min(bare), imgs / min(harness)
    table = (
        f"Model: example TinyCNN, {args.n} train images 1x64x64, batch 64, {args.epochs} epochs, "
        f"{args.threads} threads, best of {args.repeats} interleaved repeats. The harness also validates "
        f"on {args.val} images each epoch.\n\n"
        "| loop | train images/s | ratio to bare |\n|---|---|---|\n"
        f"| bare PyTorch | {b:.0f} | 1.00 |\n| lensbench.run.trainer.fit | {h:.0f} | {h / b:.3f} |\n"
    )
    print(table)
    write_section("trainer", table)


if __name__ == "__main__":
    main()
