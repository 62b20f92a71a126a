"""``lensbench submission check DIR`` (a submission on arrival) and ``lensbench verify --hidden``
(a checkpoint on the maintainers' hidden test set)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def add_submission_parser(sub) -> None:
    """The ``submission`` command and its ``check`` subcommand."""
    sm = sub.add_parser("submission", help="check a submission folder (submissions/<name>/) before it is merged")
    smsub = sm.add_subparsers(dest="submission_command", required=True)
    ck = smsub.add_parser("check", help="metadata, records, fingerprints, seeds, duplicates; then render the "
                          "board with the submission on it")
    ck.add_argument("folder", type=Path, help="the submission folder: submission.yaml and records/")
    ck.add_argument("--results", type=Path, default=Path("leaderboards/results"),
                    help="the board's records the submission joins (default: leaderboards/results)")
    ck.add_argument("--out", type=Path, default=None, help="render the board with the submission into this folder")
    ck.add_argument("--cache", type=Path, default=None, help="dataset cache (default: LENSBENCH_CACHE)")
    ck.add_argument("--data-root", type=Path, default=None, help="real data (to fingerprint real-data tasks)")
    ck.set_defaults(func=cmd_submission_check)


def cmd_submission_check(args) -> int:
    from lensbench.board import render
    from lensbench.run import submission_check

    report = submission_check.check(args.folder, results=args.results, cache=args.cache, data_root=args.data_root)
    for problem in report.problems:
        print(f"- {problem}", file=sys.stderr)
    if not report.ok:
        print(f"{args.folder}: submission REFUSED ({len(report.problems)} problem(s); each names its file)",
              file=sys.stderr)
        return 2
    for (task, model), seeds in sorted(report.runs.items()):
        print(f"  {task}  {model}  seeds {sorted(seeds)}")
    print(f"{args.folder}: submission valid: {report.n_records} record(s), {len(report.runs)} (task, model) "
          f"pair(s); external data: {'yes' if report.metadata.get('external_data') else 'no'}")
    if args.out is not None:
        with tempfile.TemporaryDirectory(prefix="lensbench-submission-") as tmp:
            merged = submission_check.merged_results(args.folder, args.results, Path(tmp) / "results")
            paths = render.write_leaderboard(merged, args.out, formats=("md", "csv", "html", "json"))
        for fmt, path in paths.items():
            print(f"{fmt}: {path}")
    return 0


def verify_hidden(args) -> int:
    """``lensbench verify --hidden RECORD|FOLDER ...``: 0 when every entry is verified, 1 when one is flagged."""
    from lensbench.run import hidden

    secret = hidden.read_secret(args.hidden_key)  # refuses clearly when the secret is absent
    paths = []
    for p in args.record:
        paths += sorted(q for q in Path(p).rglob("*.json") if not q.name.startswith(".")) if Path(p).is_dir() else [p]
    flagged = 0
    for path in paths:
        v = hidden.verify_hidden(path, args.checkpoint_dir, secret, cache=args.cache, data_root=args.data_root,
                                 device=args.device)
        pub, hid = v["public"], v["hidden"]
        print(f"{path}: {v['primary_metric']} public {pub['value']:.4f} [{pub['ci'][0]:.4f}, {pub['ci'][1]:.4f}] "
              f"vs hidden {hid['value']:.4f} [{hid['ci'][0]:.4f}, {hid['ci'][1]:.4f}]"
              + ("" if v["matches_record"] else f"; the checkpoint does not give the recorded {v['recorded']:.4f}")
              + f" -> {v['verdict']} ({hidden.verification_path(path).name})")
        flagged += v["verdict"] != hidden.VERIFIED
    return 1 if flagged else 0
