"""Datasets by name: registered ones and those imported from a folder, and the folder a file
dataset is read from.

``lensbench data import`` (``importing.import_dataset``) records each imported dataset in
``<cache>/imports/<name>.json`` (its spec, its folder and its format); ``resolve_spec(name)`` finds
registered and imported datasets alike.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from lensbench import registry
from lensbench.data.errors import DataError
from lensbench.data.paths import imports_dir, real_data_root
from lensbench.specs import DatasetSpec


def import_record(name: str, cache: Path | str | None = None) -> dict | None:
    """The record of the imported dataset ``name`` (``spec``, ``path``, ``format``), or None."""
    p = imports_dir(cache) / f"{name}.json"
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{p}: corrupt import record ({e}); re-run 'lensbench data import'") from e


def write_import_record(spec: DatasetSpec, folder: Path, cache: Path | str | None = None) -> Path:
    """Record (atomically) that ``spec`` is read from ``folder``; returns the record's path."""
    rec_dir = imports_dir(cache)
    rec_dir.mkdir(parents=True, exist_ok=True)
    tmp = rec_dir / f".{spec.name}.json.tmp"
    record = {"spec": dataclasses.asdict(spec), "path": str(folder), "format": spec.adapter}
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, rec_dir / f"{spec.name}.json")
    return rec_dir / f"{spec.name}.json"


def resolve_spec(name: str, cache: Path | str | None = None) -> DatasetSpec:
    """A dataset by name: the registry (entry points) first, then datasets imported into the cache."""
    if name in registry.datasets:
        return registry.datasets.get(name)
    rec = import_record(name, cache)
    if rec is None:
        known = registry.datasets.names()
        raise DataError(
            f"unknown dataset {name!r}: not registered ({', '.join(known) or 'none'}) "
            f"and not imported (lensbench data import PATH --format ... --as {name})"
        )
    d = dict(rec["spec"])
    for key in ("classes", "image_shape", "columns"):
        d[key] = tuple(d[key])
    return DatasetSpec(**d)


def resolve_data_root(
    spec: DatasetSpec, data_root: Path | str | None = None, cache: Path | str | None = None
) -> Path:
    """Folder a file dataset is read from: ``data_root/<name>`` if that folder exists, else
    ``data_root``; without ``data_root``: the folder recorded by ``import_dataset``, else
    ``<real-data root>/<name>`` (``paths.real_data_root``: ``$LENSBENCH_REAL_DATA``)."""
    candidates = []
    if data_root is not None:
        candidates += [Path(data_root) / spec.name, Path(data_root)]
    else:
        rec = import_record(spec.name, cache)
        if rec is not None:
            candidates.append(Path(rec["path"]))
        real = real_data_root()
        if real is not None:
            candidates.append(real / spec.name)
    for c in candidates:
        if c.is_dir():
            return c
    tried = (
        ", ".join(str(c) for c in candidates)
        or "nothing (no data_root, no import record, no $LENSBENCH_REAL_DATA)"
    )
    raise DataError(
        f"dataset {spec.name!r} ({spec.adapter} files): no data folder found; tried {tried}. "
        f"Pass --data-root or set LENSBENCH_REAL_DATA"
    )
