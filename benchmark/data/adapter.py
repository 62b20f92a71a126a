"""File datasets (``DatasetSpec.adapter``): the file manifest that fingerprints them and the blocks
of rows the writer stores.

The format named by the spec comes from ``lensbench.registry.formats``. Rows keep the format's
split folders (val carved from train when there is none, ``layouts.carve_val``), are read in chunks
of ``writer.CHUNK`` and carry their file name (relative to the dataset folder) in ``source``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from lensbench import registry
from lensbench.data import layouts, npyfiles, readers, writer
from lensbench.data.errors import DataError
from lensbench.data.layouts import FileLayout, Item, Layout
from lensbench.data.readers import fit_shape, where
from lensbench.data.writer import Block, Chunk
from lensbench.specs import SPLITS, DatasetSpec

# Modules whose source is part of every file dataset's fingerprint (with this one and the format's).
READING_CODE = (layouts, npyfiles, readers)


def get_format(name: str) -> registry.FileFormat:
    """The file format registered as ``name`` (``lensbench.registry.formats``), else a DataError."""
    try:
        return registry.formats.get(name)
    except registry.RegistryError as e:
        raise DataError(str(e)) from e


def file_layout(
    fmt: registry.FileFormat, root: Path | str, classes: tuple[str, ...] | None = None
) -> FileLayout:
    """The files of each split and class of the folder ``root`` in format ``fmt`` (before carving val)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (the {fmt.name} format reads a folder)")
    return fmt.layout(root, classes)


def expand(fmt: registry.FileFormat, files: FileLayout) -> Layout:
    """Files -> items (a stack file gives one item per image)."""
    return {
        s: {c: [it for p in paths for it in fmt.items(p)] for c, paths in per.items()}
        for s, per in files.items()
    }


def code_hash(fmt: registry.FileFormat) -> str:
    """sha256 of the code that reads a file dataset: this module, ``READING_CODE`` and the module
    that defines the format's class."""
    h = hashlib.sha256()
    for module in (inspect.getmodule(code_hash), *READING_CODE, inspect.getmodule(type(fmt))):
        path = inspect.getsourcefile(module) if module is not None else None
        h.update(Path(path).read_bytes() if path else b"<no source>")
    return h.hexdigest()


@functools.cache
def file_digest(path: Path, size: int, mtime_ns: int) -> str:
    """sha256 of a file's bytes; remembered per (path, size, mtime) for the life of the process."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint_parts(spec: DatasetSpec, root: Path) -> dict:
    """Fingerprint inputs of a file dataset: manifest (relative path and sha256 of the bytes of
    every file it reads), the reading code and ``VAL_FRACTION``. Content, not modification times: a
    copy of the same files elsewhere, or the same files touched, has the same fingerprint; one
    changed byte does not."""
    fmt = get_format(spec.adapter)
    files = file_layout(fmt, root, tuple(spec.classes))
    base = layouts.common_base(files, root)
    h = hashlib.sha256()
    seen = set()
    for per_class in files.values():
        for paths in per_class.values():
            for p in paths:
                if p in seen:
                    continue
                seen.add(p)
                st = p.stat()
                digest = file_digest(p.resolve(), st.st_size, st.st_mtime_ns)
                h.update(f"{p.relative_to(base).as_posix()}|{digest}\n".encode())
    return {"manifest": h.hexdigest(), "n_files": len(seen), "adapter_code": code_hash(fmt),
            "val_fraction": layouts.VAL_FRACTION}


def blocks(
    spec: DatasetSpec, root: Path, sizes: Mapping[str, int] | None
) -> tuple[list[Block], tuple[str, ...]]:
    """One lazy block per (split, class) of a file dataset (at most ``sizes[split]`` rows per class,
    every file when ``sizes`` is None); and the columns."""
    fmt = get_format(spec.adapter)
    target = tuple(int(s) for s in spec.image_shape)
    columns = tuple(fmt.columns(tuple(spec.classes)))
    extra = [c for c in spec.columns if c not in columns]
    if extra:
        raise DataError(
            f"dataset {spec.name!r}: columns {extra} cannot be read by the {fmt.name} format "
            f"(it provides {columns or 'none'})"
        )
    files = file_layout(fmt, root, tuple(spec.classes))
    base = layouts.common_base(files, root)
    lay = layouts.carve_val(expand(fmt, files), spec.seed)
    out = []
    for split in SPLITS:
        for c in spec.classes:
            items = lay[split].get(c, [])
            if sizes is not None:
                items = items[: sizes[split]]
            read = _reader(fmt, items, base, target, columns, f"{split}/{c}")
            out.append(Block(split, c, len(items), read))
    return out, columns


def _reader(fmt, items: list[Item], base: Path, target, columns, what: str) -> Callable[[], Iterator[Chunk]]:
    def gen() -> Iterator[Chunk]:
        for start in range(0, len(items), writer.CHUNK):
            part = items[start: start + writer.CHUNK]
            imgs = np.empty((len(part), *target), np.float32)
            cols = {c: np.full(len(part), np.nan, np.float32) for c in columns}
            for i, it in enumerate(part):
                img, values = fmt.read(it)
                imgs[i] = fit_shape(img, target, where(it.path, it.index), resize=fmt.resize)
                for c, v in values.items():
                    if c in cols:
                        cols[c][i] = v
            names = [it.name(base) for it in part]
            yield Chunk(imgs, cols, names, f"{fmt.name} files {what} ({names[0]} .. {names[-1]})", len(part))

    return gen
