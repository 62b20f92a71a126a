"""Where data lives: the cache, the folder of each build, and the user's real-data folder.

Layout of the cache (``cache_dir()``)::

    datasets/<name>/v<version>/<sizes tag>/   one build (``dataset_path``); ``META`` inside
    imports/<name>.json                       datasets imported from a folder (``imports_dir``)
    views/<name>/v<version>/                  prepared copies of real files (preparers)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lensbench.data.errors import DataError
from lensbench.specs import SPLITS, DatasetSpec

META = "lensbench.json"  # per-build metadata file: fingerprint, counts, file sizes, spec, versions
REAL_DATA_ENV = "LENSBENCH_REAL_DATA"


def cache_dir(cache: Path | str | None = None) -> Path:
    """Root of LensBench's cache: ``cache`` when given, else ``$LENSBENCH_CACHE``, else
    ``$XDG_CACHE_HOME/lensbench``, else ``~/.cache/lensbench``."""
    if cache is not None:
        return Path(cache)
    env = os.environ.get("LENSBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "lensbench"


def real_data_root(data_root: Path | str | None = None) -> Path | None:
    """The user's real-data folder: ``data_root`` when given, else ``$LENSBENCH_REAL_DATA``, else
    None. The one place LensBench reads that variable."""
    if data_root is not None:
        return Path(data_root)
    env = os.environ.get(REAL_DATA_ENV)
    return Path(env).expanduser() if env else None


def check_sizes(spec: DatasetSpec, sizes: Mapping[str, int] | None) -> dict[str, int] | None:
    """``sizes`` (images per class for each split) as a plain dict of ints; None = every file
    (file datasets only). ``DataError`` naming the dataset and the split otherwise."""
    if sizes is None:
        if spec.recipe is not None:
            raise DataError(f"dataset {spec.name!r}: sizes (images per class for {SPLITS}) are required")
        return None
    if set(sizes) != set(SPLITS):
        raise DataError(f"dataset {spec.name!r}: sizes must give exactly {SPLITS}, got {sorted(sizes)}")
    out = {}
    for s in SPLITS:
        v = sizes[s]
        if isinstance(v, bool) or int(v) != v or int(v) < 0:
            raise DataError(f"dataset {spec.name!r}: sizes[{s!r}] must be an integer >= 0, got {v!r}")
        out[s] = int(v)
    return out


def sizes_tag(sizes: Mapping[str, int] | None) -> str:
    """Folder name of a build: ``train1000-val200-test200``, or ``all`` for every file."""
    if sizes is None:
        return "all"
    return "-".join(f"{s}{int(sizes[s])}" for s in SPLITS)


def dataset_path(spec: DatasetSpec, sizes: Mapping[str, int] | None, cache: Path | str | None = None) -> Path:
    """The folder where ``spec`` built with ``sizes`` lives (whether or not it exists yet)."""
    return cache_dir(cache) / "datasets" / spec.name / f"v{spec.version}" / sizes_tag(sizes)


def imports_dir(cache: Path | str | None = None) -> Path:
    """Folder of the records of datasets imported from a folder (``lensbench data import``)."""
    return cache_dir(cache) / "imports"


def views_dir(name: str, version: int, cache: Path | str | None = None) -> Path:
    """Folder of the prepared copy (view) of a file dataset's real files, written by its preparer."""
    return cache_dir(cache) / "views" / name / f"v{version}"
