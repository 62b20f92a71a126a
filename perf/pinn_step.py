"""Per-step time of each physics-informed model against its physics-off twin.

One training step = forward + ``loss()`` + backward + AdamW step, batch 64 of 1 x 64 x 64 images
(pixel scale 0.101"/px, classification, 3 classes), on the CPU with 2 threads (or the first CUDA
device with ``--device cuda``). Median of ``--steps`` timed steps after ``--warmup`` untimed ones,
the model's and its twin's steps interleaved (so a change in machine load hits both alike).
Goal: PINN step <= 2 x its twin's, compared on the best (minimum) step time, the usual estimate of
the intrinsic cost on a shared machine (medians are printed beside it). Prints a markdown table and
writes it into perf/README.md between ``<!-- pinn:begin -->`` and ``<!-- pinn:end -->`` with
``perf_readme.write_section`` (other sections untouched).

    python perf/pinn_step.py [--steps 10] [--warmup 3] [--threads 2] [--device cpu] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf_readme import write_section

from lensbench.pinn_models.catalog import specs
from lensbench.specs import Budget, Preset, TaskSpec


def bench_task(npix: int = 64, pixel_scale: float = 0.101) -> TaskSpec:
    budget = Budget(epochs=1, batch_size=64)
    return TaskSpec(
        id="perf/pinn-step", version=1, kind="classification", dataset="none", description="perf only",
        classes=("axion", "cdm", "no_sub"), target=("label",), primary_metric="auc_macro",
        presets={"quick": Preset({"train": 1, "val": 1, "test": 1}, budget)},
        input_shape=(1, npix, npix), pixel_scale=pixel_scale)


def _stepper(spec, task, batch: int, device: torch.device):
    torch.manual_seed(0)
    model = spec.factory(task).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, *task.input_shape, device=device)
    data = {"image": x, "target": torch.randint(0, task.n_outputs, (batch,), device=device)}

    def step() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = model.loss(data, model(x))["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    return step, sum(p.numel() for p in model.parameters() if p.requires_grad)


def pair_times(spec, twin, task, batch: int, steps: int, warmup: int, device: torch.device):
    """Step times (seconds, one per timed step) of a model and its twin, their steps interleaved so
    that load changes on the machine hit both alike. Returns (times_model, n_model, times_twin, n_twin)."""
    (a, na), (b, nb) = _stepper(spec, task, batch, device), _stepper(twin, task, batch, device)
    ta, tb = [], []
    for i in range(warmup + steps):
        t1, t2 = a(), b()
        if i >= warmup:
            ta.append(t1)
            tb.append(t2)
    return ta, na, tb, nb


def table(rows: list[tuple], header: str) -> str:
    """rows: (name, n_params, times, twin, twin_n_params, twin_times). Ratios of the best (minimum)
    step times, the usual estimate of the intrinsic cost on a shared machine; medians beside them."""
    lines = [header, "",
             ("| model | params | step min / median (ms) | twin | twin params | twin step min / median (ms) "
              "| ratio (min) | ratio (median) | <= 2x |"),
             "|---|---:|---:|---|---:|---:|---:|---:|---|"]
    for name, n, t, twin, tn, tt in rows:
        med, tmed = statistics.median(t), statistics.median(tt)
        r, rm = min(t) / min(tt), med / tmed
        lines.append(f"| {name} | {n:,} | {1e3 * min(t):.0f} / {1e3 * med:.0f} | {twin} | {tn:,} | "
                     f"{1e3 * min(tt):.0f} / {1e3 * tmed:.0f} | {r:.2f} | {rm:.2f} | "
                     f"{'yes' if r <= 2 else 'no'} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-write", action="store_true", help="print only, do not touch perf/README.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    task = bench_task()
    load0 = os.getloadavg()[0]
    by_name = {s.name: s for s in specs()}
    rows = []
    for s in by_name.values():
        if s.family != "pinn":
            continue
        t, n, tt, tn = pair_times(s, by_name[s.twin], task, args.batch, args.steps, args.warmup, device)
        rows.append((s.name, n, t, s.twin, tn, tt))
        print(f"{s.name}: {1e3 * min(t):.0f} ms  {s.twin}: {1e3 * min(tt):.0f} ms  "
              f"ratio {min(t) / min(tt):.2f} (best of {len(t)})", flush=True)
    where = (f"{args.device}, {args.threads} threads" if device.type == "cpu"
             else torch.cuda.get_device_name(device))
    header = (f"PINN training step vs its physics-off twin (`perf/pinn_step.py`): forward + loss + backward "
              f"+ AdamW step, batch {args.batch} x 1 x 64 x 64 at 0.101\"/px, classification (3 classes); "
              f"{args.steps} timed steps after {args.warmup} warm-up, model and twin steps interleaved; "
              f"{where}; torch {torch.__version__}; 1-min load average {load0:.1f} at start, "
              f"{os.getloadavg()[0]:.1f} at end ({os.cpu_count()} CPUs: above that, timings are inflated "
              f"and noisy, the min is then the better estimate). Goal: ratio (min) <= 2.")
    text = table(rows, header)
    print(text)
    if not args.no_write:
        write_section("pinn", text)


if __name__ == "__main__":
    main()
