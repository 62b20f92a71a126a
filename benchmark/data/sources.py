"""Where the real data come from: the registry of public sources (``sources.json`` beside this module).

Each source is one folder of the real-data root (``paths.real_data_root``: ``--data-root`` or
``$LENSBENCH_REAL_DATA``), copied verbatim from a public repository at a pinned commit. Per source the
registry holds the repository, the commit, the folder inside the repository (``upstream_path``), the
licence, the citation, the datasets that read it (``used_by``) and every file with its sha256 and
size. A file ``rel`` of source ``S`` is downloaded from::

    https://raw.githubusercontent.com/<repository>/<commit>/<upstream_path>/<rel>

or, with a mirror (``--mirror URL`` or ``$LENSBENCH_DATA_MIRROR``), from ``<mirror>/S/<rel>``: a mirror
is any HTTP server holding a copy of the real-data root in the same layout (e.g. ``python -m
http.server`` run in it). More sources: registry files in ``$LENSBENCH_DATA_SOURCES``.
``lensbench data fetch`` (``lensbench.data.fetch``) downloads and verifies.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote

from lensbench import registry as lb_registry
from lensbench.data.errors import DataError

REGISTRY_FILE = Path(__file__).with_name("sources.json")
MIRROR_ENV = "LENSBENCH_DATA_MIRROR"
SOURCES_ENV = "LENSBENCH_DATA_SOURCES"


@dataclass(frozen=True)
class SourceFile:
    rel: str  # path inside the source's folder (also the layout the tasks read)
    sha256: str
    size: int


@dataclass(frozen=True)
class Source:
    name: str  # the folder name inside the real-data root
    description: str
    repository: str  # owner/name on GitHub
    commit: str
    upstream_path: str
    licence: str
    citation: str
    used_by: tuple[str, ...]
    files: tuple[SourceFile, ...]
    url_template: str

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def url(self, f: SourceFile, mirror: str | None = None) -> str:
        """The download URL of ``f``: the pinned raw file of the repository, or its place on ``mirror``."""
        if mirror:
            return f"{mirror.rstrip('/')}/{quote(self.name)}/{quote(f.rel)}"
        path = quote(f"{self.upstream_path}/{f.rel}".strip("/"))
        return self.url_template.format(repository=self.repository, commit=self.commit, path=path)

    def provenance(self) -> str:
        """Licence and citation, as printed after a fetch."""
        return (f"{self.name}: from github.com/{self.repository} at commit {self.commit[:12]} "
                f"({self.upstream_path}/)\n  licence: {self.licence}\n  cite: {self.citation}")


def parse_registry(doc: dict, origin: str) -> dict[str, Source]:
    """The sources of a registry document; ``DataError`` naming ``origin`` when it is malformed."""
    try:
        template = doc["url"]
        out = {}
        for name, s in doc["sources"].items():
            files = tuple(SourceFile(rel, str(f["sha256"]), int(f["size"])) for rel, f in sorted(s["files"].items()))
            bad = [f.rel for f in files if f.rel.startswith("/") or ".." in f.rel.split("/") or len(f.sha256) != 64]
            if bad or not files or "/" in name or name.startswith("."):
                raise DataError(f"{origin}: source {name!r} has bad file entries {bad[:3]} (or none, or a bad name)")
            out[name] = Source(name, s["description"], s["repository"], s["commit"], s["upstream_path"],
                               s["licence"], s["citation"], tuple(s.get("used_by", ())), files, template)
        return out
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{origin}: malformed source registry ({type(e).__name__}: {e})") from e


@cache
def packaged() -> dict[str, Source]:
    """The sources of the packaged ``sources.json``."""
    return parse_registry(json.loads(REGISTRY_FILE.read_text()), REGISTRY_FILE.name)


def registry() -> dict[str, Source]:
    """Every known source by name: the packaged ones, then those of the registry files listed in
    ``$LENSBENCH_DATA_SOURCES`` (paths joined by ``os.pathsep``, same JSON layout; a later entry
    replaces an earlier one of the same name)."""
    out = dict(packaged())
    for extra in filter(None, os.environ.get(SOURCES_ENV, "").split(os.pathsep)):
        try:
            doc = json.loads(Path(extra).expanduser().read_text())
        except (OSError, ValueError) as e:
            raise DataError(f"{extra} (${SOURCES_ENV}): cannot read the source registry ({e})") from e
        out.update(parse_registry(doc, extra))
    return out


def mirror_url(mirror: str | None = None) -> str | None:
    """The mirror to download from: ``mirror`` when given, else ``$LENSBENCH_DATA_MIRROR``, else None."""
    return mirror or os.environ.get(MIRROR_ENV) or None


def resolve(names: list[str] | tuple[str, ...], all_sources: bool = False) -> list[Source]:
    """The sources named (by folder name, by a dataset that reads them or by a task), in registry order;
    every source with ``all_sources``. ``DataError`` listing the known names otherwise."""
    reg = registry()
    if all_sources:
        return list(reg.values())
    if not names:
        raise DataError("name a real-data set to fetch (or --all); known: " + ", ".join(known_names()))
    picked: list[str] = []
    for n in names:
        datasets = {n}
        if n in lb_registry.tasks:  # a task: the sources of its datasets
            task = lb_registry.tasks.get(n)
            datasets = {task.dataset, task.test_dataset}
        hits = [n] if n in reg else [s.name for s in reg.values() if datasets & set(s.used_by)]
        if not hits:
            raise DataError(f"unknown real-data set {n!r}; known: {', '.join(known_names())}")
        picked += [h for h in hits if h not in picked]
    return [reg[n] for n in reg if n in picked]


def known_names() -> list[str]:
    """Source names, then the datasets that read them."""
    reg = registry()
    used = sorted({d for s in reg.values() for d in s.used_by} - set(reg))
    return list(reg) + used
