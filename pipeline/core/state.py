"""JSON files that several processes update: an exclusive lock, then an atomic replace.

Why: two builds of one target may run at once (CI retries, a maintainer and a cron job); the
release counters and the build report must neither lose an update nor be left half-written when a
build is killed. ``flock`` on a side file serialises the read-modify-write; ``os.replace`` of a
fully written temporary file makes each write all-or-nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.core.errors import InputError
from pipeline.core.locks import file_lock


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; ``{}`` when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            path,
            f"not valid JSON ({exc.msg} at line {exc.lineno})",
            hint="it is pipeline state: delete it only if you know no build depends on it",
        ) from exc
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object")
    return data


def write_json(path: Path, data: Any) -> None:
    """Write atomically: readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@contextmanager
def locked_update(path: Path) -> Iterator[dict[str, Any]]:
    """Read ``path`` under the lock, let the caller change the dict, write it back atomically.

    When the block raises, nothing is written.
    """
    # The lock is on a side file, so replacing ``path`` itself stays atomic.
    with file_lock(path.with_name(f".{path.name}.lock")):
        data = read_json(path)
        yield data
        write_json(path, data)
