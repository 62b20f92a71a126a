"""``lensbench data fetch``: put the real data of the registered sources (``lensbench.data.sources``)
into the real-data root, every file verified against its sha256.

- ``download``: each file from its pinned public URL (or a mirror) with ``pooch``: a file already in
  place with the right sha256 is kept; a missing or different one is downloaded into a temporary file
  beside it and moved into place only when its sha256 matches, so a corrupted or cut-short download
  never lands; failed attempts (connection errors, a connection closed early, a wrong sha256) are
  retried ``retries`` times, each attempt restarting the file from its first byte.
- ``copy_from``: the same files from a local folder (offline machines), verified the same way.
- ``check``: what is missing or different under the root (no network).

Every failure is a ``DataError`` naming the URL or the file (the CLI exits 2).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from lensbench.data.errors import DataError
from lensbench.data.sources import Source, SourceFile

TIMEOUT_S = 60  # per HTTP request (connect and between bytes)


def sha256_of(path: Path) -> str:
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


def check(sources: list[Source], root: Path) -> list[str]:
    """Problems of the fetched copy under ``root`` (missing file, wrong size, wrong sha256); [] = complete."""
    problems = []
    for s in sources:
        for f in s.files:
            p = Path(root) / s.name / f.rel
            if not p.is_file():
                problems.append(f"{p}: missing")
            elif p.stat().st_size != f.size:
                problems.append(f"{p}: {p.stat().st_size} bytes, expected {f.size}")
            elif sha256_of(p) != f.sha256:
                problems.append(f"{p}: sha256 differs from the registry")
    return problems


def progress_bar(s: Source, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=s.size, unit="B", unit_scale=True, desc=s.name, disable=not progress, leave=True)


def download(sources: list[Source], root: Path, *, mirror: str | None = None, retries: int = 2,
             progress: bool = True, timeout: float = TIMEOUT_S) -> None:
    """Download (or keep, when already verified) every file of ``sources`` into ``root/<source>/``."""
    import pooch
    import requests

    pooch_log = pooch.get_logger()
    level = pooch_log.level
    pooch_log.setLevel(logging.WARNING)  # one bar per source instead of a line per file
    try:
        for s in sources:
            folder = Path(root) / s.name
            repo = pooch.create(path=folder, base_url="", retry_if_failed=max(0, int(retries)),
                                registry={f.rel: f"sha256:{f.sha256}" for f in s.files},
                                urls={f.rel: s.url(f, mirror) for f in s.files})
            downloader = pooch.HTTPDownloader(progressbar=False, timeout=timeout)
            with progress_bar(s, progress) as bar:
                for f in s.files:
                    url = s.url(f, mirror)
                    try:
                        repo.fetch(f.rel, downloader=downloader)
                    except requests.exceptions.RequestException as e:
                        raise DataError(
                            f"cannot download {url} ({type(e).__name__}: {str(e)[:160]}) after {1 + retries} "
                            "attempt(s); "
                            "check the network, or use --mirror URL or --from DIR (a local copy)") from e
                    except ValueError as e:
                        raise DataError(
                            f"refused {url}: its sha256 differs from the registry's {f.sha256[:16]}... in each of "
                            f"{1 + retries} attempt(s); nothing was written to {folder / f.rel}") from e
                    except OSError as e:
                        raise DataError(f"cannot write {folder / f.rel}: {e}") from e
                    bar.update(f.size)
    finally:
        pooch_log.setLevel(level)


def local_file(folder: Path, s: Source, f: SourceFile) -> Path:
    """The copy of ``f`` under ``folder``: ``folder/<source>/<rel>`` (a real-data root), else
    ``folder/<rel>`` (the source's own folder)."""
    inside = folder / s.name / f.rel
    return inside if inside.exists() or not (folder / f.rel).exists() else folder / f.rel


def copy_from(sources: list[Source], root: Path, folder: Path, *, progress: bool = True) -> None:
    """Copy every file of ``sources`` from the local ``folder`` into ``root``, verifying each sha256
    before it is moved into place; files already in place and verified are kept."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--from {folder}: not a folder")
    for s in sources:
        dest_dir = Path(root) / s.name
        with progress_bar(s, progress) as bar:
            for f in s.files:
                dest = dest_dir / f.rel
                src = local_file(folder, s, f)
                if dest.is_file() and dest.stat().st_size == f.size and sha256_of(dest) == f.sha256:
                    bar.update(f.size)
                    continue
                if not src.is_file():
                    raise DataError(f"--from {folder}: missing {s.name}/{f.rel} (looked for {src})")
                if sha256_of(src) != f.sha256:
                    raise DataError(f"refused {src}: its sha256 differs from the registry's {f.sha256[:16]}...; "
                                    f"nothing was written to {dest}")
                if dest.exists() and dest.resolve() == src.resolve():
                    bar.update(f.size)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
                os.close(fd)
                try:
                    shutil.copyfile(src, tmp)
                    if sha256_of(Path(tmp)) != f.sha256:
                        raise DataError(f"{src}: changed while it was copied; nothing was written to {dest}")
                    os.replace(tmp, dest)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
                bar.update(f.size)
