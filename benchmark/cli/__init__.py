"""The ``lensbench`` command line (entry point ``lensbench.cli:main``).

User errors (unknown names, bad flags, missing data paths, malformed records) exit with code 2 and
a one-paragraph message, no traceback. ``--debug`` shows the traceback.

Modules: ``parser`` (every command and flag), ``run_commands`` (run, sweep), ``board_commands``
(leaderboard, show, validate, verify, snapshot, reproduce), ``power_commands`` (power),
``catalog_commands`` (list, cite, data).
"""

from __future__ import annotations

import logging
import sys
import textwrap

from lensbench import records
from lensbench.cli.parser import build_parser
from lensbench.data.errors import DataError
from lensbench.registry import RegistryError
from lensbench.run import usermodels
from lensbench.specs import SpecError

USER_ERRORS = (RegistryError, SpecError, DataError, records.RecordError, usermodels.ModelRefError,
               FileNotFoundError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "datasets", "filelock", "httpx", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except USER_ERRORS as exc:
        if args.debug:
            raise
        msg = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
        print(textwrap.fill(f"lensbench: error: {msg}", width=100), file=sys.stderr)
        return 2
