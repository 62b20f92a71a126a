"""Readers for lens images stored as files, with validation, feeding ``lensbench.data.store``.

Formats (``DatasetSpec.adapter``):

- ``deeplense``: the official DeepLenseSim layouts.
  Models I-III: ``Model_I/{axion,cdm,no_sub}/*.npy`` (train) and the sibling ``Model_I_test/``
  (test); ``no_sub``/``cdm`` files are 2-D arrays, ``axion`` files are object arrays
  ``[image, m_a]`` (m_a in eV, stored in the column ``m_a``). Model IV:
  ``{train,val}/{axion,cdm,no}/*.npy`` with (64, 64, 3) channels-last images (also (1, 64, 64) and
  (64, 64, 1)); the class folder ``no`` is read as ``no_sub``; the official ``val/`` is held out and
  used as our *test* split. Point the adapter at ``Model_I`` (or at a folder holding exactly one
  ``Model_*`` and its ``_test``), or at the Model IV root. Loading the axion object arrays needs
  ``numpy.load(allow_pickle=True)``, which can run code embedded in the file: this adapter (and no
  other) allows it, and only for files under the folder the user pointed at; plain arrays are read
  without pickle first.
- ``lens-finding``: ``train_lenses/ train_nonlenses/ test_lenses/ test_nonlenses/`` of (3, 64, 64)
  .npy (ML4SCI lens-finding task, real HSC cutouts). Classes ``nonlens`` (label 0), ``lens`` (1).
- ``cutouts``: a folder of .npy / .png / .jpg / .fits images, optionally in class subfolders
  (any depth below the class folder), optionally under ``train/ val/ test/``. Without split folders
  every image goes to *test* (real cutouts are for evaluation). Stacks are split into images: a
  .npy of ndim 4, or of ndim 3 whose first and last axes are both longer than 4, and a 3-D FITS cube
  whose first axis is longer than 4. An axis of length <= 4 is read as channels. PNG/JPEG are read
  with Pillow and scaled to [0, 1]. Images whose (H, W) differ from the spec are resized
  (bilinear, antialiased) to the spec's shape.

Without a ``val`` folder, validation is carved from train deterministically: ``VAL_FRACTION`` of each
class (at least 1 when the class has >= 2 files), chosen by a permutation seeded with the spec seed
and the class name. No normalisation happens here; pixel values are stored as read (float32).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lensbench.data import store as _data
from lensbench.data.store import Block, Chunk, DataError, cache_dir, materialise
from lensbench.specs import SPLITS, DatasetSpec, SpecError

FORMATS = ("deeplense", "lens-finding", "cutouts")
VAL_FRACTION = 0.1
IMAGE_SUFFIXES = (".npy", ".png", ".jpg", ".jpeg", ".fits", ".fit", ".fits.gz", ".fit.gz")
DEEPLENSE_CLASSES = ("axion", "cdm", "no_sub")
_ALIASES = {"no": "no_sub"}
LENS_FINDING_CLASSES = ("nonlens", "lens")
_LF_FOLDERS = {"lens": "lenses", "nonlens": "nonlenses"}


@dataclass(frozen=True)
class Item:
    """One image: a file, and its index when the file holds a stack of images."""

    path: Path
    index: int | None = None

    def name(self, root: Path) -> str:
        rel = self.path.relative_to(root).as_posix()
        return rel if self.index is None else f"{rel}[{self.index}]"


Layout = dict[str, dict[str, list[Item]]]  # split -> class -> items


# ------------------------------------------------------------------------------------- file reading


def _natural(p: Path) -> list:
    """Sort key: path parts with digit runs compared as numbers (2.npy before 10.npy)."""
    return [[int(t) if t.isdigit() else t for t in re.split(r"(\d+)", part)] for part in p.parts]


def _is_image(p: Path) -> bool:
    return p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES)


def _files(folder: Path, recursive: bool = False, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted((p for p in it if p.is_file() and p.name.lower().endswith(suffixes)), key=_natural)


def _chw_shape(shape: tuple[int, ...], where: str) -> tuple[int, int, int]:
    """The (C, H, W) an array of ``shape`` becomes: (H, W) -> (1, H, W); an axis <= 4 is channels."""
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 3:
        if shape[0] <= 4:
            return tuple(shape)
        if shape[-1] <= 4:
            return (shape[-1], shape[0], shape[1])
        raise DataError(
            f"{where}: image shape {tuple(shape)}: cannot tell the channel axis "
            "(expected (H, W), (C, H, W) or (H, W, C) with C <= 4)"
        )
    raise DataError(
        f"{where}: image has {len(shape)} dimensions {tuple(shape)}, expected (H, W), (C, H, W) or (H, W, C)"
    )


def _to_chw(arr: np.ndarray, where: str) -> np.ndarray:
    """(H, W) -> (1, H, W); (C, H, W) or (H, W, C) with C <= 4 -> (C, H, W); float32."""
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DataError(f"{where}: array dtype {arr.dtype}, expected a numeric image")
    chw = _chw_shape(arr.shape, where)
    if arr.ndim == 2:
        arr = arr[None]
    elif chw != arr.shape:
        arr = np.moveaxis(arr, -1, 0)
    return np.ascontiguousarray(arr, dtype=np.float32)


def _load_npy(path: Path, allow_pickle: bool) -> tuple[np.ndarray, float]:
    """A .npy image and its axion mass (NaN unless it is a DeepLense ``[image, m_a]`` object array)."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as e:
        raise DataError(f"{path}: cannot read .npy ({e})") from e
    if magic != b"\x93NUMPY":
        raise DataError(f"{path}: cannot read .npy (not a NumPy .npy file: bad header {magic!r})")
    try:
        return np.load(path, allow_pickle=False), float("nan")
    except ValueError as e:
        if not allow_pickle or "allow_pickle" not in str(e):
            raise DataError(f"{path}: cannot read .npy ({e})") from e
    except Exception as e:
        raise DataError(f"{path}: cannot read .npy ({type(e).__name__}: {e})") from e
    try:
        obj = np.load(path, allow_pickle=True)  # DeepLense axion files: object array [image, m_a]
    except Exception as e:
        raise DataError(f"{path}: cannot read pickled .npy ({type(e).__name__}: {e})") from e
    if obj.shape != (2,):
        raise DataError(f"{path}: object array of shape {obj.shape}, expected [image, m_a] of shape (2,)")
    try:
        m_a = float(obj[1])
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: second element {obj[1]!r} is not a number (expected m_a in eV)") from e
    return np.asarray(obj[0]), m_a


