"""Dataset card (markdown) and example gallery (PNG) for a materialised dataset.

``show(spec, sizes)`` writes ``card.md`` and ``gallery.png`` into the dataset's cache folder and
returns their paths; ``dataset_card`` and ``gallery`` are the two parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from lensbench.data.cache import materialise
from lensbench.data.errors import DataError
from lensbench.data.reading import builds, dataset_dir, load_split, read_meta
from lensbench.specs import SPLITS, DatasetSpec

_IMAGE_STATS_ROWS = 2000  # image min/max/mean are computed on the first rows of each split


def _column_ranges(dsdict, columns) -> dict[str, tuple[float, float, int]]:
    """(min, max, count of non-NaN) of each float column over all splits, via pyarrow (no images read)."""
    import pyarrow.compute as pc

    out = {}
    for c in columns:
        lo, hi, n = np.inf, -np.inf, 0
        for s in SPLITS:
            col = dsdict[s].data.column(c)
            vals = pc.drop_null(pc.if_else(pc.is_nan(col), None, col))
            if len(vals):
                mm = pc.min_max(vals).as_py()
                lo, hi, n = min(lo, mm["min"]), max(hi, mm["max"]), n + len(vals)
        out[c] = (lo, hi, n)
    return out


def dataset_card(spec: DatasetSpec, dsdict, sizes: Mapping[str, int] | None = None) -> str:
    """Markdown card: description, origin, counts per split and class, fingerprint, columns, citation."""
    meta = read_meta(dsdict)
    counts = meta["counts"]
    columns = meta.get("columns", [])
    origin = (
        f"simulated with recipe `{meta.get('recipe', spec.recipe)}` v{meta.get('recipe_version', '?')}, "
        f"seed {spec.seed}, simulator sources `{str(meta.get('simulator_version', ''))[:12]}`"
        if spec.recipe
        else f"read by the `{spec.adapter}` adapter from `{Path(meta.get('data_root', '?')).name}/`"
    )
    lines = [
        f"# {spec.name} (v{spec.version})",
        "",
        spec.description,
        "",
        f"- origin: {origin}",
        f"- image shape (C, H, W): {tuple(spec.image_shape)}; pixel scale: "
        + (
            f'{spec.pixel_scale:g}"/px (field {spec.pixel_scale * spec.image_shape[2]:.2f}")'
            if spec.pixel_scale
            else "unknown"
        ),
        f"- classes (label order): {', '.join(f'{i} = `{c}`' for i, c in enumerate(spec.classes))}",
        f"- sizes (per class, as requested): {dict(sizes) if sizes else meta.get('sizes') or 'all'}",
        f"- fingerprint: `{meta['fingerprint']}`",
        f"- built: {meta.get('built_at', '?')} in {meta.get('build_seconds', '?')} s",
        f"- row order: {meta.get('order', '?')}",
        f"- licence: {spec.licence}",
        "",
        "## Counts",
        "",
        "| split | " + " | ".join(spec.classes) + " | total |",
        "|---|" + "---:|" * (len(spec.classes) + 1),
    ]
    for s in SPLITS:
        row = [counts[s].get(c, 0) for c in spec.classes]
        lines.append(f"| {s} | " + " | ".join(str(v) for v in row) + f" | {sum(row)} |")
    lines += [
        "",
        "## Columns",
        "",
        "| column | type | min | max | non-NaN rows |",
        "|---|---|---:|---:|---:|",
    ]
    stats = []
    for s in SPLITS:
        if dsdict[s].num_rows:
            img = load_split(
                {s: dsdict[s].select(range(min(_IMAGE_STATS_ROWS, dsdict[s].num_rows)))}, s
            ).images
            stats.append((img.min(), img.max(), img.size))
    if stats:
        lines.append(
            f"| image | float32 {tuple(spec.image_shape)} | {min(t[0] for t in stats):.4g} | "
            f"{max(t[1] for t in stats):.4g} | (first {_IMAGE_STATS_ROWS} rows per split) |"
        )
    lines.append(f"| label | int64 | 0 | {len(spec.classes) - 1} | |")
    lines.append("| class_name | string | | | |")
    for c, (lo, hi, n) in _column_ranges(dsdict, columns).items():
        lines.append(f"| {c} | float32 | {lo:.4g} | {hi:.4g} | {n} |" if n else f"| {c} | float32 | | | 0 |")
    if "source" in dsdict["test"].features:
        lines.append("| source | string (file of each row) | | | |")
    lines += [
        "",
        "## How to cite",
        "",
        spec.citation
        or "No citation given for this dataset; cite LensBench "
        f"and name the dataset as `{spec.key}` with its fingerprint.",
        "",
    ]
    return "\n".join(lines)


def display(img: np.ndarray) -> tuple[np.ndarray, str | None]:
    """An (H, W) or (H, W, 3) array in [0, 1] for imshow: percentile stretch per image."""
    x = img if img.shape[0] != 1 else img[:1]
    lo, hi = np.percentile(x, [0.5, 99.5])
    x = np.clip((x - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    if x.shape[0] == 3:  # bands stored blue to red (g, r, i): the reddest band shows as red
        return np.moveaxis(x[::-1], 0, -1), None
    return x[0] if x.shape[0] == 1 else x.mean(axis=0), "magma"


def gallery(dsdict, spec: DatasetSpec, path: Path | str, per_class: int = 4) -> Path:
    """PNG grid: one row per class (first ``per_class`` examples of the first non-empty split).

    Axes are in arcsec (centred) when ``spec.pixel_scale`` is known, else in pixels. 3-channel
    images, whose bands every 3-band dataset here stores blue to red (g, r, i), are shown as RGB =
    (i, r, g), the astronomers' convention; others as channel 0 (or the channel mean)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    split = next((s for s in ("train", "test", "val") if dsdict[s].num_rows), None)
    if split is None:
        raise DataError(f"dataset {spec.name!r} has no rows to show")
    labels = np.asarray(dsdict[split].with_format("numpy", columns=["label"])[:]["label"])
    pick = np.concatenate([np.flatnonzero(labels == i)[:per_class] for i in range(len(spec.classes))])
    arr = load_split({split: dsdict[split].select(np.sort(pick))}, split)  # only the shown rows
    present = [c for c in spec.classes if (arr.labels == spec.classes.index(c)).any()]
    fig, axes = plt.subplots(
        len(present), per_class, figsize=(2.1 * per_class, 2.2 * len(present)), squeeze=False
    )
    h, w = spec.image_shape[1:]
    ps = spec.pixel_scale
    extent = (-w * ps / 2, w * ps / 2, -h * ps / 2, h * ps / 2) if ps else None
    for r, c in enumerate(present):
        idx = np.flatnonzero(arr.labels == spec.classes.index(c))[:per_class]
        for k in range(per_class):
            ax = axes[r, k]
            if k >= len(idx):
                ax.axis("off")
                continue
            im, cmap = display(arr.images[idx[k]])
            ax.imshow(im, cmap=cmap, origin="lower", extent=extent)
            ax.set_title(c if k == 0 else "", fontsize=10, loc="left")
            ax.tick_params(labelsize=6)
            if r == len(present) - 1 and k == 0:
                ax.set_xlabel("arcsec" if ps else "pixel", fontsize=7)
    fig.suptitle(f"{spec.key} ({split})", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def show(
    spec: DatasetSpec,
    dsdict=None,
    sizes: Mapping[str, int] | None = None,
    *,
    cache=None,
    data_root=None,
    per_class: int = 4,
    progress: bool = True,
    recipe=None,
) -> dict[str, Path]:
    """Write ``card.md`` and ``gallery.png`` into the dataset's folder; returns {"card", "gallery", "dir"}.

    ``dsdict``: an already materialised dataset (then nothing is built). Otherwise the dataset is
    materialised with ``sizes``; without ``sizes`` a simulated dataset uses its newest cached build
    (DataError if none) and an adapter dataset its full build. ``recipe`` overrides the recipe lookup."""
    if dsdict is None:
        if sizes is None and spec.recipe is not None:
            found = builds(spec, cache)
            if not found:
                raise DataError(
                    f"dataset {spec.key} is not built yet; run 'lensbench data build {spec.name}' first"
                )
            sizes = found[0][0]
        dsdict = materialise(spec, sizes, cache=cache, data_root=data_root, progress=progress, recipe=recipe)
    folder = dataset_dir(dsdict)
    card = folder / "card.md"
    card.write_text(dataset_card(spec, dsdict, sizes))
    png = gallery(dsdict, spec, folder / "gallery.png", per_class=per_class)
    return {"card": card, "gallery": png, "dir": folder}


# ----------------------------------------------------------------------------- Hub dataset card
HUB_TASK = {"classification": "image-classification", "anomaly": "image-classification", "regression": "other"}
HUB_LICENCES = {"cc-by-4.0": "cc-by-4.0", "apache-2.0": "apache-2.0", "mit": "mit", "cc0-1.0": "cc0-1.0",
                "bsd-3-clause": "bsd-3-clause", "gpl-3.0": "gpl-3.0"}
SEEDS_TEXT = ("Chunk k (at most {chunk} images) of each (split, class) is generated with the seed = the first 62 "
              "bits of sha256('<name>|<dataset seed>|<split>|<class>|k'), so the splits never share a seed and a "
              "build is reproducible bit for bit on the same device and render path.")


def hub_licence(text: str) -> str:
    """The Hub licence id of a free-text licence (its first word), else ``other``."""
    first = (text or "").split(" ")[0].strip("(),;").lower()
    return HUB_LICENCES.get(first, "other")


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"


def how_made(cfg) -> str:
    """One paragraph: how the rows of an exported config were made."""
    meta, spec = cfg.meta, cfg.spec
    if spec.recipe:
        return (f"Simulated by LensBench's differentiable lensing simulator with recipe `{meta.get('recipe')}` "
                f"v{meta.get('recipe_version')} (render path {meta.get('render') or 'n/a'}, device "
                f"{meta.get('device', 'cpu')}), dataset seed {spec.seed}, "
                f"{cfg.sizes} images per class per split. {spec.description}")
    return (f"Real images read verbatim by the `{spec.adapter}` file format (no re-simulation); {spec.description} "
            "Fetch the source files with `lensbench data fetch` (pinned public URLs, sha256-verified).")


def limitations(configs) -> str:
    """Known limitations of the exported configs (also the Croissant ``rai:dataLimitations``)."""
    out = []
    if any(c.spec.recipe for c in configs):
        out.append("Simulated images: the simulation-to-real gap is not closed (parametric mass and light profiles, "
                   "idealised PSF and noise); numbers measured here do not transfer to survey data without a "
                   "domain-shift check. The simulator and every seed are public, so anyone can regenerate the "
                   "test split: a model trained on it scores higher than it should; LensBench's hidden-seed test "
                   "set exists for that.")
    if any(c.spec.adapter for c in configs):
        out.append("Real images: small samples (tens to about 150 images), labels taken from the source "
                   "catalogues (candidates, not all confirmed), display stretches or per-image normalisations "
                   "rather than calibrated fluxes, and framing or colour that can differ between classes. "
                   "Evaluation only; treat scores as out-of-distribution indicators.")
    return " ".join(out)


def biases(configs) -> str:
    """Known biases (Croissant ``rai:dataBiases``)."""
    return ("Class balance is set by the recipe or the source folders, not by the sky: real lenses are about "
            "1 in 1000 galaxies. Simulated priors (Einstein radii, source sizes, signal-to-noise, substructure "
            "abundance) reflect modelling choices stated in each recipe; real samples over-represent bright, "
            "visually striking lenses found by earlier searches.")


INTENDED_USE = ("Benchmarking machine-learning models for strong gravitational lensing (substructure "
                "classification, lens finding, parameter regression, anomaly detection) under the LensBench "
                "protocol: train on train, choose on val, score on test once. Not for scientific inference "
                "about real lens systems, and not a census of the sky.")


def hub_card(name: str, configs, preset: str) -> str:
    """``README.md`` of an export (``lensbench.data.export``): Hub YAML metadata and the sections a
    reviewer needs (how it was made, simulator version, recipe, seeds, fingerprint, limitations, use)."""
    import yaml

    from lensbench import registry
    from lensbench.data import simulated

    kinds = sorted({registry.tasks.get(t).kind for c in configs for t in c.tasks})
    licences = sorted({c.spec.licence for c in configs})
    lic = {hub_licence(t) for t in licences}
    header = {
        "license": lic.pop() if len(lic) == 1 else "other",
        "pretty_name": f"LensBench {name} ({preset})",
        "task_categories": sorted({HUB_TASK[k] for k in kinds}) or ["image-classification"],
        "tags": ["astronomy", "gravitational-lensing", "physics", "lensbench"]
                + (["simulation"] if any(c.spec.recipe for c in configs) else []),
        "size_categories": [size_category(sum(sum(c.rows.values()) for c in configs))],
        "configs": [{"config_name": c.name, "default": i == 0,
                     "data_files": [{"split": s, "path": f"data/{c.name}/{s}-*.parquet"} for s in SPLITS]}
                    for i, c in enumerate(configs)],
    }
    if header["license"] == "other":
        header["license_name"] = "; ".join(licences)[:200]
    from datasets import DatasetInfo  # features per config: load_dataset(<export folder>) restores Array3D
    from datasets.info import DatasetInfosDict

    from lensbench.data.writer import features

    DatasetInfosDict({c.name: DatasetInfo(features=features(c.spec, c.meta.get("columns", []), bool(c.spec.adapter)),
                                          config_name=c.name) for c in configs}).to_dataset_card_data(header)
    lines = ["---", yaml.safe_dump(header, sort_keys=False).rstrip(), "---", "",
             f"# LensBench: {name} (preset `{preset}`)", "",
             ("Exported by `lensbench data export`. Images are float32 arrays of physical pixel values, stored "
              "unchanged from the LensBench build (shape in `dataset_info` above and in the `lensbench` parquet "
              "metadata)."), "", "| config | dataset | tasks | train | val | test | fingerprint |", "|---|---|---|---:|---:|---:|---|"]
    for c in configs:
        lines.append(f"| {c.name} | {c.spec.key} | {', '.join(c.tasks) or '-'} | "
                     + " | ".join(str(c.rows[s]) for s in SPLITS) + f" | `{c.fingerprint[:16]}` |")
    lines += ["", "## How it was made", ""] + [f"- **{c.name}**: {how_made(c)}" for c in configs]
    lines += ["", "## Simulator version", ""]
    for c in configs:
        v = c.meta.get("versions", {})
        lines.append(f"- **{c.name}**: " + (f"simulator sources sha256 `{c.meta.get('simulator_version')}`, "
                                            if c.spec.recipe else "no simulator (real images), ")
                     + ", ".join(f"{k} {v[k]}" for k in sorted(v)))
    lines += ["", "## Recipe", ""]
    for c in configs:
        if c.spec.recipe:
            rec = simulated.get_recipe(c.spec.recipe)
            lines += [f"**{c.name}**: `{rec.name}` v{rec.version}: {rec.description}", "", "```", repr(rec), "```", ""]
        else:
            lines += [f"**{c.name}**: real files read by the `{c.spec.adapter}` format (no recipe).", ""]
    lines += ["## Seeds", ""]
    for c in configs:
        lines.append(f"- **{c.name}**: dataset seed {c.spec.seed}. " + (
            SEEDS_TEXT.format(chunk=c.meta.get("chunk", "?")) if c.spec.recipe else
            "No random draws except the val split carved from train (seeded)."))
    lines += ["", "## Fingerprint", "",
              ("The sha256 LensBench computes over everything that makes the data (recipe, simulator sources, "
               "sizes, seeds, or the bytes of the source files). `lensbench data build` recomputes it; it is also "
               "stored in every parquet file's metadata (key `lensbench`)."), ""]
    lines += [f"- **{c.name}**: `{c.fingerprint}`" for c in configs]
    lines += ["", "## Known limitations", "", limitations(configs), "", biases(configs),
              "", "## Intended use", "", INTENDED_USE, "", "## Loading", "", "```python",
              "from datasets import load_dataset",
              f'ds = load_dataset("parquet", data_files={{"test": "data/{configs[0].name}/test-*.parquet"}})',
              "import numpy as np; x = np.asarray(ds['test'][0]['image'], dtype=np.float32)  # (C, H, W)",
              "```", "", "## Publishing (maintainers)", "",
              "`huggingface-cli upload <org>/<name> <this folder> . --repo-type dataset`", "",
              "## Licence and citation", ""]
    lines += [f"- **{c.name}**: licence: {c.spec.licence}. Cite: {c.spec.citation or 'LensBench'}" for c in configs]
    return "\n".join(lines) + "\n"
