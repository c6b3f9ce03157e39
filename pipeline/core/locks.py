"""Locks between processes: one ``flock`` helper, and the per-target build lock built on it.

Why the build lock: the rpms and containers stages rebuild fixed places under
``build/<target>/`` (rpmbuild's ``_topdir`` per product, the work directory per image, the repo),
so two builds of one target at once would delete each other's trees mid-build. Release numbers
are already safe (``ReleaseBook``); this lock makes the trees safe. A second build waits, saying
for whom, then plans again: what the first one built is then up to date and not built twice.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from pipeline.core.console import console

LOCK_NAME = ".build.lock"


@contextmanager
def file_lock(path: Path, *, on_wait: Callable[[IO[str]], None] | None = None) -> Iterator[IO[str]]:
    """Hold an exclusive ``flock`` on ``path`` (created when missing) for the block.

    ``on_wait`` is called, with the open lock file, when another process holds it, before
    waiting: to say who is being waited for. The lock goes with the process, also when killed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(handle)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def build_lock(build_dir: Path, stage: str) -> Iterator[None]:
    """Hold the target's build lock for ``stage``; wait (and say so) while another holds it."""

    def say_whom(handle: IO[str]) -> None:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        console().print(f"[yellow]waiting for the build of {build_dir.name} by {holder}[/]")

    with file_lock(build_dir / LOCK_NAME, on_wait=say_whom) as handle:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} ({stage})\n")
        handle.flush()
        yield
