"""Is the PSF why a rendering PINN loses the domain shift? Re-score one trained checkpoint with the render
PSF swapped, on the VALIDATION splits of the training data and of the shifted data (never test).

``domain-shift/euclid-to-hst-v2`` scores models trained on Euclid-like images (0.101"/px, PSF FWHM
0.16" = 1.58 px) on HST-like ones (0.08"/px, FWHM 0.08" = 1.0 px). A model that renders its smooth fit
(``grav-imaging``, ``lens-synthesis``: the ``psf_fwhm`` option) keeps the training PSF, so its residual
on HST images could carry a PSF mismatch at every arc edge. This script loads a run's safetensors
checkpoint (``lensbench run ... --checkpoint-dir DIR``; tensors only, nothing unpickled) into the same
model built three ways: the training PSF (as trained), the shifted instrument's PSF in the model's pixel
units (1.0 px x 0.101"/px = 0.101"), and no PSF, and prints the macro AUC of each on both val splits.
Writes the table into perf/README.md (section ``psf-transfer``) unless ``--no-write``.

    lensbench run --task substructure/lensbench-v2 --model grav-imaging --seeds 0 --preset medium \\
        --results R --checkpoint-dir C
    python perf/psf_transfer.py --record R/substructure__lensbench-v2/v1/medium/grav-imaging/seed0.json \\
        --checkpoint-dir C
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch
from trained import load_or_exit

from lensbench import registry
from lensbench.data import taskdata
from lensbench.pinn_models.instrument import recipe_instrument
from lensbench.run import trainer

SHIFT = "domain-shift/euclid-to-hst-v2"


def val_auc(task, model: torch.nn.Module, split) -> float:
    """Macro AUC of ``model`` on ``split``, scored as the harness scores every run (``trainer.predict``
    and ``trainer.score``)."""
    pred = trainer.predict(task, model, split, torch.device("cpu"), 256)
    return float(trainer.score(task, split, pred, ci=False)["auc_macro"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", type=Path, required=True, help="run record of a rendering PINN with a checkpoint")
    ap.add_argument("--checkpoint-dir", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rec, task, trained = load_or_exit(args.record, args.checkpoint_dir)
    spec, shift = registry.models.get(rec.model), registry.tasks.get(SHIFT)
    if not hasattr(trained, "psf_origin"):
        print(f"error: {args.record}: model {rec.model!r} does not render through a PSF (no psf_fwhm option)",
              file=sys.stderr)
        raise SystemExit(2)
    src = recipe_instrument(task)
    tgt = recipe_instrument(dataclasses.replace(task, dataset=shift.test_dataset))
    target_in_model_px = tgt.psf_fwhm / tgt.pixel_scale * src.pixel_scale
    _, ds = taskdata.materialise(task, rec.preset, progress=False)
    _, shifted = taskdata.materialise(task, rec.preset, dataset=shift.test_dataset, progress=False)
    splits = {task.dataset: taskdata.build_split(task, ds, "val"),
              shift.test_dataset: taskdata.build_split(task, shifted, "val")}
    state = trained.state_dict()
    rows = []
    for label, fwhm in ((f"training PSF ({src.psf_fwhm:g}\" on {src.pixel_scale:g}\"/px)", None),
                        (f"{tgt.name} PSF in model pixels ({target_in_model_px:.3f}\")", target_in_model_px),
                        ("no PSF", 0.0)):
        model = spec.factory.func(task, **{**spec.factory.keywords, "psf_fwhm": fwhm})
        model.load_state_dict(state)
        model.eval()
        rows.append((label, *(val_auc(task, model, s) for s in splits.values())))
        print(f"{label}: " + ", ".join(f"{d} val {v:.4f}" for d, v in zip(splits, rows[-1][1:])), flush=True)
    body = (f"`{rec.model}` seed {rec.seed}, trained on `{task.id}` at `{rec.preset}` (test macro AUC "
            f"{rec.metrics_test.get('auc_macro', float('nan')):.4f}), re-scored with the render PSF swapped; "
            "validation splits only.\n\n| render PSF | " + " | ".join(f"{d} val macro AUC" for d in splits)
            + " |\n|---|" + "---:|" * len(splits) + "\n"
            + "".join(f"| {r[0]} | " + " | ".join(f"{v:.4f}" for v in r[1:]) + " |\n" for r in rows)
            + f"\n`lensbench run --task {task.id} --model {rec.model} --seeds {rec.seed} --preset {rec.preset} "
            "--results R --checkpoint-dir C`, then `python perf/psf_transfer.py --record R/<its record> "
            "--checkpoint-dir C`\n")
    print(body)
    if not args.no_write:
        from perf_readme import write_section

        write_section("psf-transfer", body)


if __name__ == "__main__":
    main()
