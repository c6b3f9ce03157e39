"""Debian trees made by debootstrap: the root file systems of the local base images
(``stages/local_base.py``) and of step 1's build roots (``stages/build_roots.py``).

A tree is ``debootstrap --variant=minbase`` of a suite, then the wanted packages added by apt in
the tree (chrooted, with its own ``/proc``, no service started). It is cached in a directory
named after its architecture and a hash of its suite and package set, complete once its stamp
is written; the Debian mirror is the only network it needs, once.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from pipeline.core.errors import ContainersError, ToolError
from pipeline.core.plan import host_arch, oci_arch
from pipeline.tools import chroot
from pipeline.tools.run import run

DEFAULT_MIRROR = "http://deb.debian.org/debian"
HASH_LENGTH = 16
#: Left behind by debootstrap and apt; no image needs them and they are a third of the tree.
ROOTFS_CLEANUP = ("var/cache/apt/archives", "var/lib/apt/lists", "var/log", "var/cache/ldconfig")


def _debootstrap_hash(packages: list[str], suite: str, arch: str) -> str:
    text = f"suite={suite}\npackages={','.join(sorted(packages))}\ncleanup={ROOTFS_CLEANUP}\n"
    return hashlib.sha256(f"{text}arch={arch}\n".encode()).hexdigest()[:HASH_LENGTH]


# --- step 1: debootstrap --------------------------------------------------------------------


def debootstrap(
    base_dir: Path,
    packages: list[str],
    *,
    suite: str,
    mirror: str = DEFAULT_MIRROR,
    arch: str | None = None,
    purpose: str = "the `local` base image",
    keep_others: bool = False,
) -> tuple[Path, str]:
    """The cached Debian tree of ``arch`` (rpm name; the host's by default) with ``packages``;
    returns (rootfs, its hash). ``purpose`` names what needs it in errors; ``keep_others``
    keeps the trees of other package sets in ``base_dir`` (the build roots: one per set)."""
    arch = arch or host_arch()
    tree_hash = _debootstrap_hash(packages, suite, arch)
    tree_dir = base_dir / f"debootstrap-{arch}-{tree_hash}"
    rootfs = tree_dir / "rootfs"
    stamp = tree_dir / "complete"
    if stamp.is_file():
        return rootfs, tree_hash
    shutil.rmtree(tree_dir, ignore_errors=True)
    tree_dir.mkdir(parents=True)
    argv = ["debootstrap", f"--arch={oci_arch(arch)}", "--variant=minbase"]
    argv += [suite, str(rootfs), mirror]
    try:
        run(argv, timeout=3600)
        # The packages are added by apt, not by debootstrap's --include: debootstrap installs
        # its extra packages in one dpkg batch, which breaks on a pre-dependency that must be
        # configured first (systemd on libsystemd-shared, which libvirt-daemon-driver-qemu
        # pulls in); apt orders them.
        _apt_install(rootfs, packages)
    except ToolError as exc:
        shutil.rmtree(tree_dir, ignore_errors=True)
        raise ContainersError(
            f"debootstrap of Debian {suite} ({oci_arch(arch)}) with {', '.join(packages)} from "
            f"{mirror} failed: {exc.message}",
            hint=f"{purpose} needs that mirror once (then it is cached under "
            f"{base_dir}); connect to it or pass another mirror; another architecture than "
            f"the host's needs its qemu-user emulator (nox -s setup-host); full log: run "
            f"`{' '.join(argv)}` by hand",
        ) from exc
    _clean_tree(rootfs)
    stamp.write_text(" ".join(argv) + "\n")
    if not keep_others:
        _drop_other_trees(base_dir, tree_dir, arch, suite)
    return rootfs, tree_hash


def _drop_other_trees(base_dir: Path, tree_dir: Path, arch: str, suite: str) -> None:
    """Other trees of this architecture and suite are of other inputs (another suite's is
    another target's base); trees of the one-tree layout (debootstrap-<hash>) were the host's."""
    for old in base_dir.glob("debootstrap-*"):
        if old == tree_dir:
            continue
        if old.name.count("-") == 1 or (
            old.name.startswith(f"debootstrap-{arch}-") and _suite_of(old) in (suite, "")
        ):
            shutil.rmtree(old, ignore_errors=True)


#: A policy-rc.d that forbids starting services: packages installed into a tree must not
#: start their daemons on the host's kernel.
NO_SERVICES = "#!/bin/sh\nexit 101\n"


def _apt_install(rootfs: Path, packages: list[str]) -> None:
    """``apt-get install`` of ``packages`` (no recommends) in the debootstrapped ``rootfs``."""
    if not packages:
        return
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text(NO_SERVICES)
    policy.chmod(0o755)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND": "noninteractive",
        "LC_ALL": "C",
    }
    apt = ["apt-get", "-o", "Dpkg::Options::=--force-confdef", "-y"]
    try:
        run(chroot.command(rootfs, [*apt, "update"], env), timeout=1800)
        install = [*apt, "--no-install-recommends", "install", *packages]
        run(chroot.command(rootfs, install, env), timeout=3600)
        run(chroot.command(rootfs, [*apt, "clean"], env), timeout=600)
    finally:
        policy.unlink(missing_ok=True)


def _suite_of(tree_dir: Path) -> str:
    """The suite a tree was made of, from its stamp (the debootstrap command), or ""."""
    stamp = tree_dir / "complete"
    argv = stamp.read_text().split() if stamp.is_file() else []
    return argv[-3] if len(argv) >= 3 else ""


def _clean_tree(rootfs: Path) -> None:
    for relative in ROOTFS_CLEANUP:
        target = rootfs / relative
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()


# --- what a tree holds -----------------------------------------------------------------------


def debian_versions(rootfs: Path) -> dict[str, str]:
    """Upstream version of every installed package in the tree's dpkg database."""
    versions: dict[str, str] = {}
    status = (rootfs / "var/lib/dpkg/status").read_text()
    for stanza in status.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            versions[fields["Package"]] = rpm_version(fields["Version"])
    return versions


def rpm_version(debian_version: str) -> str:
    """``1:9.1-3+b1`` -> ``9.1``: the upstream part, which is what an openSUSE version means."""
    upstream = debian_version.split(":", 1)[-1]
    if "-" in upstream:
        upstream = upstream.rsplit("-", 1)[0]
    return upstream.replace("-", "_")
