"""How good is a gravitational-imaging PINN's smooth fit, and how much substructure signal does its
residual keep? On the VALIDATION split (never test), for one trained checkpoint.

The idea behind ``grav-imaging`` is that the residual of a smooth (macro lens + source) fit shows
substructure. ``perf/image_probe.py`` has the ceiling: the residual against the *true* smooth image
separates the classes at macro AUC ~0.85 on lensbench-v2, above every CNN on the board. This script
asks how close the model's own fit gets. Per row, the median chi^2 per pixel of each class (1 = the
noise level; sigma from the image border as in the model) and the residual probe: the same
gradient-boosted classifier on the same residual statistics as the image probe's control
(``image_probe.residual_statistics``: per-annulus mean z^2, total chi^2, max |z|; 5-fold CV macro AUC),
and the model's own val macro AUC when its head is fed that fit.

Rows: the true parameters rendered by the model's own renderer (Sersic source, linear amplitude fit:
the ceiling in the model's pipeline); the model's fit as trained (0 refinement steps); and the fit
after K steps of Adam on the image's chi^2 over the predicted lens, Sersic and pixel-source
parameters (pre-sigmoid / pre-tanh, so they stay in bounds; analysis by synthesis, which the model
does not do in its forward pass). Writes perf/README.md section ``fit-quality`` unless ``--no-write``.

    lensbench run --task substructure/lensbench-v2 --model grav-imaging --seeds 0 --preset medium \\
        --results R --checkpoint-dir C
    python perf/fit_quality.py --record R/substructure__lensbench-v2/v1/medium/grav-imaging/seed0.json \\
        --checkpoint-dir C --per-class 300 --steps 0 10 30 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from image_probe import residual_statistics
from sklearn.metrics import roc_auc_score
from trained import load_or_exit

from lensbench.baselines.global_stats import cv_auc
from lensbench.data import taskdata
from lensbench.pinn_models.common import AUX_COLUMNS, linear_fit
from lensbench.pinn_models.grav_imaging import GravImagingNet, border_noise

CHUNK = 100


def refined_residuals(model: GravImagingNet, x: torch.Tensor, steps: list[int], lr: float) -> dict:
    """step -> (residual statistics (N, F), chi^2 per pixel (N,), the model's own class probabilities (N, K)
    with its head fed the refined fit) of images ``x`` after that many Adam steps on their chi^2,
    starting from the model's prediction."""
    head = model.param_head
    with torch.no_grad():
        feat = model.lens_encoder(x)
        z0, r0 = head.linear(feat.float()), model.pixel_head(feat.float())
    sigma = border_noise(x, model.border, model.noise_floor)
    z, r = z0.clone().requires_grad_(True), r0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z, r], lr=lr)

    def current():
        """(unit vector, parameters, pixel source) at the current optimiser state."""
        unit = torch.sigmoid(z)
        values = head.lo + (head.hi - head.lo) * unit
        pixels = model.amplitude_max * torch.tanh(r).view(-1, model.n_pix_src, model.n_pix_src)
        return unit, {n: values[:, j] for j, n in enumerate(head.names)}, pixels

    out = {}
    for k in range(max(steps) + 1):
        if k in steps:
            with torch.no_grad():
                unit, params, pixels = current()
                extras = model.fit(x, params, pixels)
                logits = model.classify(x, feat, unit, extras)
            out[k] = (*statistics(x, extras["fitted"], sigma, extras["nres"]),
                      torch.softmax(logits.double(), 1).numpy())
        if k < max(steps):
            opt.zero_grad()
            _, params, pixels = current()
            fitted = linear_fit(model.render(params, pixels), x)
            ((x - fitted) / sigma).pow(2).mean(dim=(1, 2, 3)).sum().backward()
            opt.step()
    return out


def statistics(x, fitted, sigma, nres) -> tuple[np.ndarray, np.ndarray]:
    d, f, s = (t[:, 0].double().numpy() for t in (x, fitted, sigma))
    return residual_statistics(d, f, np.broadcast_to(s ** 2, d.shape)), nres.pow(2).mean(dim=(1, 2, 3)).numpy()


