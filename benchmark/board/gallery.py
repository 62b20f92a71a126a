"""Example-image galleries of the leaderboard's datasets, copied from the dataset cache.

``lensbench data show NAME`` (``lensbench.data.card.show``) writes ``gallery.png`` into the folder of a
cached dataset build, ``<cache>/datasets/<name>/v<version>/<sizes>/``, next to ``lensbench.json``
which holds the build's fingerprint. ``copy_galleries`` finds, for each (dataset, fingerprint) a
leaderboard table was computed on, the build with that exact fingerprint and copies its gallery to
``<out>/gallery/<name>_<fingerprint[:8]>.png``. Datasets without one are reported with the command
that makes it.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lensbench.data.paths import cache_dir

log = logging.getLogger(__name__)


@dataclass
class Gallery:
    """One dataset build shown on the page: its copied PNG (relative to the page) or why there is none."""

    dataset: str
    fingerprint: str
    preset: str
    tables: list[tuple] = field(default_factory=list)  # keys (``TABLE_KEYS`` values) of the tables on it
    path: Path | None = None  # the copy under <out>/gallery/
    missing: str = ""  # the message when there is none (names the cache folder)
    command: str = ""  # the command that makes the missing gallery

    @property
    def anchor(self) -> str:
        return f"gallery-{self.dataset}-{self.fingerprint[:8]}"


def find_build(dataset: str, fingerprint: str, cache: str | Path | None = None) -> Path | None:
    """The cached build folder of ``dataset`` whose ``lensbench.json`` has ``fingerprint``, or None."""
    root = (Path(cache) if cache is not None else cache_dir()) / "datasets" / dataset
    for meta in sorted(root.glob("v*/*/lensbench.json")):
        if meta.parent.name.startswith("."):
            continue
        try:
            if json.loads(meta.read_text()).get("fingerprint") == fingerprint:
                return meta.parent
        except (OSError, json.JSONDecodeError):
            continue
    return None


def _show_command(dataset: str, preset: str) -> str:
    cmd = f"lensbench data show {dataset} --preset {preset}"
    try:
        from lensbench import registry

        if dataset in registry.datasets and registry.datasets.get(dataset).adapter is not None:
            cmd += " --data-root PATH/TO/real"
    except Exception as exc:  # noqa: BLE001 - the message must not fail on a broken plugin
        log.debug("registry lookup of %r failed: %s", dataset, exc)
    return cmd


def task_test_dataset(task: str) -> str | None:
    """The registered task's separate test dataset (domain-shift tasks), if any."""
    try:
        from lensbench import registry

        return registry.tasks.get(task).test_dataset if task in registry.tasks else None
    except Exception as exc:  # noqa: BLE001 - the page must not fail on a broken plugin
        log.debug("registry lookup of %r failed: %s", task, exc)
        return None


def wanted(tables) -> list[Gallery]:
    """The (dataset, fingerprint) builds behind ``tables``: an iterable of (table key tuple, table keys
    dict, train dataset name); the test dataset of a domain-shift task is looked up in the registry."""
    found: dict[tuple[str, str], Gallery] = {}
    for key, k, dataset in tables:
        pairs = [(dataset, k["dataset_fingerprint"])]
        if k.get("test_dataset_fingerprint"):
            test_name = task_test_dataset(k["task"])
            if test_name:
                pairs.append((test_name, k["test_dataset_fingerprint"]))
        for name, fp in pairs:
            if not name or not fp:
                continue
            g = found.setdefault((name, fp), Gallery(name, fp, k["preset"]))
            g.tables.append(key)
    return list(found.values())


def copy_galleries(galleries: list[Gallery], out_dir: str | Path, cache: str | Path | None = None) -> list[Gallery]:
    """Copy each build's ``gallery.png`` to ``out_dir/gallery/``; fill ``path`` or ``missing``."""
    dest = Path(out_dir) / "gallery"
    root = cache if cache is not None else cache_dir()
    for g in galleries:
        build = find_build(g.dataset, g.fingerprint, cache)
        src = build / "gallery.png" if build is not None else None
        if src is not None and src.is_file():
            dest.mkdir(parents=True, exist_ok=True)
            g.path = dest / f"{g.dataset}_{g.fingerprint[:8]}.png"
            tmp = g.path.with_name(f".{g.path.name}.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(g.path)
            continue
        where = (f"build {build} has no gallery.png" if build is not None
                 else f"no build with fingerprint {g.fingerprint[:12]} in {Path(root) / 'datasets' / g.dataset}")
        g.command = _show_command(g.dataset, g.preset)
        g.missing = (f"no gallery for dataset {g.dataset} (fingerprint {g.fingerprint[:12]}): {where}; "
                     f"make it with `{g.command}`")
    return galleries
