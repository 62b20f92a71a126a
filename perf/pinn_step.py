"""Per-step time of each physics-informed model's four ablation variants (``pinn_models.catalog``).

One training step = forward + ``loss()`` + backward + AdamW step, batch 64 of 1 x 64 x 64 images
(pixel scale 0.101"/px, dataset ``lensbench-v1`` so that ``lens-synthesis`` and ``grav-imaging``
render through the Euclid-like PSF, classification, 3 classes, true lens and source parameters in the batch), on the
CPU with 2 threads (or the first CUDA device with ``--device cuda``). Median of ``--steps`` timed
steps after ``--warmup`` untimed ones, the four variants' steps interleaved (so a change in machine
load hits all alike). Goal: PINN step <= 2 x its physics-off twin's. Each step is timed twice: wall
clock (min and median) and, on the CPU, the CPU time of this process (``time.process_time``, all its
threads), the work done, which other processes' load inflates far less than the wall clock (on a
2-core machine at load 12, wall-clock ratios swing from 0.6 to 1.6 for the same pair). The verdict
uses the ratio of the minimum CPU times on the CPU and of the minimum wall times on CUDA (where CPU
time measures nothing). OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE`` unless set). Prints a markdown table and writes it into perf/README.md between ``<!-- pinn:begin -->`` and
``<!-- pinn:end -->`` with ``perf_readme.write_section`` (other sections untouched). Every PINN of
``pinn_models.catalog`` is measured; ``--only P [P ...]`` measures those groups and only prints.

    python perf/pinn_step.py [--steps 10] [--warmup 3] [--threads 2] [--device cpu] [--no-write] [--only P]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning (unless the caller set a policy): on a loaded
# machine spinning threads compete with the working ones, which made steps 2-3x slower and their
# times swing by 4x between identical variants. Set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf_readme import write_section

from lensbench import kinds
from lensbench.pinn_models.catalog import specs
from lensbench.pinn_models.common import AUX_COLUMNS
from lensbench.specs import Budget, Preset, TaskSpec


def bench_task(npix: int = 64, pixel_scale: float = 0.101) -> TaskSpec:
    budget = Budget(epochs=1, batch_size=64)
    return TaskSpec(
        id="perf/pinn-step", version=1, kind="classification", dataset="lensbench-v1", description="perf only",
        classes=("axion", "cdm", "no_sub"), target=("label",), primary_metric="auc_macro",
        presets={"quick": Preset({"train": 1, "val": 1, "test": 1}, budget)},
        input_shape=(1, npix, npix), pixel_scale=pixel_scale)


def bench_batch(task, batch: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
                ) -> dict:
    """A random training batch for ``task``: images, class targets and plausible true lens and source
    parameters under ``"aux"`` (what the PINNs' supervised term reads)."""
    aux = {c: 0.1 * torch.rand(batch, generator=generator).to(device) for c in AUX_COLUMNS.values()}
    aux["theta_E"] = aux["theta_E"] + 1.0
    aux["src_R"], aux["src_n"] = aux["src_R"] + 0.1, aux["src_n"] + 1.0
    return {"image": torch.randn(batch, *task.input_shape, generator=generator).to(device),
            "target": torch.randint(0, task.n_outputs, (batch,), generator=generator).to(device), "aux": aux}


def training_loss(model, task, data: dict, out: torch.Tensor) -> torch.Tensor:
    """The model's own ``loss()`` total, else the task kind's default loss (as the trainer does)."""
    return model.loss(data, out)["loss"] if hasattr(model, "loss") else kinds.get(task.kind).loss(out, data["target"])


def stepper(spec, task, batch: int, device: torch.device):
    """A closure timing one training step of ``spec``'s model on a fixed batch; and its trainable
    parameter count."""
    torch.manual_seed(0)
    model = spec.factory(task).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = bench_batch(task, batch, device)
    x = data["image"]

    def step() -> tuple[float, float]:
        """(wall seconds, CPU seconds of this process) of one training step."""
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        loss = training_loss(model, task, data, model(x))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, time.process_time() - c0

    return step, sum(p.numel() for p in model.parameters() if p.requires_grad)


def group_times(group: list, task, batch: int, steps: int, warmup: int, device: torch.device
                ) -> list[tuple[list[tuple[float, float]], int]]:
    """Step times ((wall, CPU) seconds, one per timed step) and trainable parameter count of each
    model of ``group``, their steps interleaved so that load changes on the machine hit all alike."""
    steppers = [stepper(spec, task, batch, device) for spec in group]
    times: list[list[tuple[float, float]]] = [[] for _ in group]
    for i in range(warmup + steps):
        for (step, _), t in zip(steppers, times):
            dt = step()
            if i >= warmup:
                t.append(dt)
    return [(t, n) for t, (_, n) in zip(times, steppers)]


def table(rows: list[tuple], header: str, cpu: bool = True) -> str:
    """rows: (name, physics, aux_params, n_params, times, twin, twin_times), times (wall, CPU) pairs,
    ``twin`` the variant with physics flipped at the same ``aux_params``. Ratios of the minimum wall
    times (median beside) and of the minimum CPU times; the verdict on the CPU-time ratio when
    ``cpu`` (a CPU run), else on the wall-time ratio."""
    lines = [header, "",
             ("| model | physics | aux | params | wall min / median (ms) | CPU min (ms) | physics-flipped twin "
              "| ratio wall (min) | ratio wall (median) | ratio CPU (min) | <= 2x |"),
             "|---|---|---|---:|---:|---:|---|---:|---:|---:|---|"]
    for name, physics, aux, n, t, twin, tt in rows:
        (w, c), (tw, tc) = zip(*t), zip(*tt)
        r, rm, rc = min(w) / min(tw), statistics.median(w) / statistics.median(tw), min(c) / min(tc)
        ok = ("yes" if (rc if cpu else r) <= 2 else "no") if physics else ""
        lines.append(f"| {name} | {'on' if physics else 'off'} | {'on' if aux else 'off'} | {n:,} | "
                     f"{1e3 * min(w):.0f} / {1e3 * statistics.median(w):.0f} | {1e3 * min(c):.0f} | {twin} | "
                     f"{r:.2f} | {rm:.2f} | {rc:.2f} | {ok} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-write", action="store_true", help="print only, do not touch perf/README.md")
    ap.add_argument("--only", nargs="+", metavar="PINN", help="measure these PINNs only (implies --no-write)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    task = bench_task()
    load0 = os.getloadavg()[0]
    groups: dict[str, list] = {}
    for s in specs():
        groups.setdefault(s.config["ablation_of"], []).append(s)
    if args.only:
        unknown = sorted(set(args.only) - set(groups))
        if unknown:
            ap.error(f"--only: unknown PINN {', '.join(unknown)}; known: {', '.join(groups)}")
        groups = {k: v for k, v in groups.items() if k in args.only}
    rows = []
    for pinn, group in groups.items():
        measured = group_times(group, task, args.batch, args.steps, args.warmup, device)
        by_switch = {(s.config["physics"], s.config["aux_params"]): (s, t, n) for s, (t, n) in zip(group, measured)}
        for (physics, aux), (s, t, n) in by_switch.items():
            twin, tt, _ = by_switch[(not physics, aux)]
            rows.append((s.name, physics, aux, n, t, twin.name, tt))
        print(f"{pinn}: " + "  ".join(f"{s.name} {1e3 * min(w for w, _ in t):.0f} ms wall, "
                                      f"{1e3 * min(c for _, c in t):.0f} ms CPU" for s, (t, _) in zip(group, measured)),
              flush=True)
    where = (f"{args.device}, {args.threads} threads" if device.type == "cpu"
             else torch.cuda.get_device_name(device))
    header = (f"PINN training step, the four ablation variants of each (`perf/pinn_step.py`): forward + loss "
              f"+ backward + AdamW step, batch {args.batch} x 1 x 64 x 64 at 0.101\"/px (lens-synthesis and "
              f"grav-imaging through the lensbench-v1 PSF), classification (3 classes), true parameters in the batch; "
              f"{args.steps} timed steps after {args.warmup} warm-up, the variants' steps interleaved; "
              f"{where}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; torch {torch.__version__}; 1-min load average {load0:.1f} at start, "
              f"{os.getloadavg()[0]:.1f} at end ({os.cpu_count()} CPUs: above that, wall times are inflated "
              f"and noisy; CPU time, the process's own work, much less). Ratio: step time over that of the "
              f"variant with physics flipped at the same aux setting. Goal: physics-on ratio <= 2, judged on "
              f"{'the minimum CPU times' if device.type == 'cpu' else 'the minimum wall times'}.")
    text = table(rows, header, cpu=device.type == "cpu")
    print(text)
    if not (args.no_write or args.only):
        write_section("pinn", text)


if __name__ == "__main__":
    main()
