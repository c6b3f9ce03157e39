"""What people and machines see: one rich console (stderr) and ``--json`` output."""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the context imports the report, which reports through this console
    from rich.console import Console

    from pipeline.core.context import Options


@cache
def console() -> Console:
    """Progress, tables and messages go to stderr, so stdout stays clean for ``--json``.
    Logs (CI, a file) get a wide fixed width instead of rich's 80 columns, so tables stay tables."""
    from rich.console import Console  # on first use: a verb that prints nothing never pays

    width = None if sys.stderr.isatty() or os.environ.get("COLUMNS") else 150
    return Console(stderr=True, width=width)


def emit(options: Options, data: Any) -> None:
    """Write ``data`` as JSON to the file of ``--json FILE``, or to stdout for a bare ``--json``."""
    if options.json is None:
        return
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    if options.json == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(options.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
