"""Global-shortcut probes of a simulated dataset: can the class be read off global image statistics?

For each dataset name, ``--n`` images per class are simulated by its recipe (``Recipe.generate``,
exactly what a dataset build stores) and three feature sets are scored with the same classifier
(``lensbench.baselines.global_stats.cv_auc``: HistGradientBoostingClassifier, stratified k-fold,
macro one-vs-rest ROC AUC from pooled out-of-fold probabilities, +/- the spread over folds):

- **image probe**: ``global_stats.image_statistics`` (radial profile in 16 annuli, total flux,
  flux-weighted second moments): the ``global-stats`` reference model. Chance (0.5) when no global
  statistic carries the class.
- **parameter probe**: the macro-lens, source and observing columns (``confound_check.features``).
- **control**: the residual against the true smooth image (the noiseless image of the same macro
  lens and source, no substructure, at the same amplitude): mean (data - smooth)^2 / sigma^2 in the
  16 annuli, total chi^2 and max |z|. It shows that the class is still in the images (well above 0.5).
  Sersic-source recipes only.

Target on lensbench-v2: image and parameter probes 0.50 +/- 0.03, control clearly above. Results
are printed and written into ``perf/README.md`` (section ``image-probe``).

    nice -n 19 python perf/image_probe.py lensbench-v1 lensbench-v2 --n 3000 --threads 1
    python perf/image_probe.py lensbench-v2 --n 200 --no-write
"""

from __future__ import annotations

import argparse
import platform
import sys

import numpy as np
import torch
from confound_check import features, probe_arguments, run_and_publish

from lensbench import registry
from lensbench.baselines.global_stats import N_ANNULI, cv_auc, image_statistics
from lensbench.lensing import render
from lensbench.lensing.recipes.base import LENS_COLUMNS
from lensbench.lensing.recipes.components import SersicSource

CHUNK = 256


def smooth_images(recipe, class_name: str, n: int, seed: int, amp: np.ndarray) -> np.ndarray:
    """Noiseless images of the drawn macro lens and Sersic source alone, at the drawn amplitudes."""
    p = recipe.sample(class_name, n, seed)
    out = []
    for a in range(0, n, CHUNK):
        sl = slice(a, min(n, a + CHUNK))
        lens = {k: p[k][sl].float() for k in LENS_COLUMNS}
        src = {"amp": torch.from_numpy(amp[sl]).float(), "R_sersic": p["src_R"][sl].float(),
               "n_sersic": p["src_n"][sl].float(), "e1": p["src_e1"][sl].float(), "e2": p["src_e2"][sl].float(),
               "center_x": p["src_x"][sl].float(), "center_y": p["src_y"][sl].float()}
        out.append(render.render(lens, src, recipe.inst, supersample=recipe.supersample, compile=False).numpy())
    return np.concatenate(out).astype(np.float64)


def residual_statistics(data: np.ndarray, smooth: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Per-annulus mean z^2, total chi^2 and max |z| of z = (data - smooth) / sigma."""
    z2 = (data - smooth) ** 2 / var
    prof = image_statistics(z2)[:, :N_ANNULI]
    return np.column_stack([prof, z2.sum((1, 2)), np.sqrt(z2.reshape(len(z2), -1).max(1))])


def probe(dataset: str, n: int, seed: int, folds: int) -> dict:
    spec = registry.datasets.get(dataset)
    recipe = registry.recipes.get(spec.recipe or dataset)
    with_control = isinstance(getattr(recipe, "source", None), SersicSource)
    img_f, par, ctl, labels = [], [], [], []
    names = None
    for k, c in enumerate(recipe.classes):
        s = seed + 1000 * k
        images, cols = recipe.generate(c, n, seed=s, compile=False)
        img_f.append(image_statistics(images))
        names, X = features(recipe, cols)
        par.append(X)
        if with_control:
            sm = smooth_images(recipe, c, n, s, cols["src_amp"])
            var = np.clip(sm, 0, None) / cols["exposure_time"][:, None, None] + recipe.noise.background_rms ** 2
            ctl.append(residual_statistics(images[:, 0].astype(np.float64), sm, var))
        labels.append(np.full(n, k))
    y = np.concatenate(labels)
    row = {"dataset": dataset, "n": n, "param_columns": len(names),
           "image": cv_auc(np.concatenate(img_f), y, folds, seed), "param": cv_auc(np.concatenate(par), y, folds, seed)}
    row["control"] = cv_auc(np.concatenate(ctl), y, folds, seed) if with_control else None
    return row


def _cell(r: dict | None) -> str:
    if r is None:
        return "-"
    return f"{r['auc']:.3f} +/- {r['fold_sd']:.3f} ({' / '.join(f'{v:.2f}' for v in r['per_class'])})"


def table(rows: list[dict], folds: int, seconds: float) -> str:
    out = ["### Global-shortcut probes (image statistics, parameters, residual control)", "",
           (f"HistGradientBoostingClassifier (`lensbench.baselines.global_stats.cv_auc`), {folds}-fold stratified "
            "CV, macro one-vs-rest ROC AUC from pooled out-of-fold probabilities +/- the spread over folds, then "
            "the one-vs-rest AUC per class. Image probe: 16-annulus radial profile, total flux, flux-weighted "
            "second moments (the `global-stats` reference model). Parameter probe: the macro-lens, source and "
            "observing columns. Control: residual chi^2 per annulus, total chi^2 and max |z| against the true "
            "smooth image (macro lens + source, no substructure). Goal on lensbench-v2: image and parameter "
            "probes 0.50 +/- 0.03, control clearly above."), "",
           "| dataset | images/class | image probe | parameter probe | control (residual chi^2) |",
           "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['dataset']} | {r['n']} | {_cell(r['image'])} | {_cell(r['param'])} | {_cell(r['control'])} |")
    out += ["", (f"Generated by `python perf/image_probe.py` ({seconds:.0f} s, {platform.machine()}, "
                 f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)).")]
    return "\n".join(out)


def _logged(row: dict) -> dict:
    ctl = row["control"]["auc"] if row["control"] else float("nan")
    print(f"{row['dataset']}: image {row['image']['auc']:.3f}, param {row['param']['auc']:.3f}, control {ctl:.3f}",
          file=sys.stderr)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datasets", nargs="+", help="simulated dataset names, e.g. lensbench-v1 lensbench-v2")
    probe_arguments(ap, n=3000, threads=1)
    args = ap.parse_args(argv)
    return run_and_publish(args, "image-probe",
                           lambda: (_logged(probe(name, args.n, args.seed, args.folds)) for name in args.datasets), table)

if __name__ == "__main__":
    raise SystemExit(main())
