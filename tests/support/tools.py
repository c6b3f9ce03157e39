"""Host tools in tests, and the pipeline's own CLI as a subprocess.

The CI rule: a test that needs a host tool fails when ``CI`` is set and the tool is missing (so a
green CI never hides a skipped integration test), and skips locally, saying which tool is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

from pipeline.tools.golang import find_go
from tests.support.paths import ROOT


def run_pipeline(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline ARGS`` in ``cwd`` (the repository by default), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=300,
    )


def need_tool(name: str, missing: str | None = None) -> str:
    """The path of host tool ``name``; fail under CI, skip otherwise, when it is missing
    (``missing``: the message then, when it is not one setup-host installs)."""
    path = shutil.which(name) or (
        name if os.path.isabs(name) and os.access(name, os.X_OK) else None
    )
    if path is None and name == "go":
        # The pipeline's own Go (setup-host installs it into the user cache, not on PATH).
        found = find_go()
        path = str(found) if found else None
    if path:
        return path
    unavailable(missing or f"host tool {name!r} is not installed (nox -s setup-host installs it)")


def unavailable(message: str) -> NoReturn:
    """What a test does when the machine cannot run it: fail under CI, skip otherwise."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
