"""Materialise a ``DatasetSpec`` as a Hugging Face ``datasets.DatasetDict`` on disk, and read it back.

Simulated datasets call ``lensing.recipes.get(spec.recipe).generate`` in chunks of ``CHUNK`` images;
adapter datasets read files through ``lensbench.data.files``. Both go through one writer that checks
every chunk (shape, dtype, NaN) and streams it into Arrow files, so memory stays bounded.

Storage layout (one folder per dataset, version and split sizes)::

    <cache>/datasets/<name>/v<version>/<sizes tag>/      e.g. train1000-val200-test200, or "all"
        dataset_dict.json, {train,val,test}/data-00000-of-00001.arrow (+ state.json, dataset_info.json)
        lensbench.json      fingerprint, sizes, counts per split/class, file sizes, spec, versions
        card.md, gallery.png    written by ``lensbench.data.card.show``

It is a plain ``datasets.load_from_disk`` folder. Columns: ``image`` (float32 (C, H, W)), ``label``
(int64 ClassLabel, index in ``spec.classes``), ``class_name`` (str), one float32 column per recipe
or adapter parameter (NaN where a class has no such parameter) and, for adapter datasets, ``source``
(the file each row came from).

Row order is class-blocked: within a split, all rows of ``classes[0]``, then ``classes[1]``... The
trainer shuffles. Chunk ``k`` of (split, class) is generated with a seed derived from (dataset name,
spec seed, split, class name, k), so the same spec and sizes give bit-identical arrays on one machine,
and a build with n images per class is a prefix (per class) of a larger one whenever n is a multiple
of ``CHUNK`` or the recipe's ``generate(n, seed)`` is itself prefix-consistent.

A cached folder is used only when ``lensbench.json`` exists, its fingerprint equals the expected one,
and the Arrow files have the recorded sizes and row counts; otherwise it is rebuilt (with a warning).
Builds go to a temporary folder that is renamed into place when complete; a failed build leaves the
previous folder untouched, and if another process completed the same build meanwhile, that one is kept.

Imported file datasets (``adapters.import_dataset``) are recorded in ``<cache>/imports/<name>.json``;
``resolve_spec(name)`` finds registered and imported datasets alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lensbench.specs import SPLITS, DatasetSpec

log = logging.getLogger(__name__)

CHUNK = 500  # images per generate() call; part of the fingerprint (changing it changes the data)
FORMAT_VERSION = 1  # on-disk layout of this module; part of the fingerprint
META = "lensbench.json"
_ARROW = "data-00000-of-00001.arrow"


class DataError(ValueError):
    """Bad dataset input: the message names the file or field and what was expected."""


# --------------------------------------------------------------------------------------------- paths


def cache_dir() -> Path:
    """Root of LensBench's cache: ``$LENSBENCH_CACHE``, else ``$XDG_CACHE_HOME/lensbench``, else
    ``~/.cache/lensbench``."""
    env = os.environ.get("LENSBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "lensbench"


def sizes_tag(sizes: Mapping[str, int] | None) -> str:
    if sizes is None:
        return "all"
    return "-".join(f"{s}{int(sizes[s])}" for s in SPLITS)


def dataset_path(spec: DatasetSpec, sizes: Mapping[str, int] | None, cache: Path | str | None = None) -> Path:
    """The folder where ``spec`` built with ``sizes`` lives (whether or not it exists yet)."""
    root = Path(cache) if cache is not None else cache_dir()
    return root / "datasets" / spec.name / f"v{spec.version}" / sizes_tag(sizes)


# ------------------------------------------------------------------------------------ fingerprinting


# The physics every recipe shares. A dataset's fingerprint hashes these sources plus its own recipe
# (``recipe_identity``), so editing one recipe does not invalidate the datasets of the others.
SIMULATOR_CORE = ("grid", "mass", "light", "psf", "noise", "render", "instruments", "cosmo", "sources",
                  "recipes/base", "recipes/priors")


def _lensing_root() -> Path | None:
    found = importlib.util.find_spec("lensbench.lensing")
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def simulator_version() -> str:
    """sha256 over the sources of the shared lensing physics (``SIMULATOR_CORE``), so a change to
    the physics invalidates cached simulated datasets."""
    root = _lensing_root()
    if root is None:
        return "no-lensing-package"
    h = hashlib.sha256()
    for name in SIMULATOR_CORE:
        p = root / f"{name}.py"
        h.update(name.encode() + b"\0" + (p.read_bytes() if p.is_file() else b"<absent>") + b"\0")
    return h.hexdigest()


def recipe_identity(rec) -> str:
    """sha256 of the recipe's full parameter set (the repr of a dataclass recipe: every prior as data)
    and, for a recipe class of its own, the source of the module that defines it."""
    h = hashlib.sha256((repr(rec) if dataclasses.is_dataclass(rec) else f"{rec.name}|{rec.version}").encode())
    module = type(rec).__module__
    if module.startswith("lensbench.lensing.") and module != "lensbench.lensing.recipes.base":
        root = _lensing_root()
        path = root / (module.removeprefix("lensbench.lensing.").replace(".", "/") + ".py") if root else None
        if path is not None and path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def chunk_seed(spec: DatasetSpec, split: str, class_name: str, chunk: int) -> int:
    """Seed for chunk ``chunk`` of (split, class): 62 bits of sha256(name, seed, split, class, chunk)."""
    key = f"{spec.name}|{spec.seed}|{split}|{class_name}|{chunk}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 2


def _check_sizes(spec: DatasetSpec, sizes: Mapping[str, int] | None) -> dict[str, int] | None:
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


def fingerprint(
    spec: DatasetSpec,
    sizes: Mapping[str, int] | None,
    *,
    data_root: Path | str | None = None,
    recipe: object | None = None,
    cache: Path | str | None = None,
    device: str | None = None,
) -> str:
    """sha256 identifying the exact content of a build.

    Simulated: recipe name and version, dataset name/version/seed/classes/shape, sizes, ``CHUNK``,
    and ``simulator_version()``. Adapter: format, spec, sizes, adapter options and the file manifest
    (relative path, sha256 of the bytes) of every file the adapter reads under ``data_root``.
    """
    sizes = _check_sizes(spec, sizes)
    if spec.recipe is not None:
        return _fingerprint(
            spec, sizes, recipe if recipe is not None else get_recipe(spec.recipe), None, device
        )
    return _fingerprint(spec, sizes, None, resolve_data_root(spec, data_root, cache))


def _fingerprint(
    spec: DatasetSpec, sizes: dict[str, int] | None, rec, root: Path | None, device: str | None = None
) -> str:
    blob: dict = {
        "format": FORMAT_VERSION,
        "name": spec.name,
        "version": spec.version,
        "seed": spec.seed,
        "classes": list(spec.classes),
        "image_shape": list(spec.image_shape),
        "sizes": sizes,
    }
    if rec is not None:
        blob.update(
            recipe=rec.name,
            recipe_version=int(rec.version),
            columns=list(rec.columns),
            chunk=CHUNK,
            simulator=simulator_version(),
            recipe_identity=recipe_identity(rec),
        )
        if _device_kind(device) != "cpu":  # other hardware gives other floating-point results
            blob["device"] = _device_kind(device)
    else:
        from lensbench.data import files as adapters

        blob.update(adapter=spec.adapter, **adapters.fingerprint_parts(spec, root))
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def _device_kind(device) -> str:
    return "cpu" if device is None else str(device).split(":")[0]


# ------------------------------------------------------------------------------------------- recipes


def get_recipe(name: str):
    """``lensing.recipes.get(name)``, with a DataError if the recipes module or the name is missing."""
    try:
        from lensbench.lensing import recipes
    except ImportError as e:  # pragma: no cover - depends on H2's module being present
        raise DataError(f"recipe {name!r}: cannot import lensing.recipes ({e})") from e
    try:
        return recipes.get(name)
    except KeyError as e:
        raise DataError(f"unknown recipe {name!r}; known: {', '.join(recipes.names())}") from e


def _recipe_blocks(
    spec: DatasetSpec, sizes: dict[str, int], rec, data_root, device=None
) -> tuple[list[Block], tuple]:
    missing = [c for c in spec.classes if c not in tuple(rec.classes)]
    if missing:
        raise DataError(
            f"dataset {spec.name!r}: classes {missing} are not classes of recipe {rec.name!r} "
            f"(it has {tuple(rec.classes)})"
        )
    if tuple(int(s) for s in rec.image_shape) != tuple(spec.image_shape):
        raise DataError(
            f"dataset {spec.name!r}: image_shape {tuple(spec.image_shape)} differs from recipe "
            f"{rec.name!r} image_shape {tuple(rec.image_shape)}"
        )
    columns = tuple(rec.columns)
    unknown = [c for c in spec.columns if c not in columns]
    if unknown:
        raise DataError(
            f"dataset {spec.name!r}: columns {unknown} are not produced by recipe {rec.name!r} "
            f"(it has {columns})"
        )

    def chunks(split: str, cls: str, n: int) -> Callable[[], Iterator[Chunk]]:
        def gen() -> Iterator[Chunk]:
            for k, start in enumerate(range(0, n, CHUNK)):
                m = min(CHUNK, n - start)
                seed = chunk_seed(spec, split, cls, k)
                images, cols = rec.generate(cls, m, seed, data_root=data_root, device=device)
                origin = f"recipe {rec.name!r} class {cls!r} {split} chunk {k}"
                yield Chunk(images, dict(cols), None, origin, expected=m)

        return gen

    blocks = [
        Block(split, cls, sizes[split], chunks(split, cls, sizes[split]))
        for split in SPLITS
        for cls in spec.classes
    ]
    return blocks, columns


# -------------------------------------------------------------------------------------------- writer


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


def _features(spec: DatasetSpec, columns: Sequence[str], with_source: bool):
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


def _check_chunk(ch: Chunk, spec: DatasetSpec, columns: Sequence[str], expected: int) -> np.ndarray:
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


def _write(
    spec: DatasetSpec,
    blocks: list[Block],
    columns: Sequence[str],
    with_source: bool,
    out: Path,
    progress: bool,
) -> dict:
    """Stream ``blocks`` into a load_from_disk-compatible folder ``out``; returns the counts."""
    from datasets import DatasetInfo
    from datasets.arrow_writer import ArrowWriter
    from tqdm.auto import tqdm

    feats = _features(spec, columns, with_source)
    counts: dict[str, dict[str, int]] = {}
    writers = []
    bar = tqdm(total=sum(b.n for b in blocks), desc=f"building {spec.key}", unit="img", disable=not progress)
    try:
        for split in SPLITS:
            (out / split).mkdir(parents=True)
            writer = ArrowWriter(features=feats, path=str(out / split / _ARROW))
            writers.append(writer)
            counts[split] = {}
            for b in (b for b in blocks if b.split == split):
                label = spec.classes.index(b.class_name)
                done = 0
                for ch in b.chunks():
                    n = ch.expected if ch.expected is not None else len(ch.images)
                    if done + n > b.n:
                        raise DataError(
                            f"{ch.origin}: more rows than the {b.n} planned for {split}/{b.class_name}"
                        )
                    img = _check_chunk(ch, spec, columns, n)
                    batch = {
                        "image": img,
                        "label": np.full(n, label, np.int64),
                        "class_name": [b.class_name] * n,
                    }
                    for c in columns:
                        v = ch.columns.get(c)
                        batch[c] = np.full(n, np.nan, np.float32) if v is None else np.asarray(v, np.float32)
                    if with_source:
                        batch["source"] = list(ch.sources or [""] * n)
                    writer.write_batch(batch)
                    done += n
                    bar.update(n)
                if done != b.n:
                    raise DataError(f"{split}/{b.class_name}: produced {done} rows, expected {b.n}")
                counts[split][b.class_name] = done
            writer.finalize()
            DatasetInfo(features=feats, description=spec.description).write_to_directory(str(out / split))
            state = {
                "_data_files": [{"filename": _ARROW}],
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


# ----------------------------------------------------------------------------------- cache handling


def _file_sizes(path: Path) -> dict[str, int]:
    return {f"{s}/{_ARROW}": (path / s / _ARROW).stat().st_size for s in SPLITS}


def _load_valid(path: Path, fp: str):
    """The DatasetDict at ``path`` if its meta file matches ``fp`` and its files are intact, else None."""
    import datasets

    meta_file = path / META
    if not path.exists():
        return None
    why = None
    try:
        meta = json.loads(meta_file.read_text())
    except FileNotFoundError:
        why = f"{meta_file} is missing"
    except (OSError, json.JSONDecodeError) as e:
        why = f"{meta_file} is unreadable ({e})"
    if why is None and not isinstance(meta, dict):
        why = f"{meta_file} is not a JSON object"
    if why is None and meta.get("fingerprint") != fp:
        old = str(meta.get("fingerprint"))[:12]
        why = f"fingerprint changed ({old} -> {fp[:12]}): code, recipe or files changed"
    if why is None:
        try:
            if _file_sizes(path) != meta.get("files"):
                why = "Arrow file sizes differ from those recorded"
        except OSError as e:
            why = f"Arrow files missing ({e})"
    if why is None:
        try:
            dsd = datasets.load_from_disk(str(path))
            for s in SPLITS:
                if dsd[s].num_rows != sum(meta["counts"][s].values()):
                    raise ValueError(f"split {s} has {dsd[s].num_rows} rows, meta says {meta['counts'][s]}")
            return dsd
        except Exception as e:  # noqa: BLE001 - any failure to read means rebuild
            why = f"cannot be read ({type(e).__name__}: {e})"
    log.warning("cached dataset %s is not used: %s; rebuilding", path, why)
    return None


def _intact(path: Path, fp: str) -> bool:
    """True when ``path`` holds a complete build with fingerprint ``fp`` (meta and file sizes agree)."""
    try:
        meta = json.loads((path / META).read_text())
        return meta.get("fingerprint") == fp and meta.get("files") == _file_sizes(path)
    except (OSError, ValueError, AttributeError):
        return False


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("numpy", "torch", "datasets", "lensbench"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def materialise(
    spec: DatasetSpec,
    sizes: Mapping[str, int] | None = None,
    *,
    cache: Path | str | None = None,
    data_root: Path | str | None = None,
    force: bool = False,
    progress: bool = True,
    recipe: object | None = None,
    device: str | None = None,
):
    """Build (or load from cache) ``spec`` with ``sizes`` images PER CLASS per split.

    ``sizes`` is ``{"train": n, "val": n, "test": n}``; required for simulated datasets, optional for
    adapter datasets (``None`` = every file; otherwise a cap per class). ``data_root`` is passed to
    the recipe (real-galaxy sources) or is the folder the adapter reads (see ``resolve_data_root``).
    ``recipe`` overrides ``lensing.recipes.get(spec.recipe)`` (tests). ``force`` rebuilds.
    ``device`` (e.g. "cuda") is passed to ``generate``; a non-CPU device is part of the fingerprint,
    because its floating-point results differ from the CPU's.
    Returns a memory-mapped ``datasets.DatasetDict`` with splits train/val/test.
    """
    import datasets

    sizes = _check_sizes(spec, sizes)
    rec = None
    if spec.recipe is not None:
        rec = recipe if recipe is not None else get_recipe(spec.recipe)
    path = dataset_path(spec, sizes, cache)
    root = resolve_data_root(spec, data_root, cache) if spec.adapter is not None else data_root
    fp = _fingerprint(spec, sizes, rec, root if spec.adapter is not None else None, device)
    if not force:
        dsd = _load_valid(path, fp)
        if dsd is not None:
            return dsd

    if rec is not None:
        blocks, columns = _recipe_blocks(spec, sizes, rec, root, device)
        with_source, extra = (
            False,
            {
                "recipe": rec.name,
                "recipe_version": int(rec.version),
                "simulator_version": simulator_version(),
                "chunk": CHUNK,
                "device": _device_kind(device),
            },
        )
    else:
        from lensbench.data import files as adapters

        blocks, columns = adapters.blocks(spec, root, sizes)
        with_source, extra = True, {"adapter": spec.adapter, "data_root": str(root)}

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        t0 = time.time()
        counts = _write(spec, blocks, columns, with_source, tmp / "data", progress)
        build = tmp / "data"
        meta = {
            "lensbench_format": FORMAT_VERSION,
            "fingerprint": fp,
            "dataset": spec.key,
            "sizes": sizes,
            "counts": counts,
            "order": "class-blocked (classes in label order within each split); shuffle when training",
            "columns": list(columns),
            "files": _file_sizes(build),
            "spec": dataclasses.asdict(spec),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.time() - t0, 2),
            "versions": _versions(),
            **extra,
        }
        (build / META).write_text(json.dumps(meta, indent=2))
        if force or not _intact(path, fp):  # else another process finished this build first: keep it
            if path.exists():
                os.replace(path, tmp / "old")  # deleted with tmp below
            os.replace(build, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return datasets.load_from_disk(str(path))


# ------------------------------------------------------------------------------------------- reading


@dataclass
class SplitArrays:
    """One split in memory. ``labels[i]`` indexes ``class_names`` (the dataset's full class list,
    also when ``load_split`` filtered classes); ``columns`` holds the float parameters;
    ``sources`` the file of each row for adapter datasets (else None)."""

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


def read_meta(dsdict_or_path) -> dict:
    """The ``lensbench.json`` of a materialised dataset (a DatasetDict from ``materialise`` or a path)."""
    path = (
        dataset_dir(dsdict_or_path) if not isinstance(dsdict_or_path, (str, Path)) else Path(dsdict_or_path)
    )
    try:
        return json.loads((path / META).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{path / META}: cannot read dataset metadata ({e})") from e


def dataset_dir(dsdict) -> Path:
    """The folder a materialised DatasetDict was loaded from."""
    for ds in dsdict.values():
        if ds.cache_files:
            return Path(ds.cache_files[0]["filename"]).parent.parent
    raise DataError("this DatasetDict is not backed by files on disk (was it built by materialise?)")


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


# ------------------------------------------------------------------------------ resolving dataset names


def _imports_dir(cache: Path | str | None) -> Path:
    return (Path(cache) if cache is not None else cache_dir()) / "imports"


def import_record(name: str, cache: Path | str | None = None) -> dict | None:
    """The record written by ``adapters.import_dataset`` for ``name`` (spec, path, options), or None."""
    p = _imports_dir(cache) / f"{name}.json"
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{p}: corrupt import record ({e}); re-run 'lensbench data import'") from e


def resolve_spec(name: str, cache: Path | str | None = None) -> DatasetSpec:
    """A dataset by name: the registry (entry points) first, then datasets imported into the cache."""
    from lensbench import registry

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
    d["classes"], d["image_shape"], d["columns"] = (
        tuple(d["classes"]),
        tuple(d["image_shape"]),
        tuple(d["columns"]),
    )
    return DatasetSpec(**d)


def resolve_data_root(
    spec: DatasetSpec, data_root: Path | str | None = None, cache: Path | str | None = None
) -> Path:
    """Folder an adapter dataset is read from: ``data_root/<name>`` if that folder exists, else
    ``data_root``; without ``data_root``: the path recorded by ``import_dataset``, else
    ``$LENSBENCH_REAL_DATA/<name>``."""
    candidates = []
    if data_root is not None:
        candidates += [Path(data_root) / spec.name, Path(data_root)]
    else:
        rec = import_record(spec.name, cache)
        if rec is not None:
            candidates.append(Path(rec["path"]))
        if os.environ.get("LENSBENCH_REAL_DATA"):
            candidates.append(Path(os.environ["LENSBENCH_REAL_DATA"]) / spec.name)
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
