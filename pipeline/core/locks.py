"""One rpms or containers stage of a target at a time.

Why: both stages rebuild fixed places under ``build/<target>/`` (rpmbuild's ``_topdir`` per
product, the work directory per image, the repo), so two builds of one target at once would
delete each other's trees mid-build. Release numbers are already safe (``ReleaseBook``); this
lock makes the trees safe. A second build waits, saying for whom, then plans again: what the
first one built is then up to date and not built twice.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.core.console import console

LOCK_NAME = ".build.lock"


@contextmanager
def build_lock(build_dir: Path, stage: str) -> Iterator[None]:
    """Hold the target's build lock for ``stage``; wait (and say so) while another holds it."""
    build_dir.mkdir(parents=True, exist_ok=True)
    path = build_dir / LOCK_NAME
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            console().print(f"[yellow]waiting for the build of {build_dir.name} by {holder}[/]")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} ({stage})\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
