"""Commands run inside a build root: ``chroot`` with only their own environment, and the host
directories they need bind-mounted in a mount namespace of their own (``unshare --mount``):
nothing stays mounted on the host after them, also when they are killed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def command(
    root: Path,
    argv: Sequence[str],
    env: Mapping[str, str],
    binds: Sequence[tuple[Path, str]] = (),
) -> list[str]:
    """The argv that runs ``argv`` chrooted in ``root`` with ``env`` alone, each
    ``(host directory, absolute path in the root)`` of ``binds`` mounted there for it."""
    inner = ["chroot", str(root), "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items())]
    inner += argv
    if not binds:
        return inner
    mounts = "".join(f'mount --bind "${2 * i + 1}" "${2 * i + 2}" && ' for i in range(len(binds)))
    script = f'{mounts}shift {2 * len(binds)} && exec "$@"'
    places = [str(p) for host, inside in binds for p in (host, root / inside.lstrip("/"))]
    return ["unshare", "--mount", "--", "sh", "-c", script, "sh", *places, *inner]
