"""LensBench's file formats (``DatasetSpec.adapter``), registered in ``lensbench.registry.formats``
through the entry point ``lensbench = "lensbench.data.formats:formats"``.

- ``deeplense``: the official DeepLenseSim layouts.
  Models I-III: ``Model_I/{axion,cdm,no_sub}/*.npy`` (train) and the sibling ``Model_I_test/``
  (test); ``no_sub``/``cdm`` files are 2-D arrays, ``axion`` files are object arrays
  ``[image, m_a]`` (m_a in eV, stored in the column ``m_a``), read through the restricted
  unpickler of ``lensbench.data.npyfiles``. Model IV: ``{train,val}/{axion,cdm,no}/*.npy`` with
  (64, 64, 3) channels-last images (also (1, 64, 64) and (64, 64, 1)); the class folder ``no`` is
  read as ``no_sub``; the official ``val/`` is held out and used as our *test* split. Point it at
  ``Model_I`` (or at a folder holding exactly one ``Model_*`` and its ``_test``), or at the Model IV
  root.
- ``lens-finding``: ``train_lenses/ train_nonlenses/ test_lenses/ test_nonlenses/`` of (3, 64, 64)
  .npy (ML4SCI lens-finding task, real HSC cutouts). Classes ``nonlens`` (label 0), ``lens`` (1).
- ``cutouts``: a folder of .npy / .png / .jpg / .fits images, optionally in class subfolders
  (any depth below the class folder), optionally under ``train/ val/ test/``. Without split folders
  every image goes to *test* (real cutouts are for evaluation). Stack files are split into images
  (``readers.stack_len``); images whose (H, W) differ from the spec are resized.

Another package adds a format by registering an object with the ``lensbench.registry.FileFormat``
interface; subclassing ``FolderFormat`` gives the defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from lensbench.data.errors import DataError
from lensbench.data.layouts import FileLayout, Item, class_dirs, list_files
from lensbench.data.npyfiles import load_npy
from lensbench.data.readers import IMAGE_SUFFIXES, read_image, stack_len, to_chw, where
from lensbench.specs import SPLITS


class FolderFormat:
    """Defaults of a ``FileFormat``: one image per file (``items``), read as stored (``read``, see
    ``lensbench.data.readers``), no float columns, no resizing. A subclass sets ``name`` (and
    ``classes`` when it knows them, in label order) and defines ``layout``."""

    name: str = ""
    classes: tuple[str, ...] = ()
    resize: bool = False

    def layout(self, root: Path, classes: tuple[str, ...] | None) -> FileLayout:
        """``{split: {class: [file, ...]}}`` of the folder ``root`` ("train", "test", maybe "val");
        only ``classes`` when given. ``DataError`` naming the folder when it does not fit."""
        raise NotImplementedError

    def items(self, path: Path) -> list[Item]:
        return [Item(path)]

    def read(self, item: Item) -> tuple[np.ndarray, dict[str, float]]:
        return read_image(item.path, item.index), {}

    def columns(self, classes: tuple[str, ...]) -> tuple[str, ...]:
        return ()


def npy_files(folder: Path, split: str, cls: str) -> list[Path]:
    """The .npy files of one class folder; ``DataError`` when there are none."""
    files = list_files(folder, suffixes=(".npy",))
    if not files:
        raise DataError(f"{folder}: split {split!r} class {cls!r} has no .npy files")
    return files


class DeepLense(FolderFormat):
    name = "deeplense"
    classes = ("axion", "cdm", "no_sub")
    aliases: ClassVar[dict[str, str]] = {"no": "no_sub"}

    def roots(self, root: Path) -> dict[str, Path]:
        """split -> folder holding class folders; 'val' only when the data has its own."""
        if (root / "train").is_dir():  # Model IV: train/ val/ (test/)
            out = {"train": root / "train"}
            if (root / "test").is_dir():
                out["test"] = root / "test"
                if (root / "val").is_dir():
                    out["val"] = root / "val"
            elif (root / "val").is_dir():
                out["test"] = root / "val"  # the official held-out set; our val is carved from train
            return out
        if set(class_dirs(root, self.aliases)) & set(self.classes):  # Model_I itself
            test = root.parent / f"{root.name}_test"
            return {"train": root, **({"test": test} if test.is_dir() else {})}
        models = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.endswith("_test")
                  and set(class_dirs(d, self.aliases)) & set(self.classes)]
        if len(models) == 1:
            return self.roots(models[0])
        if not models:
            raise DataError(
                f"{root}: no DeepLense layout found: expected class folders {self.classes} "
                "(Model_I/...), a parent of Model_X/ and Model_X_test/, or train/ and val/ (Model IV)"
            )
        raise DataError(
            f"{root}: holds several DeepLense models {[m.name for m in models]}; point at one of them"
        )

    def layout(self, root: Path, classes: tuple[str, ...] | None) -> FileLayout:
        roots = self.roots(root)
        if "test" not in roots:
            raise DataError(
                f"{root}: no test split: expected the sibling folder {root.name}_test/ "
                "(Models I-III) or val/ next to train/ (Model IV)"
            )
        out: FileLayout = {}
        for split, folder in roots.items():
            dirs = class_dirs(folder, self.aliases)
            want = classes or tuple(c for c in self.classes if c in dirs)
            missing = [c for c in want if c not in dirs]
            if missing:
                raise DataError(f"{folder}: missing class folder(s) {missing} (found {sorted(dirs)})")
            out[split] = {c: npy_files(dirs[c], split, c) for c in want}
        return out

    def read(self, item: Item) -> tuple[np.ndarray, dict[str, float]]:
        """A plain array, or an axion object array ``[image, m_a]`` (m_a in the column ``m_a``)."""
        path = item.path
        arr = load_npy(path, object_arrays=True)
        if arr.dtype != object:
            return read_image(path, item.index, arr), {}
        if arr.shape != (2,):
            raise DataError(f"{path}: object array of shape {arr.shape}, expected [image, m_a] of shape (2,)")
        try:
            m_a = float(arr[1])
        except (TypeError, ValueError) as e:
            raise DataError(f"{path}: second element {arr[1]!r} is not a number (expected m_a in eV)") from e
        return to_chw(np.asarray(arr[0]), where(path, item.index)), {"m_a": m_a}

    def columns(self, classes: tuple[str, ...]) -> tuple[str, ...]:
        return ("m_a",) if "axion" in classes else ()


class LensFinding(FolderFormat):
    name = "lens-finding"
    classes = ("nonlens", "lens")
    folders: ClassVar[dict[str, str]] = {"lens": "lenses", "nonlens": "nonlenses"}

    def layout(self, root: Path, classes: tuple[str, ...] | None) -> FileLayout:
        want = classes or self.classes
        bad = [c for c in want if c not in self.folders]
        if bad:
            raise DataError(f"lens-finding classes must be among {self.classes}, got {bad}")
        out: FileLayout = {}
        for split in ("train", "test"):
            out[split] = {}
            for c in want:
                folder = root / f"{split}_{self.folders[c]}"
                if not folder.is_dir():
                    raise DataError(
                        f"{root}: missing folder {folder.name}/ (lens-finding layout expects "
                        "train_lenses/ train_nonlenses/ test_lenses/ test_nonlenses/)"
                    )
                out[split][c] = npy_files(folder, split, c)
        if (root / "val_lenses").is_dir() and (root / "val_nonlenses").is_dir():
            out["val"] = {c: npy_files(root / f"val_{self.folders[c]}", "val", c) for c in want}
        return out


class Cutouts(FolderFormat):
    name = "cutouts"
    resize = True

    def layout(self, root: Path, classes: tuple[str, ...] | None) -> FileLayout:
        split_dirs = {d.name: d for d in root.iterdir() if d.is_dir() and d.name in SPLITS}
        per_split = split_dirs or {"test": root}
        out: FileLayout = {}
        for split, folder in per_split.items():
            subdirs = {
                d.name: d for d in sorted(folder.iterdir()) if d.is_dir() and list_files(d, recursive=True)
            }
            if subdirs:
                groups = {name: list_files(d, recursive=True) for name, d in subdirs.items()}
            else:
                groups = {"unlabelled": list_files(folder)}
            if classes is not None:
                missing = [c for c in classes if c not in groups]
                if missing and len(per_split) == 1:
                    raise DataError(f"{folder}: no class folder(s) {missing} (found {sorted(groups)})")
                groups = {c: groups.get(c, []) for c in classes}
            out[split] = groups
        if not any(files for per in out.values() for files in per.values()):
            raise DataError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) found")
        return out

    def items(self, path: Path) -> list[Item]:
        n = stack_len(path)
        return [Item(path)] if n is None else [Item(path, i) for i in range(n)]


def formats() -> list[FolderFormat]:
    """LensBench's own formats (the ``lensbench.formats`` entry point)."""
    return [DeepLense(), LensFinding(), Cutouts()]
