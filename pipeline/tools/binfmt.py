"""The kernel's binfmt_misc handlers that run another architecture's binaries under qemu-user.

A build for a platform that is not the host's runs that platform's programs: debootstrap's second
stage of the `local` base, every ``RUN`` step of ``buildah build --platform``, ``rpm -qa`` in the
built image. The kernel hands each such binary to the qemu-user emulator registered for its ELF
machine under ``/proc/sys/fs/binfmt_misc`` (qemu-user-static's handlers carry the ``F`` flag: the
emulator is opened at registration, so it works inside a build's chroot too). Registration needs
binfmt_misc mounted and root; inside some containers the kernel refuses either, and then nothing
of another architecture can be built here.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipeline.core.errors import ToolError
from pipeline.tools.run import run

#: Where the kernel's binfmt_misc is mounted (``PIPELINE_BINFMT_DIR`` names another: tests).
DEFAULT_DIR = Path("/proc/sys/fs/binfmt_misc")
#: qemu's names for rpm's architectures (its handlers are ``qemu-<name>``).
QEMU_NAMES = {"i586": "i386", "armv7hl": "arm"}


def binfmt_dir() -> Path:
    return Path(os.environ.get("PIPELINE_BINFMT_DIR") or DEFAULT_DIR)


def qemu_name(arch: str) -> str:
    return QEMU_NAMES.get(arch, arch)


def problem(arch: str, root: Path | None = None) -> str | None:
    """Why binaries of ``arch`` (rpm name) cannot run here, or None when they can."""
    root = root or binfmt_dir()
    if not (root / "register").exists():
        return f"binfmt_misc is not mounted at {root}"
    handler = root / f"qemu-{qemu_name(arch)}"
    try:
        lines = handler.read_text().splitlines()
    except OSError:
        return f"no qemu-{qemu_name(arch)} handler is registered in {root}"
    if not lines or lines[0].strip() != "enabled":
        return f"the qemu-{qemu_name(arch)} handler in {root} is disabled"
    fields = dict(line.split(" ", 1) for line in lines[1:] if " " in line)
    interpreter = fields.get("interpreter", "")
    if "F" not in fields.get("flags:", "") and interpreter and not Path(interpreter).exists():
        return f"the qemu-{qemu_name(arch)} handler's emulator {interpreter} is missing"
    return None


def register(arch: str, root: Path | None = None) -> str | None:
    """Mount binfmt_misc and enable ``arch``'s qemu handler where they are not; returns what
    still stands in the way (the kernel's refusal), or None."""
    root = root or binfmt_dir()
    if problem(arch, root) is None:
        return None
    attempts = []
    if not (root / "register").exists():
        attempts.append(["mount", "-t", "binfmt_misc", "binfmt_misc", str(root)])
    name = f"qemu-{qemu_name(arch)}"
    if shutil.which("update-binfmts"):  # Debian's binfmt-support, qemu-user-static's formats
        attempts.append(["update-binfmts", "--enable", name])
    else:  # systemd's, from the qemu-user package's /usr/lib/binfmt.d/qemu-<arch>*.conf
        confs = sorted(Path("/usr/lib/binfmt.d").glob(f"{name}*.conf"))
        attempts += [["/usr/lib/systemd/systemd-binfmt", str(conf)] for conf in confs]
    failures = []
    for argv in attempts:
        try:
            run(argv, timeout=60)
        except ToolError as exc:
            failures.append(exc.message)
    left = problem(arch, root)
    if left is None:
        return None
    return left + (f" ({failures[-1]})" if failures else "")
