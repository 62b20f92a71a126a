"""Frozen, versioned leaderboard snapshots (``leaderboards/v1/``, later ``v2/`` beside it).

``freeze(results_dir, root, version)`` publishes a snapshot: it refuses records that do not pass
``lensbench validate`` (schema, task versions, fingerprints, full seed sets), then writes into
``root/<version>/`` a copy of the records (``results/``), the rendered tables and page
(``leaderboard.md/.csv/.json/.html``, ``plots/``, ``gallery/`` when the dataset galleries are
cached) and ``MANIFEST.sha256`` (one ``<sha256>  <relative path>`` line per file). A snapshot
that exists is never overwritten: numbers, once cited, do not change. ``check(snapshot_dir)``
recomputes every hash and reports files that changed, disappeared or were added.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from lensbench.board.render import write_leaderboard
from lensbench.run import claims, submission

MANIFEST = "MANIFEST.sha256"


class SnapshotError(ValueError):
    """A snapshot cannot be frozen (invalid records, already published) or failed its check."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def freeze(results_dir: str | Path, root: str | Path, version: str, *, suite: str = "v1", gallery: bool = True,
           cache=None) -> Path:
    """Publish ``root/<version>/`` from the records in ``results_dir`` (see module docstring)."""
    results_dir, root = Path(results_dir), Path(root)
    out = root / version
    if out.exists():
        raise SnapshotError(f"{out} exists: a published snapshot is never changed; publish the new numbers as "
                            "a new version beside it")
    running = claims.live_locks(results_dir)  # stale locks of dead sweeps are removed, not obeyed
    if running:
        raise SnapshotError(f"{len(running)} run(s) in {results_dir} are claimed by a sweep (e.g. {running[0]}): "
                            "let it finish, or delete the locks of a sweep that is dead")
    report = submission.validate(results_dir, cache=cache)
    if not report.ok:
        shown = "\n".join(f"- {p}" for p in report.problems[:20])
        more = f"\n... and {len(report.problems) - 20} more" if len(report.problems) > 20 else ""
        raise SnapshotError(f"{results_dir} does not validate ({report.n_records} records), nothing frozen:\n"
                            f"{shown}{more}")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{version}."))
    try:
        shutil.copytree(results_dir, tmp / "results", ignore=shutil.ignore_patterns("*.tmp", "*.lock", ".*"))
        write_leaderboard(tmp / "results", tmp, formats=("md", "csv", "html", "json", "png"),
                          suite=suite, gallery=gallery, cache=cache)
        lines = [f"{_sha256(p)}  {p.relative_to(tmp).as_posix()}" for p in _files(tmp)]
        (tmp / MANIFEST).write_text("\n".join(lines) + "\n")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def check(snapshot_dir: str | Path) -> list[str]:
    """Problems with a published snapshot (empty list: every file is as published)."""
    snap = Path(snapshot_dir)
    manifest = snap / MANIFEST
    if not manifest.is_file():
        return [f"{manifest} is missing: {snap} is not a published snapshot"]
    want = {}
    for line in manifest.read_text().splitlines():
        digest, _, rel = line.partition("  ")
        want[rel] = digest
    have = {p.relative_to(snap).as_posix(): p for p in _files(snap)}
    problems = [f"{rel}: missing" for rel in sorted(set(want) - set(have))]
    problems += [f"{rel}: not in the manifest (added after publication)" for rel in sorted(set(have) - set(want))]
    problems += [f"{rel}: changed since publication" for rel in sorted(set(want) & set(have))
                 if _sha256(have[rel]) != want[rel]]
    return problems
