"""Materialise a ``DatasetSpec`` as a Hugging Face ``datasets.DatasetDict`` on disk, or load it
from the cache.

Storage layout (one folder per dataset, version and split sizes, ``paths.dataset_path``)::

    <cache>/datasets/<name>/v<version>/<sizes tag>/      e.g. train1000-val200-test200, or "all"
        dataset_dict.json, {train,val,test}/data-00000-of-00001.arrow (+ state.json, dataset_info.json)
        lensbench.json      fingerprint, sizes, counts per split/class, file sizes, spec, versions
        card.md, gallery.png    written by ``lensbench.data.card.show``

It is a plain ``datasets.load_from_disk`` folder with the columns of ``lensbench.data.writer``. Row
order is class-blocked: within a split, all rows of ``classes[0]``, then ``classes[1]``... The
trainer shuffles.

A cached folder is used only when ``lensbench.json`` exists, its fingerprint equals the expected one
(``lensbench.data.fingerprint``), and the Arrow files have the recorded sizes and row counts;
otherwise it is rebuilt (with a warning). Builds go to a temporary folder that is renamed into
place when complete; a failed build leaves the previous folder untouched, and if another process
completed the same build meanwhile, that one is kept.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from lensbench import liveness, registry
from lensbench.data import adapter, simulated
from lensbench.data.errors import DataError
from lensbench.data.fingerprint import FORMAT_VERSION, content_fingerprint, device_kind, recipe_parts
from lensbench.data.paths import META, check_sizes, dataset_path, real_data_root
from lensbench.data.resolve import resolve_data_root
from lensbench.data.writer import content_hashes, file_sizes, write
from lensbench.lensing import render
from lensbench.specs import SPLITS, DatasetSpec

log = logging.getLogger(__name__)


def load_valid(path: Path, fp: str):
    """The DatasetDict at ``path`` if its meta file matches ``fp`` and its files are intact, else
    None (with a warning saying why, when the folder exists)."""
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
        why = content_problem(path, meta)
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


_VERIFIED: set[tuple] = set()  # (build, its recorded hashes, the files' mtime and size) hashed clean here


def content_problem(path: Path, meta: dict) -> str | None:
    """Why the files of the build at ``path`` are not those its metadata ``meta`` records (sizes,
    then the sha256 of every file), or None when they are. A process hashes a build once: a later
    check of the same, untouched files (same mtime and size) reuses that result."""
    recorded = meta.get("sha256")
    if not isinstance(recorded, dict) or not recorded:
        return "no content hashes recorded (built by an older LensBench)"
    if any(Path(name).is_absolute() or ".." in Path(name).parts for name in recorded):
        return "its file list names paths outside the build"
    try:
        if file_sizes(path) != meta.get("files"):
            return "Arrow file sizes differ from those recorded"
        stats = {name: (path / name).stat() for name in sorted(recorded)}
        state = (str(path.resolve()), tuple(sorted(recorded.items())),
                 tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats.items()))
        if state in _VERIFIED:  # hashed already by this process, and untouched since
            return None
        found = content_hashes(path, META, names=recorded)
    except OSError as e:
        return f"files missing ({e})"
    bad = sorted(k for k in recorded if found[k] != recorded[k])
    if bad:
        return f"content differs from the build's record in {', '.join(bad)}"
    _VERIFIED.add(state)
    return None


def is_intact(path: Path, fp: str) -> bool:
    """True when ``path`` holds a complete build with fingerprint ``fp`` whose files are the ones
    it recorded (content hashes included)."""
    try:
        meta = json.loads((path / META).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("fingerprint") == fp and content_problem(path, meta) is None


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a build (recorded in its metadata)."""
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
    recipe: registry.Recipe | None = None,
    device: str | None = None,
):
    """Build (or load from cache) ``spec`` with ``sizes`` images PER CLASS per split.

    ``sizes`` is ``{"train": n, "val": n, "test": n}``; required for simulated datasets, optional for
    file datasets (``None`` = every file; otherwise a cap per class). ``data_root`` is passed to
    the recipe (real-galaxy sources; default ``paths.real_data_root()``) or is the folder the file
    dataset is read from (see ``resolve_data_root``). ``recipe`` overrides the registered recipe
    (tests). ``force`` rebuilds. ``device`` (e.g. "cuda") is passed to ``generate``; a non-CPU
    device is part of the fingerprint, because its floating-point results differ from the CPU's.
    Returns a memory-mapped ``datasets.DatasetDict`` with splits train/val/test.
    """
    import datasets

    sizes = check_sizes(spec, sizes)
    path = dataset_path(spec, sizes, cache)
    if spec.recipe is not None:
        rec = recipe if recipe is not None else simulated.get_recipe(spec.recipe)
        root = real_data_root(data_root)
        fp = content_fingerprint(spec, sizes, rec, None, device)
    else:
        rec, root = None, resolve_data_root(spec, data_root, cache)
        fp = content_fingerprint(spec, sizes, None, root)
    if not force:
        dsd = load_valid(path, fp)
        if dsd is not None:
            return dsd

    if rec is not None:
        blocks, columns = simulated.recipe_blocks(spec, sizes, rec, root, device)
        parts = recipe_parts(rec, device)
        with_source, extra = False, {"recipe": rec.name, "recipe_version": int(rec.version),
                                     "simulator_version": parts["simulator"], "chunk": parts["chunk"],
                                     "device": device_kind(device), "render": parts.get("render")}
    else:
        blocks, columns = adapter.blocks(spec, root, sizes)
        with_source, extra = True, {"adapter": spec.adapter, "data_root": str(root)}

    path.parent.mkdir(parents=True, exist_ok=True)
    for left in liveness.temporaries_of_dead(path.parent, f".tmp-{path.name}*", min_age_s=24 * 3600):
        shutil.rmtree(left, ignore_errors=True)  # a killed build's partial folder
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}{liveness.temp_tag()}", dir=path.parent))
    try:
        t0 = time.time()
        build = tmp / "data"
        counts = write(spec, blocks, columns, with_source, build, progress)
        if rec is not None and parts.get("render") == "compiled" and render.compile_failed():
            raise DataError(
                f"dataset {spec.key}: torch.compile failed while building it, so its images are not "
                f"those its fingerprint names; set {render.COMPILE_ENV}=0 to build it eagerly (the "
                "eager build has its own fingerprint)")
        meta = {
            "lensbench_format": FORMAT_VERSION,
            "fingerprint": fp,
            "dataset": spec.key,
            "sizes": sizes,
            "counts": counts,
            "order": "class-blocked (classes in label order within each split); shuffle when training",
            "columns": list(columns),
            "files": file_sizes(build),
            "sha256": content_hashes(build, META),
            "spec": dataclasses.asdict(spec),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.time() - t0, 2),
            "versions": package_versions(),
            **extra,
        }
        (build / META).write_text(json.dumps(meta, indent=2))
        if force or not is_intact(path, fp):  # else another process finished this build first: keep it
            if path.exists():
                os.replace(path, tmp / "old")  # deleted with tmp below
            os.replace(build, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return datasets.load_from_disk(str(path))
