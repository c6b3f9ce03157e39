"""Digests of build inputs: what decides whether something is up to date."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

#: Never part of an input: VCS data, upstream's build output (``_out``) and tool caches that may
#: sit inside a sample tree. (Not ``build``: CDI keeps its scripts in ``hack/build/``.)
IGNORED_DIRS = frozenset({".git", "_out", "__pycache__", ".nox"})


def _files(path: Path) -> Iterable[Path]:
    if path.is_file():
        yield path
        return
    for directory, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        for name in sorted(filenames):
            yield Path(directory) / name


def tree_digest(paths: Iterable[Path], root: Path, extra: Iterable[str] = ()) -> str:
    """sha256 over the relative names, executable bits and contents of every file under
    ``paths``, plus ``extra`` strings (versions, macros): equal digests mean equal inputs."""
    digest = hashlib.sha256()
    for text in extra:
        digest.update(b"extra\0" + text.encode() + b"\0")
    for path in paths:
        for file in _files(path):
            name = file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)
            executable = b"x" if os.access(file, os.X_OK) else b"-"
            digest.update(b"file\0" + name.encode() + b"\0" + executable + b"\0")
            with file.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            digest.update(b"\0")
    return digest.hexdigest()


def digest_of_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def combined_digest(parts: dict[str, str]) -> str:
    """One digest over named digests (order-independent: sorted by name)."""
    return digest_of_text("".join(f"{name}\0{value}\0" for name, value in sorted(parts.items())))
