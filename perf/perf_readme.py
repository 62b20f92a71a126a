"""Write one measured section into perf/README.md between ``<!-- NAME:begin -->`` / ``<!-- NAME:end -->``."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

from lensbench.board.render import replace_section

README = Path(__file__).resolve().parent / "README.md"


def write_section(name: str, body: str, readme: Path = README) -> None:
    stamp = f"_Measured {datetime.date.today().isoformat()} on {platform.machine()}, {platform.python_version()}._\n\n"
    if not readme.exists():
        readme.write_text("# Performance\n")
    replace_section(readme, name, stamp + body)
