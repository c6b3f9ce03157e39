"""Commands run inside a build root: ``chroot`` with only their own environment, in a mount and
PID namespace of their own (``unshare``) where the root has its own ``/proc`` (a spec's
``<(…)`` needs ``/dev/fd``, a link into it) and the host directories they need are bind-mounted:
nothing stays mounted on the host after them, also when they are killed, and they see no host
process."""

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
    namespace = ["unshare", "--mount", "--pid", "--fork", f"--mount-proc={root / 'proc'}", "--"]
    if not binds:
        return [*namespace, *inner]
    mounts = "".join(f'mount --bind "${2 * i + 1}" "${2 * i + 2}" && ' for i in range(len(binds)))
    script = f'{mounts}shift {2 * len(binds)} && exec "$@"'
    places = [str(p) for host, inside in binds for p in (host, root / inside.lstrip("/"))]
    return [*namespace, "sh", "-c", script, "sh", *places, *inner]