def true_residuals(model: GravImagingNet, x: torch.Tensor, columns: dict) -> tuple[np.ndarray, np.ndarray]:
    """Residual statistics and chi^2 of ``x`` against the true macro lens and Sersic source rendered by the
    model's renderer (no pixel source), amplitude and offset fitted linearly."""
    params = {name: torch.as_tensor(columns[col], dtype=torch.float32) for name, col in AUX_COLUMNS.items()}
    with torch.no_grad():
        fitted = linear_fit(model.render(params, None), x)
        sigma = border_noise(x, model.border, model.noise_floor)
        return statistics(x, fitted, sigma, (x - fitted) / sigma)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", type=Path, required=True, help="run record of a grav-imaging variant with a checkpoint")
    ap.add_argument("--checkpoint-dir", type=Path, required=True)
    ap.add_argument("--per-class", type=int, default=300, help="validation images per class")
    ap.add_argument("--steps", type=int, nargs="+", default=[0, 10, 30, 100])
    ap.add_argument("--lr", type=float, default=0.05, help="Adam step size on the pre-sigmoid parameters")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rec, task, model = load_or_exit(args.record, args.checkpoint_dir)
    if not isinstance(model, GravImagingNet) or not model.physics:
        print(f"error: {args.record}: model {rec.model!r} is not a grav-imaging variant with physics on",
              file=sys.stderr)
        raise SystemExit(2)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    _, ds = taskdata.materialise(task, rec.preset, progress=False)
    val = taskdata.build_split(task, ds, "val")
    labels = np.asarray(val.target)
    keep = np.concatenate([np.flatnonzero(labels == k)[:args.per_class] for k in np.unique(labels)])
    x, y = val.images[keep].float(), labels[keep]
    columns = {k: v[keep] for k, v in val.columns.items()}
    t0 = time.perf_counter()
    rows = {"true parameters (model's renderer, Sersic source)": (*true_residuals(model, x, columns), None)}
    parts = [refined_residuals(model, x[i:i + CHUNK], args.steps, args.lr) for i in range(0, len(x), CHUNK)]
    for k in args.steps:
        label = "the model's fit, as trained" if k == 0 else f"the model's fit + {k} Adam steps on chi^2"
        rows[label] = tuple(np.concatenate([p[k][i] for p in parts]) for i in range(3))
    seconds = time.perf_counter() - t0
    names = [str(np.asarray(val.class_names)[keep][y == k][0]) for k in np.unique(y)]
    lines = [(f"`{rec.model}` seed {rec.seed}, trained on `{task.id}` at `{rec.preset}`; {args.per_class} validation "
              f"images per class; Adam step {args.lr:g}; {seconds:.0f} s for all rows on {args.threads} thread(s)."), "",
             "| smooth fit | " + " | ".join(f"median chi^2/px, {n}" for n in names)
             + " | residual probe (macro AUC) | the model's own head on this fit (val macro AUC) |",
             "|---|" + "---:|" * (len(names) + 2)]
    for label, (feats, chi2, proba) in rows.items():
        probe = cv_auc(feats, y)
        own = "–" if proba is None else f"{roc_auc_score(y, proba, multi_class='ovr'):.4f}"
        lines.append(f"| {label} | " + " | ".join(f"{np.median(chi2[y == k]):.3f}" for k in np.unique(labels))
                     + f" | {probe['auc']:.3f} +/- {probe['fold_sd']:.3f} | {own} |")
    body = "\n".join(lines) + (f"\n\n`python perf/fit_quality.py --record R/<record> --checkpoint-dir C --per-class "
                               f"{args.per_class} --steps {' '.join(map(str, args.steps))}`\n")
    print(body)
    if not args.no_write:
        from perf_readme import write_section

        write_section("fit-quality", body)


if __name__ == "__main__":
    main()
