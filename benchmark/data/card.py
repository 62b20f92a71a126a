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
