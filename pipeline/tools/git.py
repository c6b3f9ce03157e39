"""The git questions release numbering asks, through the one runner."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from pipeline.tools.run import run


def is_work_tree(root: Path) -> bool:
    resolved = root.resolve()
    if shutil.which("git") is None and not any(
        (directory / ".git").exists() for directory in (resolved, *resolved.parents)
    ):
        # An unpacked source tree on a machine without git: there is no history to count, and
        # asking would need git installed for nothing.
        return False
    inside = run(["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"], check=False)
    return inside.returncode == 0 and inside.stdout.strip() == "true"


def commits_touching(root: Path, paths: Sequence[str]) -> int:
    """Commits of HEAD's history that touch ``paths``; 0 before the first commit."""
    head = run(["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"], check=False)
    if head.returncode != 0:
        return 0
    out = run(["git", "-C", str(root), "rev-list", "--count", "HEAD", "--", *paths])
    return int(out.stdout.strip() or 0)


def has_changes(root: Path, paths: Sequence[str]) -> bool:
    """Uncommitted changes (or untracked files) under ``paths``."""
    status = run(["git", "-C", str(root), "status", "--porcelain", "--", *paths])
    return bool(status.stdout.strip())
