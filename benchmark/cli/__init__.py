"""The ``lensbench`` command line (entry point ``lensbench.cli:main``).

User errors (unknown names, bad flags, missing data paths, malformed records) exit with code 2 and
a one-paragraph message, no traceback. ``--debug`` shows the traceback.

Modules: ``parser`` (every command and flag), ``run_commands`` (run, sweep), ``tracking_commands``
(tracking sync), ``board_commands`` (leaderboard, show, validate, verify, snapshot, reproduce),
``submission_commands`` (submission check, verify --hidden), ``power_commands`` (power),
``catalog_commands`` (list, cite, data build / show / import), ``data_commands`` (data fetch / export).
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
    for stream in (sys.stdout, sys.stderr):  # a name that is not UTF-8 prints escaped, never a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    undecodable = [a for a in (sys.argv[1:] if argv is None else argv) if not _is_utf8(a)]
    if undecodable:
        shown = undecodable[0].encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        print(f"lensbench: error: argument '{shown}' is not valid UTF-8 (a file or folder name in another "
              "encoding?); rename it to a UTF-8 name", file=sys.stderr)
        return 2
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
        print(textwrap.fill(f"lensbench: error: {msg}", width=100, break_long_words=False, break_on_hyphens=False),
              file=sys.stderr)
        return 2


def _is_utf8(arg: str) -> bool:
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes of a file name arrive as surrogates (PEP 383)
        return False
    return True
