"""Training-step time of ``d4-cnn`` (D4-invariant group-equivariant CNN) against its twin ``d4-cnn-nosym`` and
``resnet10t``.

One step = forward + cross-entropy + backward + AdamW step, batch 64 of 1 x 64 x 64 images, 3 classes,
on the CPU with ``--threads`` threads (default 1). The three models' steps are interleaved (so a change
in machine load hits all alike); min and median of ``--steps`` timed steps after ``--warmup``. The min
is the estimate of the intrinsic cost on a shared machine. Prints a markdown table and writes it into
perf/README.md between ``<!-- equivariant:begin -->`` and ``<!-- equivariant:end -->``
(``perf_readme.write_section``; other sections untouched).

    python perf/equivariant_step.py [--steps 10] [--warmup 2] [--threads 1] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_readme import write_section
from pinn_step import bench_task, group_times

from lensbench import registry

MODELS = ("d4-cnn", "d4-cnn-nosym", "resnet10t")


def measure(names, task, batch: int, steps: int, warmup: int) -> dict[str, tuple[list[float], int]]:
    """Wall seconds of each timed step and the trainable parameter count of each model, their steps
    interleaved (``pinn_step.group_times``)."""
    measured = group_times([registry.models.get(n) for n in names], task, batch, steps, warmup, torch.device("cpu"))
    return {n: ([wall for wall, _ in t], p) for n, (t, p) in zip(names, measured)}


def table(results: dict[str, tuple[list[float], int]], header: str) -> str:
    base_min = {n: min(results[n][0]) for n in results}
    lines = [header, "", "| model | params | step min / median (ms) | vs d4-cnn-nosym (min) | vs resnet10t (min) |",
             "|---|---:|---:|---:|---:|"]
    for n, (t, p) in results.items():
        lines.append(f"| {n} | {p:,} | {1e3 * min(t):.0f} / {1e3 * statistics.median(t):.0f} | "
                     f"{base_min[n] / base_min['d4-cnn-nosym']:.2f} | {base_min[n] / base_min['resnet10t']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--npix", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true", help="print only, do not touch perf/README.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0]
    results = measure(MODELS, bench_task(args.npix), args.batch, args.steps, args.warmup)
    header = (f"Training step of the D4-invariant `d4-cnn` against its equal-parameter twin `d4-cnn-nosym` and "
              f"`resnet10t` (`perf/equivariant_step.py`): forward + cross-entropy + backward + AdamW step, batch "
              f"{args.batch} x 1 x {args.npix} x {args.npix}, 3 classes; {args.steps} timed steps after "
              f"{args.warmup} warm-up, the models' steps interleaved; cpu, {args.threads} thread(s); torch "
              f"{torch.__version__}; 1-min load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end "
              f"({os.cpu_count()} CPUs: above that, timings are inflated and noisy, the min is the better "
              f"estimate). Ratios of the min step times.")
    text = table(results, header)
    print(text)
    if not args.no_write:
        write_section("equivariant", text)


if __name__ == "__main__":
    main()
