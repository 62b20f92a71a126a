"""Commands on run records and the leaderboard: ``leaderboard``, ``show``, ``validate``, ``verify``,
``snapshot`` and ``reproduce``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from lensbench import records


def cmd_leaderboard(args) -> int:
    from lensbench.board import render

    # the default (live) results folder may not exist yet; a folder given explicitly must exist (exit 2,
    # nothing written)
    live_missing = args.results == Path("leaderboards/results") and not args.results.exists()
    recs, bad = ([], []) if live_missing else render.read_board_records(args.results)
    for problem in bad:  # each bad record once; the board is drawn from the others
        print(f"skipped bad record: {problem}", file=sys.stderr)
    paths = {} if not recs else render.write_leaderboard(args.results, args.out, formats=tuple(args.format),
                                                         suite=args.suite, gallery=args.gallery, cache=args.cache,
                                                         records=recs)
    if not paths:
        what = "no valid run records" if bad else "no run records yet"
        print(f"{args.results}: {what}, nothing written ('lensbench run' and 'lensbench sweep' write "
              "them there); the frozen v1 leaderboard is leaderboards/v1/leaderboard.md")
        return 2 if bad else 0
    if args.readme:
        board = (Path(os.path.relpath(Path(paths["md"]).resolve(), args.readme.resolve().parent)).as_posix()
                 if "md" in paths else None)
        paths["readme"] = render.replace_section(args.readme, "results", render.readme_results(
            args.results, args.command, suite=args.suite, records=recs, board=board))
    if args.print_md and "md" in paths:
        print(Path(paths["md"]).read_text(encoding="utf-8"))
    for fmt, path in paths.items():
        print(f"{fmt}: {path}")
    if bad:
        print(f"{len(bad)} bad record(s) skipped (listed above); 'lensbench validate {args.results}' checks them",
              file=sys.stderr)
    return 0


def cmd_show(args) -> int:
    rec = records.read_record(args.record)
    print(json.dumps(rec.to_dict(), indent=2, default=str))
    return 0


def cmd_validate(args) -> int:
    from lensbench.run import submission

    report = submission.validate(args.results, cache=args.cache)
    for problem in report.problems:
        print(f"- {problem}", file=sys.stderr)
    verdict = "valid" if report.ok else f"INVALID ({len(report.problems)} problem(s))"
    print(f"{args.results}: {report.n_records} record(s), {verdict}")
    if report.bad_files:  # files that are not valid records at all: refused, like any bad input
        print(f"{len(report.bad_files)} file(s) are not valid run records (listed above)", file=sys.stderr)
        return 2
    return 0 if report.ok else 1


def cmd_verify(args) -> int:
    from lensbench.run import submission

    if args.hidden:
        from lensbench.cli.submission_commands import verify_hidden

        return verify_hidden(args)
    all_ok = True
    for record in args.record:
        ok, recorded, recomputed = submission.verify(record, args.checkpoint_dir, cache=args.cache,
                                                     data_root=args.data_root, device=args.device)
        print(f"{record}: recorded {recorded:.6f}, recomputed {recomputed:.6f} -> "
              f"{'verified' if ok else 'MISMATCH'} (tolerance {submission.VERIFY_TOLERANCE})")
        all_ok = all_ok and ok
    return 0 if all_ok else 1


def cmd_snapshot(args) -> int:
    from lensbench.board import snapshot

    if args.snapshot_command == "check":
        problems = snapshot.check(args.snapshot)
        for problem in problems:
            print(f"- {problem}", file=sys.stderr)
        print(f"{args.snapshot}: " + ("as published" if not problems else f"CHANGED ({len(problems)} problem(s))"))
        return 0 if not problems else 1
    try:
        out = snapshot.freeze(args.results, args.root, args.version, gallery=not args.no_gallery, cache=args.cache)
    except snapshot.SnapshotError as exc:
        print(f"lensbench: error: {exc}", file=sys.stderr)
        return 2
    problems = snapshot.check(out)
    print(f"published {out}: " + ("manifest verified" if not problems else f"MANIFEST PROBLEMS: {problems}"))
    return 0 if not problems else 1


def cmd_reproduce(args) -> int:
    from lensbench.run import submission

    r = submission.reproduce(args.record, cache=args.cache, data_root=args.data_root, device=args.device,
                             progress=not args.no_progress, trust_code=args.trust_code)
    rec = r.record
    print(f"{rec.task} v{rec.task_version} [{rec.preset}] {rec.model} seed {rec.seed} "
          f"({rec.hardware.get('torch_threads')} torch threads): recorded {rec.primary_metric} = {r.recorded!r}, "
          f"reproduced {r.reproduced!r}")
    if r.difference == 0:
        print("identical")
    else:
        print(f"DIFFERENT by {r.difference:.3g}" + ("" if r.same_code else
              " (the record was made by another commit of the code)") +
              "; numbers match exactly only on the same kind of machine with the same thread count")
    return 0 if r.difference == 0 else 1
