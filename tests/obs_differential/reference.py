"""obs-build, the reference: where it is installed, its version, and its answers.

obs-build is the distribution's package (``obs-build`` on Debian, ``build`` on openSUSE), which
``setup-host`` installs; its Perl modules are run by ``obs_reference.pl`` next to this file.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from tests.support.tools import unavailable

HERE = Path(__file__).resolve().parent
#: openSUSE's ``build`` package, then Debian's ``obs-build``.
OBS_BUILD_DIRS = (Path("/usr/lib/build"), Path("/usr/lib/obs-build"))


def obs_build_dir() -> Path:
    """The installed obs-build; fails under CI and skips locally when there is none."""
    for candidate in OBS_BUILD_DIRS:
        if (candidate / "Build.pm").is_file() and (candidate / "Build" / "Docker.pm").is_file():
            return candidate
    unavailable("obs-build is not installed (nox -s setup-host installs it)")


@cache
def obs_build_version() -> str:
    """The upstream release of the installed obs-build (its tags are dates: 20210120)."""
    path = obs_build_dir() / "version"
    text = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    found = re.match(r"\d{8}", text)
    return found.group(0) if found else "0"


def run_reference(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """obs-build's answer for each job (see obs_reference.pl), in order."""
    if not jobs:
        return []
    result = subprocess.run(
        ["perl", str(HERE / "obs_reference.pl"), str(obs_build_dir())],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    answers: list[dict[str, Any]] = json.loads(result.stdout)
    return answers
