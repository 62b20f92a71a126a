"""``lensbench tracking sync RESULTS``: back-fill MLflow from the run records (``lensbench.run.tracking_sync``)."""

from __future__ import annotations

import sys


def cmd_tracking_sync(args) -> int:
    from lensbench.run.tracking_sync import sync

    if not args.results.is_dir():
        raise FileNotFoundError(f"{args.results}: no such folder of run records")
    try:
        report = sync(args.results, args.tracking_uri, progress=not args.no_progress)
    except ConnectionError as exc:
        print(f"lensbench: error: {exc}", file=sys.stderr)
        return 1
    print(f"MLflow {report.uri}: {len(report.added)} run(s) added from records, {len(report.present)} already there")
    for line in report.failed:
        print(f"not synced: {line}", file=sys.stderr)
    return 1 if report.failed else 0
