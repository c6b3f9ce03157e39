"""Reading an input file: one place that turns the ways it can fail into an ``InputError``."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.core.errors import InputError


def read_text(path: Path, what: str = "file") -> str:
    """The UTF-8 text of ``path``; a missing or unreadable file is an ``InputError``."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, f"{what} not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def user_cache() -> Path:
    """The pipeline's cache of this user, shared by every project: what depends only on its
    own inputs (the Go toolchain, the build roots)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "kubevirt-pipeline"