def _load_png(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(im, dtype=np.float32) / 65535.0
            im = im.convert("L" if im.mode in ("L", "LA", "1") else "RGB")
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except OSError as e:
        raise DataError(f"{path}: cannot read image ({e})") from e
    return arr if arr.ndim == 2 else np.moveaxis(arr, -1, 0)


def _fits_hdu(path: Path):
    from astropy.io import fits

    try:
        hdul = fits.open(path, memmap=False)
    except Exception as e:
        raise DataError(f"{path}: cannot read FITS ({type(e).__name__}: {e})") from e
    for hdu in hdul:
        if getattr(hdu, "is_image", False) and len(hdu.shape) >= 2:
            return hdul, hdu
    hdul.close()
    raise DataError(f"{path}: no image HDU with a 2-D or 3-D array")


def _stack_len(path: Path) -> int | None:
    """Number of images in a stack file, or None for a single image."""
    low = path.name.lower()
    if low.endswith(".npy"):
        try:
            shape = np.load(path, mmap_mode="r").shape
        except Exception as e:
            raise DataError(f"{path}: cannot read .npy header ({type(e).__name__}: {e})") from e
        if len(shape) == 4 or (len(shape) == 3 and shape[0] > 4 and shape[-1] > 4):
            return shape[0]
        return None
    if ".fit" in low:
        hdul, hdu = _fits_hdu(path)
        with hdul:
            shape = hdu.shape
        return shape[0] if len(shape) == 3 and shape[0] > 4 else None
    return None


def read_item(item: Item, *, allow_pickle: bool = False) -> tuple[np.ndarray, float]:
    """(image (C, H, W) float32, m_a or NaN) for one item."""
    low, where = item.path.name.lower(), str(item.path) + ("" if item.index is None else f"[{item.index}]")
    m_a = float("nan")
    if low.endswith(".npy"):
        arr, m_a = _load_npy(item.path, allow_pickle)
    elif low.endswith((".png", ".jpg", ".jpeg")):
        arr = _load_png(item.path)
    elif ".fit" in low:
        hdul, hdu = _fits_hdu(item.path)
        with hdul:
            arr = np.asarray(hdu.data, dtype=np.float32)
    else:
        raise DataError(f"{item.path}: unsupported file type (expected one of {IMAGE_SUFFIXES})")
    if item.index is not None:
        if item.index >= len(arr):
            raise DataError(f"{where}: stack has only {len(arr)} images")
        arr = arr[item.index]
    return _to_chw(np.asarray(arr), where), m_a


def _fit_shape(img: np.ndarray, target: tuple[int, int, int], where: str, resize: bool) -> np.ndarray:
    if img.shape == target:
        return img
    if resize and img.shape[0] == target[0]:
        import torch
        import torch.nn.functional as F

        t = F.interpolate(
            torch.from_numpy(img)[None], size=target[1:], mode="bilinear", align_corners=False, antialias=True
        )
        return t[0].numpy()
    raise DataError(f"{where}: image shape {img.shape}, expected {target}")


# ------------------------------------------------------------------------------------------ layouts


def _class_dirs(folder: Path) -> dict[str, Path]:
    out = {}
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        out[_ALIASES.get(d.name, d.name)] = d
    return out


def _deeplense_roots(root: Path) -> dict[str, Path]:
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
    if set(_class_dirs(root)) & set(DEEPLENSE_CLASSES):  # Model_I itself
        test = root.parent / f"{root.name}_test"
        return {"train": root, **({"test": test} if test.is_dir() else {})}
    models = [
        d
        for d in sorted(root.iterdir())
        if d.is_dir() and not d.name.endswith("_test") and set(_class_dirs(d)) & set(DEEPLENSE_CLASSES)
    ]
    if len(models) == 1:
        return _deeplense_roots(models[0])
    if not models:
        raise DataError(
            f"{root}: no DeepLense layout found: expected class folders {DEEPLENSE_CLASSES} "
            "(Model_I/...), a parent of Model_X/ and Model_X_test/, or train/ and val/ (Model IV)"
        )
    raise DataError(
        f"{root}: holds several DeepLense models {[m.name for m in models]}; point at one of them"
    )


def _layout_deeplense(root: Path, classes: tuple[str, ...] | None) -> Layout:
    roots = _deeplense_roots(root)
    if "test" not in roots:
        raise DataError(
            f"{root}: no test split: expected the sibling folder {root.name}_test/ "
            "(Models I-III) or val/ next to train/ (Model IV)"
        )
    out: Layout = {}
    for split, folder in roots.items():
        dirs = _class_dirs(folder)
        want = classes or tuple(c for c in DEEPLENSE_CLASSES if c in dirs)
        missing = [c for c in want if c not in dirs]
        if missing:
            raise DataError(f"{folder}: missing class folder(s) {missing} (found {sorted(dirs)})")
        out[split] = {c: [Item(p) for p in _files(dirs[c], suffixes=(".npy",))] for c in want}
    return out


def _layout_lens_finding(root: Path, classes: tuple[str, ...] | None) -> Layout:
    want = classes or LENS_FINDING_CLASSES
    bad = [c for c in want if c not in _LF_FOLDERS]
    if bad:
        raise DataError(f"lens-finding classes must be among {LENS_FINDING_CLASSES}, got {bad}")
    out: Layout = {}
    for split in ("train", "test"):
        out[split] = {}
        for c in want:
            folder = root / f"{split}_{_LF_FOLDERS[c]}"
            if not folder.is_dir():
                raise DataError(
                    f"{root}: missing folder {folder.name}/ (lens-finding layout expects "
                    "train_lenses/ train_nonlenses/ test_lenses/ test_nonlenses/)"
                )
            out[split][c] = [Item(p) for p in _files(folder, suffixes=(".npy",))]
    if (root / "val_lenses").is_dir() and (root / "val_nonlenses").is_dir():
        out["val"] = {
            c: [Item(p) for p in _files(root / f"val_{_LF_FOLDERS[c]}", suffixes=(".npy",))] for c in want
        }
    return out


def _expand(files: list[Path]) -> list[Item]:
    items = []
    for p in files:
        n = _stack_len(p)
        items += [Item(p)] if n is None else [Item(p, i) for i in range(n)]
    return items


def _layout_cutouts(root: Path, classes: tuple[str, ...] | None, probe: bool = True) -> Layout:
    split_dirs = {d.name: d for d in root.iterdir() if d.is_dir() and d.name in SPLITS}
    per_split = split_dirs or {"test": root}
    out: Layout = {}
    for split, folder in per_split.items():
        subdirs = {d.name: d for d in sorted(folder.iterdir()) if d.is_dir() and _files(d, recursive=True)}
        if subdirs:
            groups = {name: _files(d, recursive=True) for name, d in subdirs.items()}
        else:
            groups = {"unlabelled": _files(folder)}
        if classes is not None:
            missing = [c for c in classes if c not in groups]
            if missing and len(per_split) == 1:
                raise DataError(f"{folder}: no class folder(s) {missing} (found {sorted(groups)})")
            groups = {c: groups.get(c, []) for c in classes}
        out[split] = {c: (_expand(fs) if probe else [Item(p) for p in fs]) for c, fs in groups.items()}
    if not any(items for cls in out.values() for items in cls.values()):
        raise DataError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) found")
    return out


