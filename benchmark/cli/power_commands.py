"""``lensbench power``: how many seeds a stated difference between two models needs.

From the records (``--model A --versus B`` on ``--task T``) the spread of their per-seed paired
difference is estimated (``board.aggregate.paired_spread``), or it is given with ``--sd``; then
``board.significance.seeds_needed`` gives the smallest seed count at which a two-sided paired t-test
detects ``--effect`` with the requested power.
"""

from __future__ import annotations

import sys


def cmd_power(args) -> int:
    from lensbench.board.aggregate import paired_spread, records_frame
    from lensbench.board.render import read_results
    from lensbench.board.significance import seeds_needed

    sd = args.sd
    if sd is None:
        missing = [flag for flag, v in (("RESULTS", args.results), ("--task", args.task), ("--model", args.model),
                                        ("--versus", args.versus)) if v is None]
        if missing:
            print(f"lensbench power: error: without --sd, give {', '.join(missing)}", file=sys.stderr)
            return 2
        try:
            table, seeds, diff, sd = paired_spread(records_frame(read_results(args.results)), args.task,
                                                   args.model, args.versus)
        except ValueError as exc:
            print(f"lensbench power: error: {exc}", file=sys.stderr)
            return 2
        print(f"{args.task} v{table['task_version']} (preset {table['preset']}, data "
              f"{table['dataset_fingerprint'][:8]}): {args.model} - {args.versus} on {len(seeds)} common seeds "
              f"{list(seeds)}: mean {diff:+.4g}, sd {sd:.4g}")
        if sd == 0:
            print("lensbench power: error: the paired differences do not vary (sd 0); give --sd", file=sys.stderr)
            return 2
    try:
        n = seeds_needed(sd, args.effect, alpha=args.alpha, power=args.power, n_comparisons=args.comparisons)
    except ValueError as exc:
        print(f"lensbench power: error: {exc}", file=sys.stderr)
        return 2
    print(f"seeds needed to detect a difference of {args.effect:g} at sd {sd:.4g} (two-sided paired t-test, "
          f"alpha {args.alpha:g}" + (f" / {args.comparisons} comparisons" if args.comparisons > 1 else "")
          + f", power {args.power:g}): {n}")
    return 0
