"""Reading materialised datasets: a split as numpy arrays, a build's metadata, the cached builds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lensbench.data.errors import DataError
from lensbench.data.paths import META, dataset_path
from lensbench.specs import DatasetSpec


@dataclass
class SplitArrays:
    """One split in memory. ``labels[i]`` indexes ``class_names`` (the dataset's full class list,
    also when ``load_split`` filtered classes); ``columns`` holds the float parameters;
    ``sources`` the file of each row for file datasets (else None)."""

    images: np.ndarray  # float32 (N, C, H, W)
    labels: np.ndarray  # int64 (N,)
    class_names: list[str]
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    sources: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)


def load_split(dsdict, split: str, classes: Sequence[str] | None = None) -> SplitArrays:
    """Read one split into numpy arrays (column access on memory-mapped Arrow, no per-row loop).

    ``classes`` keeps only rows of those class names (labels keep the dataset's label indices)."""
    if split not in dsdict:
        raise DataError(f"dataset has no split {split!r}; it has {list(dsdict)}")
    ds = dsdict[split]
    names = list(ds.features["label"].names)
    shape = tuple(ds.features["image"].shape)
    labels = np.asarray(ds.with_format("numpy", columns=["label"])[:]["label"], dtype=np.int64)
    if classes is not None:
        unknown = [c for c in classes if c not in names]
        if unknown:
            raise DataError(f"load_split: classes {unknown} are not in the dataset (it has {names})")
        idx = np.flatnonzero(np.isin(labels, [names.index(c) for c in classes]))
        if len(idx) and idx[-1] - idx[0] + 1 == len(idx):
            ds = ds.select(range(int(idx[0]), int(idx[-1]) + 1))
        elif len(idx) != len(labels):
            ds = ds.select(idx)
        labels = labels[idx]
    float_cols = [
        c
        for c, f in ds.features.items()
        if c not in ("image", "label", "class_name", "source") and getattr(f, "dtype", "") == "float32"
    ]
    if len(labels) == 0:
        return SplitArrays(
            np.zeros((0, *shape), np.float32),
            labels,
            names,
            {c: np.zeros(0, np.float32) for c in float_cols},
            [] if "source" in ds.features else None,
        )
    data = ds.with_format("numpy", columns=["image", *float_cols])[:]
    sources = list(ds["source"][:]) if "source" in ds.features else None
    images = np.asarray(data["image"], dtype=np.float32).reshape(len(labels), *shape)
    return SplitArrays(
        images, labels, names, {c: np.asarray(data[c], np.float32) for c in float_cols}, sources
    )


def dataset_dir(dsdict) -> Path:
    """The folder a materialised DatasetDict was loaded from."""
    for ds in dsdict.values():
        if ds.cache_files:
            return Path(ds.cache_files[0]["filename"]).parent.parent
    raise DataError("this DatasetDict is not backed by files on disk (was it built by materialise?)")


def read_meta(dsdict_or_path) -> dict:
    """The ``lensbench.json`` of a materialised dataset (a DatasetDict from ``materialise`` or a path)."""
    path = Path(dsdict_or_path) if isinstance(dsdict_or_path, (str, Path)) else dataset_dir(dsdict_or_path)
    try:
        return json.loads((path / META).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{path / META}: cannot read dataset metadata ({e})") from e


def builds(spec: DatasetSpec, cache: Path | str | None = None) -> list[tuple[dict | None, Path]]:
    """Every cached build of ``spec`` (its version), newest first: (sizes, folder)."""
    base = dataset_path(spec, None, cache).parent
    found = []
    for p in base.glob("*"):
        if p.name.startswith(".") or not (p / META).exists():
            continue
        try:
            meta = json.loads((p / META).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        found.append(((p / META).stat().st_mtime, meta.get("sizes"), p))
    return [(s, p) for _, s, p in sorted(found, key=lambda t: -t[0])]