def layout(fmt: str, root: Path | str, classes: tuple[str, ...] | None = None, probe: bool = True) -> Layout:
    """The files of each split and class (before carving val), checked for emptiness."""
    root = Path(root)
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (the {fmt} adapter reads a folder)")
    if fmt == "deeplense":
        out = _layout_deeplense(root, classes)
    elif fmt == "lens-finding":
        out = _layout_lens_finding(root, classes)
    else:
        out = _layout_cutouts(root, classes, probe)
    if fmt != "cutouts":
        for split, per_class in out.items():
            for c, items in per_class.items():
                if not items:
                    raise DataError(f"{root}: split {split!r} class {c!r} has no .npy files")
    return out


def _base(lay: Layout, root: Path) -> Path:
    """Folder that source names are relative to: ``root``, or its parent when the layout uses a
    sibling folder (``Model_I_test``)."""
    inside = all(
        it.path.is_relative_to(root) for per in lay.values() for items in per.values() for it in items
    )
    return root if inside else root.parent


def _carve_val(lay: Layout, seed: int) -> Layout:
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


# ------------------------------------------------------------------------------ interface for data.py


def _code_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


@functools.cache
def _digest(path: Path, size: int, mtime_ns: int) -> str:
    """sha256 of a file's bytes; remembered per (path, size, mtime) for the life of the process."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint_parts(spec: DatasetSpec, root: Path) -> dict:
    """Fingerprint inputs of an adapter dataset: manifest (relative path and sha256 of the bytes of
    every file it reads) and adapter code. Content, not modification times: a copy of the same files
    elsewhere, or the same files touched, has the same fingerprint; one changed byte does not."""
    lay = layout(spec.adapter, root, tuple(spec.classes), probe=False)
    base = _base(lay, root)
    h = hashlib.sha256()
    seen = set()
    for per_class in lay.values():
        for items in per_class.values():
            for it in items:
                if it.path in seen:
                    continue
                seen.add(it.path)
                st = it.path.stat()
                digest = _digest(it.path.resolve(), st.st_size, st.st_mtime_ns)
                h.update(f"{it.path.relative_to(base).as_posix()}|{digest}\n".encode())
    return {
        "manifest": h.hexdigest(),
        "n_files": len(seen),
        "adapter_code": _code_hash(),
        "val_fraction": VAL_FRACTION,
    }


def columns_for(fmt: str, classes: tuple[str, ...]) -> tuple[str, ...]:
    return ("m_a",) if fmt == "deeplense" and "axion" in classes else ()


def blocks(spec: DatasetSpec, root: Path, sizes: Mapping[str, int] | None) -> tuple[list[Block], tuple]:
    """The rows of each (split, class) of an adapter dataset, read lazily in chunks of ``CHUNK``."""
    fmt, target = spec.adapter, tuple(int(s) for s in spec.image_shape)
    columns = columns_for(fmt, tuple(spec.classes))
    extra = [c for c in spec.columns if c not in columns]
    if extra:
        raise DataError(
            f"dataset {spec.name!r}: columns {extra} cannot be read by the {fmt} adapter "
            f"(it provides {columns or 'none'})"
        )
    lay = layout(fmt, root, tuple(spec.classes))
    base = _base(lay, root)
    lay = _carve_val(lay, spec.seed)
    out = []
    for split in SPLITS:
        for c in spec.classes:
            items = lay[split].get(c, [])
            if sizes is not None:
                items = items[: sizes[split]]
            out.append(Block(split, c, len(items), _reader(items, base, target, fmt, columns, split, c)))
    return out, columns


def _reader(items: list[Item], root: Path, target, fmt: str, columns, split: str, cls: str):
    def gen() -> Iterator[Chunk]:
        for start in range(0, len(items), _data.CHUNK):
            part = items[start : start + _data.CHUNK]
            imgs = np.empty((len(part), *target), np.float32)
            m_a = np.full(len(part), np.nan, np.float32)
            for i, it in enumerate(part):
                img, m = read_item(it, allow_pickle=(fmt == "deeplense"))
                where = str(it.path) + ("" if it.index is None else f"[{it.index}]")
                imgs[i] = _fit_shape(img, target, where, resize=(fmt == "cutouts"))
                m_a[i] = m
            cols = {"m_a": m_a} if "m_a" in columns else {}
            names = [it.name(root) for it in part]
            yield Chunk(
                imgs, cols, names, f"{fmt} files {split}/{cls} ({names[0]} .. {names[-1]})", len(part)
            )

    return gen


# ---------------------------------------------------------------------------------------- importing


def import_dataset(
    path: Path | str,
    fmt: str,
    name: str,
    *,
    cache: Path | str | None = None,
    image_size: tuple[int, int] | None = None,
    pixel_scale: float = 0.0,
    seed: int = 0,
    description: str | None = None,
    licence: str = "unknown (see the source folder)",
    citation: str = "",
    progress: bool = True,
):
    """Read the folder ``path`` in format ``fmt`` into the cache as dataset ``name``.

    Classes come from the folders (DeepLense: axion, cdm, no_sub in that order; lens finding:
    nonlens, lens; cutouts: sorted class folder names, or ``unlabelled``). The image shape is that of
    the files; cutouts of several sizes need ``image_size=(H, W)`` and are resized to it. The spec and
    the folder are recorded in ``<cache>/imports/<name>.json`` so later commands find the dataset by
    name. Returns ``(DatasetSpec, DatasetDict)``.
    """
    root = Path(path).expanduser().resolve()
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    _refuse_registered(name)
    lay = layout(fmt, root)
    classes = (
        tuple(
            c
            for c in (DEEPLENSE_CLASSES if fmt == "deeplense" else LENS_FINDING_CLASSES)
            if any(c in per for per in lay.values())
        )
        if fmt != "cutouts"
        else tuple(sorted({c for per in lay.values() for c, items in per.items() if items}))
    )
    shape = _infer_shape(lay, fmt, image_size)
    try:
        spec = DatasetSpec(
            name=name,
            version=1,
            description=description or f"imported from folder '{root.name}' ({fmt} format)",
            classes=classes,
            image_shape=shape,
            pixel_scale=float(pixel_scale),
            adapter=fmt,
            seed=int(seed),
            columns=columns_for(fmt, classes),
            licence=licence,
            citation=citation,
        )
    except SpecError as e:
        raise DataError(str(e)) from e
    rec_dir = (Path(cache) if cache is not None else cache_dir()) / "imports"
    rec_dir.mkdir(parents=True, exist_ok=True)
    tmp = rec_dir / f".{name}.json.tmp"
    tmp.write_text(json.dumps({"spec": dataclasses.asdict(spec), "path": str(root), "format": fmt}, indent=2))
    os.replace(tmp, rec_dir / f"{name}.json")
    return spec, materialise(spec, None, cache=cache, data_root=None, progress=progress)


def _refuse_registered(name: str) -> None:
    try:
        from lensbench import registry

        taken = name in registry.datasets
    except ImportError:  # an entry point that cannot be imported yet: nothing to clash with
        taken = False
    if taken:
        raise DataError(f"dataset name {name!r} is already registered; import under another name (--as)")


def _infer_shape(lay: Layout, fmt: str, image_size) -> tuple[int, int, int]:
    groups = [per[c] for per in lay.values() for c in per]
    # deeplense / lens-finding: one file per class and split (every file is checked while writing)
    sample = [g[0] for g in groups if g] if fmt != "cutouts" else [it for g in groups for it in g]
    shapes: dict[tuple, str] = {}
    for it in sample:
        shapes.setdefault(_probe_shape(it, allow_pickle=(fmt == "deeplense")), str(it.path))
    chans = {s[0] for s in shapes}
    if image_size is not None:
        if len(chans) != 1:
            ex = "; ".join(f"{k} in {v}" for k, v in list(shapes.items())[:4])
            raise DataError(f"images have different channel counts {sorted(chans)} ({ex}); cannot resize")
        return (chans.pop(), int(image_size[0]), int(image_size[1]))
    if len(shapes) != 1:
        ex = "; ".join(f"{k} in {v}" for k, v in list(shapes.items())[:4])
        raise DataError(
            f"images have {len(shapes)} different shapes ({ex}); give image_size=(H, W) to resize"
        )
    return tuple(int(s) for s in next(iter(shapes)))


def _probe_shape(it: Item, allow_pickle: bool = False) -> tuple[int, int, int]:
    """(C, H, W) of an item from file headers where possible (no full read)."""
    low, where = it.path.name.lower(), str(it.path)
    if low.endswith((".png", ".jpg", ".jpeg")):
        from PIL import Image

        try:
            with Image.open(it.path) as im:
                c = 1 if im.mode in ("L", "LA", "1", "I;16", "I;16B", "I;16L", "I") else 3
                return (c, im.size[1], im.size[0])
        except OSError as e:
            raise DataError(f"{it.path}: cannot read image ({e})") from e
    if low.endswith(".npy") and it.index is not None:
        return _chw_shape(np.load(it.path, mmap_mode="r").shape[1:], where)
    if ".fit" in low:
        hdul, hdu = _fits_hdu(it.path)
        with hdul:
            shape = tuple(hdu.shape)
        return _chw_shape(shape[1:] if it.index is not None else shape, where)
    return read_item(it, allow_pickle=allow_pickle)[0].shape
