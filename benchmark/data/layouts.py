"""Folders of image files as datasets: the items of each split and class, and the val split.

A format's ``layout`` gives ``{split: {class: [file, ...]}}`` (``FileLayout``); ``items`` turns files
into ``Item`` s (one per image; a stack file gives several), which make a ``Layout``.

Without a ``val`` folder, validation is carved from train deterministically (``carve_val``):
``VAL_FRACTION`` of each class (at least 1 when the class has >= 2 items), chosen by a permutation
seeded with the spec seed and the class name.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lensbench.data.readers import IMAGE_SUFFIXES
from lensbench.specs import SPLITS

VAL_FRACTION = 0.1


@dataclass(frozen=True)
class Item:
    """One image: a file, and its index when the file holds a stack of images."""

    path: Path
    index: int | None = None

    def name(self, root: Path) -> str:
        rel = self.path.relative_to(root).as_posix()
        return rel if self.index is None else f"{rel}[{self.index}]"


FileLayout = dict[str, dict[str, list[Path]]]  # split -> class -> files
Layout = dict[str, dict[str, list[Item]]]  # split -> class -> items


def natural_key(p: Path) -> list:
    """Sort key: path parts with digit runs compared as numbers (2.npy before 10.npy)."""
    return [[int(t) if t.isdigit() else t for t in re.split(r"(\d+)", part)] for part in p.parts]


def list_files(
    folder: Path, recursive: bool = False, suffixes: tuple[str, ...] = IMAGE_SUFFIXES
) -> list[Path]:
    """Files of ``folder`` (and below, when ``recursive``) ending in ``suffixes``, in natural order."""
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted((p for p in it if p.is_file() and p.name.lower().endswith(suffixes)), key=natural_key)


def class_dirs(folder: Path, aliases: dict[str, str] | None = None) -> dict[str, Path]:
    """Sub-folders of ``folder`` by class name (a folder named in ``aliases`` under its alias)."""
    aliases = aliases or {}
    return {aliases.get(d.name, d.name): d for d in sorted(p for p in folder.iterdir() if p.is_dir())}


def common_base(files: FileLayout, root: Path) -> Path:
    """Folder that source names are relative to: ``root``, or its parent when the layout uses a
    sibling folder (``Model_I_test``)."""
    inside = all(p.is_relative_to(root) for per in files.values() for paths in per.values() for p in paths)
    return root if inside else root.parent


def carve_val(lay: Layout, seed: int) -> Layout:
    """All three splits: the layout's own val, or ``VAL_FRACTION`` of each train class."""
    if "val" in lay:
        return {s: lay.get(s, {c: [] for c in lay["train"]}) for s in SPLITS}
    train, val = {}, {}
    for c, items in lay.get("train", {}).items():
        n = len(items)
        n_val = max(1, round(VAL_FRACTION * n)) if n >= 2 else 0
        perm = np.random.default_rng([seed, zlib.crc32(c.encode())]).permutation(n)
        chosen = set(perm[:n_val].tolist())
        val[c] = [it for i, it in enumerate(items) if i in chosen]
        train[c] = [it for i, it in enumerate(items) if i not in chosen]
    classes = next(iter(lay.values())).keys()
    empty = {c: [] for c in classes}
    return {"train": train or dict(empty), "val": val or dict(empty), "test": lay.get("test", dict(empty))}
