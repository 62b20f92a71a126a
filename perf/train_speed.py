"""Training speed on a CPU: today's eager loop against channels-last memory layout, ``torch.compile``
of the model (and of the two together) and a larger per-step batch (protocol v2).

For each model named (registered models built for ``--task``), each variant runs the same training
step (forward + loss + backward + AdamW step) on the same batches from the same initialisation; the
variants' steps are interleaved round by round (so a change in machine load hits all alike) and the
best (minimum) and median images per second are reported against eager. Compile time (the first,
untimed calls of a compiled variant) is reported separately. ``same numbers``: the losses of the
first ``--check-steps`` steps of every same-batch variant against eager's (max relative
difference; floating-point reordering only, so ~1e-6 to 1e-4 is expected); the larger batch is a
different optimisation (half the steps for the same images), so it gets throughput only. Adopt
rule of the protocol: a variant becomes the default only if it is at least 1.2x faster (min) on
every default model with the same numbers within tolerance (1e-3).

    python perf/train_speed.py --models resnet10t resnet18 lens-inversion --threads 1
    python perf/train_speed.py --models resnet10t --steps 3 --no-write   # smoke

Prints a markdown table and writes it into perf/README.md between ``<!-- train-speed:begin -->``
and ``<!-- train-speed:end -->``.
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

from perf_readme import write_section
from pinn_step import bench_batch, training_loss

from lensbench import registry
from lensbench.run import trainer

VARIANTS = {  # name -> (channels_last, compile, batch multiplier, bfloat16 autocast)
    "eager": (False, False, 1, False),
    "channels-last": (True, False, 1, False),
    "compile": (False, True, 1, False),
    "compile + channels-last": (True, True, 1, False),
    "eager, 2x batch": (False, False, 2, False),
    "bf16 autocast": (False, False, 1, True),
    "bf16 autocast + channels-last": (True, False, 1, True),
}
TOLERANCE = 1e-3
# bfloat16 keeps 8 bits of mantissa: its step losses differ from fp32 by ~1e-3 to 1e-2 by design, so its
# check is looser here and the adoption rests on a matched training run (same seed, metric within the
# protocol's CI half-width; ``perf/README.md``, section "bf16 autocast + channels-last").
BF16_TOLERANCE = 3e-2


def batches(task, batch: int, n: int, seed: int = 0) -> list[dict]:
    """``n`` random batches with targets and plausible true lens/source parameters (the PINNs' aux)."""
    g = torch.Generator().manual_seed(seed)
    return [bench_batch(task, batch, generator=g) for _ in range(n)]


def stepper(spec, task, variant: str):
    """A function running one training step on a batch and returning its loss; the first calls of a
    compiled variant include its compile time."""
    channels_last, compiled, _, bf16 = VARIANTS[variant]
    torch.manual_seed(0)
    model = spec.factory(task).train()
    if channels_last:
        model = trainer.channels_last(model)
    forward = torch.compile(model) if compiled else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step(batch: dict) -> float:
        x = batch["image"].contiguous(memory_format=torch.channels_last) if channels_last else batch["image"]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = training_loss(model, task, {**batch, "image": x}, forward(x))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def measure(spec, task, batch: int, steps: int, warmup: int, check_steps: int) -> dict[str, dict]:
    """Per variant: images/s (min-time and median), first-calls time, loss difference to eager."""
    data = {m: batches(task, batch * m, warmup + steps) for m in {v[2] for v in VARIANTS.values()}}
    steppers, res = {}, {}
    for v in VARIANTS:
        t0 = time.perf_counter()
        steppers[v] = stepper(spec, task, v)
        losses = [steppers[v](b) for b in data[VARIANTS[v][2]][:warmup]]
        res[v] = {"first_s": time.perf_counter() - t0, "losses": losses, "times": []}
    for i in range(warmup, warmup + steps):
        for v, step in steppers.items():
            t0 = time.perf_counter()
            loss = step(data[VARIANTS[v][2]][i])
            res[v]["times"].append(time.perf_counter() - t0)
            res[v]["losses"].append(loss)
    ref = res["eager"]["losses"][:check_steps]
    for v, r in res.items():
        n = batch * VARIANTS[v][2]
        r["best"] = n / min(r["times"])
        r["median"] = n / statistics.median(r["times"])
        r["diff"] = None if VARIANTS[v][2] != 1 else max(
            abs(a - b) / max(abs(b), 1e-12) for a, b in zip(r["losses"][:check_steps], ref))
    return res


def together(results: dict[str, dict], variant: str) -> float:
    """Speed-up of ``variant`` over eager on the sum of every model's seconds per image (best times)."""
    return sum(1 / r["eager"]["best"] for r in results.values()) / sum(1 / r[variant]["best"] for r in results.values())


def table(results: dict[str, dict], header: str) -> str:
    lines = [header, "",
             ("| model | variant | img/s (best) | img/s (median) | vs eager (best) | vs eager (median) | "
              "first calls (s) | max rel. loss diff vs eager |"),
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for model, res in results.items():
        e = res["eager"]
        for v, r in res.items():
            diff = "n/a (other optimisation)" if r["diff"] is None else f"{r['diff']:.1e}"
            lines.append(f"| {model} | {v} | {r['best']:.0f} | {r['median']:.0f} | {r['best'] / e['best']:.2f}x | "
                         f"{r['median'] / e['median']:.2f}x | {r['first_s']:.1f} | {diff} |")
    adopt = [v for v in VARIANTS if v != "eager" and all(
        res[v]["best"] / res["eager"]["best"] >= 1.2
        and (res[v]["diff"] is None or res[v]["diff"] <= (BF16_TOLERANCE if VARIANTS[v][3] else TOLERANCE))
        for res in results.values())]
    lines += ["", (f"Adopted by the per-model rule (>= 1.2x on every model, step losses within {TOLERANCE:g}, "
                   f"bf16 within {BF16_TOLERANCE:g}): " + (", ".join(adopt) if adopt else "none") + "."), "",
              ("All models together (one image through each model's step, best times: what a suite of these "
               "models costs per image): " + ", ".join(
                   f"{v} {together(results, v):.2f}x" for v in VARIANTS if v != "eager") + ".")]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="substructure/lensbench-v2")
    ap.add_argument("--models", nargs="+", default=["resnet10t", "resnet18", "lens-inversion"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--check-steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true", help="print only, do not touch perf/README.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    task = registry.tasks.get(args.task)
    load0 = os.getloadavg()[0]
    results = {}
    for name in args.models:
        results[name] = measure(registry.models.get(name), task, args.batch, args.steps, args.warmup,
                                min(args.check_steps, args.warmup + args.steps))
        print(f"{name}: " + ", ".join(f"{v} {r['best']:.0f} img/s" for v, r in results[name].items()), flush=True)
    header = (f"Training step on the CPU (`perf/train_speed.py`), task `{task.id}` ({'x'.join(map(str, task.input_shape))}"
              f" images), batch {args.batch} (2x batch: {2 * args.batch}), {args.threads} thread(s) (the run "
              f"protocol's), torch {torch.__version__}; {args.steps} timed steps after {args.warmup} untimed ones, the "
              f"variants interleaved step by step; same initialisation and batches for every variant; loss check over "
              f"the first {args.check_steps} steps. 1-min load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} "
              f"at end on {os.cpu_count()} CPUs.")
    text = table(results, header)
    print(text)
    if not args.no_write:
        write_section("train-speed", text)


if __name__ == "__main__":
    main()
