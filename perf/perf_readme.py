"""Write one measured section into perf/README.md between ``<!-- NAME:begin -->`` / ``<!-- NAME:end -->``."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def write_section(name: str, body: str, readme: Path = README) -> None:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    stamp = f"_Measured {datetime.date.today().isoformat()} on {platform.machine()}, {platform.python_version()}._\n\n"
    block = f"{begin}\n{stamp}{body.rstrip()}\n{end}"
    text = readme.read_text() if readme.exists() else "# Performance\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {name}\n\n{block}\n"
    readme.write_text(text)
