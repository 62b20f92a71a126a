"""``lensbench data fetch`` (real data from its pinned public sources) and ``lensbench data export``
(a dataset as Hub-ready parquet shards, dataset card and Croissant file)."""

from __future__ import annotations

import os

from lensbench.data.errors import DataError
from lensbench.data.paths import REAL_DATA_ENV, real_data_root


def cmd_data_fetch(args) -> int:
    from lensbench.data import fetch, sources

    picked = sources.resolve(args.names, args.all)
    root = real_data_root(args.data_root)
    if root is None:
        raise DataError(f"where should the real data go? pass --data-root DIR or set {REAL_DATA_ENV}=DIR "
                        "(the real-data tasks read it from there)")
    if args.check:
        problems = fetch.check(picked, root)
        for p in problems[:20]:
            print(p)
        if len(problems) > 20:
            print(f"... and {len(problems) - 20} more")
        n = sum(len(s.files) for s in picked)
        print(f"{root}: {n - len(problems)} of {n} files of {', '.join(s.name for s in picked)} present and verified")
        return 0 if not problems else 1
    if args.from_dir is not None:
        fetch.copy_from(picked, root, args.from_dir, progress=not args.no_progress)
    else:
        fetch.download(picked, root, mirror=sources.mirror_url(args.mirror), retries=args.retries,
                       progress=not args.no_progress)
    n, size = sum(len(s.files) for s in picked), sum(s.size for s in picked)
    print(f"{n} files ({size / 1e6:.1f} MB) verified (sha256) in {root}")
    for s in picked:
        print(s.provenance())
    if args.data_root is not None and os.environ.get(REAL_DATA_ENV) != str(root):
        print(f"the real-data tasks read it with --data-root {root} or: export {REAL_DATA_ENV}={root}")
    return 0


def cmd_data_export(args) -> int:
    from lensbench.data import export

    out = export.export_dataset(args.name, args.to, preset=args.preset, cache=args.cache,
                                data_root=args.data_root, force=args.force)
    for what, path in out.items():
        print(f"{what}: {path}")
    return 0
