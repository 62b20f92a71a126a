"""The one writer of datasets: checked chunks of rows streamed into a ``load_from_disk`` folder.

Simulated datasets (``simulated``) and file datasets (``adapter``) both hand the writer a list of
``Block`` s, one per (split, class), each producing its rows lazily as ``Chunk`` s of at most
``CHUNK`` images. Every chunk is checked (shape, dtype, row count, NaN/inf, declared columns)
before it is appended to the split's Arrow file, so memory stays bounded by one chunk.

Columns written: ``image`` (float32 (C, H, W)), ``label`` (int64 ClassLabel, index in
``spec.classes``), ``class_name`` (str), one float32 column per declared parameter (NaN where a
chunk gives none) and, for file datasets, ``source`` (the file each row came from).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lensbench.data.errors import DataError
from lensbench.specs import SPLITS, DatasetSpec

CHUNK = 500  # images per generate() call or file read; part of the fingerprint (changing it changes the data)
ARROW = "data-00000-of-00001.arrow"  # the one Arrow file of each split


@dataclass
class Chunk:
    """Rows produced at once: images (n, C, H, W), float columns (n,), optional source names."""

    images: np.ndarray
    columns: dict[str, np.ndarray]
    sources: list[str] | None
    origin: str  # for error messages: which recipe call or which files
    expected: int | None = None  # rows asked for (checked against len(images))


@dataclass
class Block:
    """All rows of one class in one split, produced lazily as chunks."""

    split: str
    class_name: str
    n: int
    chunks: Callable[[], Iterator[Chunk]]


def features(spec: DatasetSpec, columns: Sequence[str], with_source: bool):
    """The ``datasets.Features`` of a build of ``spec`` with these float columns."""
    from datasets import Array3D, ClassLabel, Features, Value

    f = {
        "image": Array3D(tuple(int(s) for s in spec.image_shape), "float32"),
        "label": ClassLabel(names=list(spec.classes)),
        "class_name": Value("string"),
    }
    f.update({c: Value("float32") for c in columns})
    if with_source:
        f["source"] = Value("string")
    return Features(f)


def check_chunk(ch: Chunk, spec: DatasetSpec, columns: Sequence[str], expected: int) -> np.ndarray:
    """The chunk's images as contiguous float32 after checking it; ``DataError`` naming its origin."""
    img = ch.images
    if not isinstance(img, np.ndarray) or img.ndim != 4 or tuple(img.shape[1:]) != tuple(spec.image_shape):
        shape = getattr(img, "shape", type(img).__name__)
        raise DataError(
            f"{ch.origin}: images have shape {shape}, expected (n, {', '.join(map(str, spec.image_shape))})"
        )
    if img.shape[0] != expected:
        raise DataError(f"{ch.origin}: got {img.shape[0]} images, expected {expected}")
    if not (np.issubdtype(img.dtype, np.floating) or np.issubdtype(img.dtype, np.integer)):
        raise DataError(f"{ch.origin}: images have dtype {img.dtype}, expected a float or integer array")
    img = np.ascontiguousarray(img, dtype=np.float32)
    bad = ~np.isfinite(img).reshape(len(img), -1).all(axis=1)
    if bad.any():
        which = (
            [ch.sources[i] for i in np.flatnonzero(bad)[:3]]
            if ch.sources
            else np.flatnonzero(bad)[:5].tolist()
        )
        raise DataError(f"{ch.origin}: {int(bad.sum())} image(s) contain NaN or inf pixels (e.g. {which})")
    extra = sorted(set(ch.columns) - set(columns))
    if extra:
        raise DataError(f"{ch.origin}: unexpected columns {extra}; declared columns are {tuple(columns)}")
    for c, v in ch.columns.items():
        if np.shape(v) != (expected,):
            raise DataError(f"{ch.origin}: column {c!r} has shape {np.shape(v)}, expected ({expected},)")
    return img


def write(
    spec: DatasetSpec,
    blocks: list[Block],
    columns: Sequence[str],
    with_source: bool,
    out: Path,
    progress: bool,
) -> dict[str, dict[str, int]]:
    """Stream ``blocks`` into a load_from_disk-compatible folder ``out``; returns the rows per split
    and class."""
    from datasets import DatasetInfo
    from datasets.arrow_writer import ArrowWriter
    from tqdm.auto import tqdm

    feats = features(spec, columns, with_source)
    counts: dict[str, dict[str, int]] = {}
    writers = []
    bar = tqdm(total=sum(b.n for b in blocks), desc=f"building {spec.key}", unit="img", disable=not progress)
    try:
        for split in SPLITS:
            (out / split).mkdir(parents=True)
            writer = ArrowWriter(features=feats, path=str(out / split / ARROW))
            writers.append(writer)
            counts[split] = {}
            for b in (b for b in blocks if b.split == split):
                counts[split][b.class_name] = _write_block(b, spec, columns, with_source, writer, bar)
            writer.finalize()
            DatasetInfo(features=feats, description=spec.description).write_to_directory(str(out / split))
            state = {
                "_data_files": [{"filename": ARROW}],
                "_fingerprint": f"{spec.name}-v{spec.version}-{split}-{out.name}"[:64],
                "_format_columns": None,
                "_format_kwargs": {},
                "_format_type": None,
                "_output_all_columns": False,
                "_split": split,
            }
            (out / split / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
        (out / "dataset_dict.json").write_text(json.dumps({"splits": list(SPLITS)}))
    finally:
        bar.close()
        for w in writers:
            w.close()
    return counts


def _write_block(b: Block, spec: DatasetSpec, columns: Sequence[str], with_source: bool, writer, bar) -> int:
    label = spec.classes.index(b.class_name)
    done = 0
    for ch in b.chunks():
        n = ch.expected if ch.expected is not None else len(ch.images)
        if done + n > b.n:
            raise DataError(f"{ch.origin}: more rows than the {b.n} planned for {b.split}/{b.class_name}")
        img = check_chunk(ch, spec, columns, n)
        batch = {"image": img, "label": np.full(n, label, np.int64), "class_name": [b.class_name] * n}
        for c in columns:
            v = ch.columns.get(c)
            batch[c] = np.full(n, np.nan, np.float32) if v is None else np.asarray(v, np.float32)
        if with_source:
            batch["source"] = list(ch.sources or [""] * n)
        writer.write_batch(batch)
        done += n
        bar.update(n)
    if done != b.n:
        raise DataError(f"{b.split}/{b.class_name}: produced {done} rows, expected {b.n}")
    return done


def content_hashes(path: Path, skip: str, names: Iterable[str] | None = None) -> dict[str, str]:
    """sha256 by relative path of the files ``names`` of the build at ``path`` (default: every file
    but ``skip``, its metadata file): recorded when the build is written, checked on every load
    (about 1 s per GB). A file of ``names`` that is missing raises ``FileNotFoundError``."""
    if names is None:
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and p.name != skip]
    out = {}
    for name in sorted(names):
        h = hashlib.sha256()
        with (path / name).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out[name] = h.hexdigest()
    return out


def file_sizes(path: Path) -> dict[str, int]:
    """Byte size of each split's Arrow file of the build at ``path`` (recorded, then verified)."""
    return {f"{s}/{ARROW}": (path / s / ARROW).stat().st_size for s in SPLITS}
