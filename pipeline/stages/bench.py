"""``python -m pipeline bench`` (and ``nox -s bench``): run the benchmarks under ``bench/``.

``bench/`` sits beside the package in the project tree, not inside it (it is not shipped), so
the project root goes on ``sys.path`` before ``bench/run.py`` is imported.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from pipeline.core.context import Context
from pipeline.core.errors import PipelineError

ROOT = Path(__file__).resolve().parents[2]


def main(ctx: Context) -> int:
    if not (ROOT / "bench" / "run.py").is_file():
        raise PipelineError(f"{ROOT / 'bench' / 'run.py'} not found", hint="run from a checkout")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    runner = importlib.import_module("bench.run")
    code: int = runner.main(ctx.project_path, ctx.options)
    return code
