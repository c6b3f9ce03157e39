"""The `local` target's base image: an openSUSE stand-in built offline-able from Debian packages.

The image Dockerfiles run ``zypper -n install <rpms>`` on top of ``$KUBEVIRTFROM``. For the
offline `local` target that base is built here, once per architecture, in three cached steps:

1. ``debootstrap --arch <arch> --variant=minbase`` of Debian bookworm with zypper and rpm (the
   only step that needs a network: the Debian mirror; for an architecture that is not the
   host's, its second stage runs under qemu-user emulation), kept under
   ``build/base/debootstrap-<arch>-<hash>/rootfs`` and imported as
   ``localhost/pipeline/local-base-rootfs:<hash>`` (an image of that architecture);
2. ``rpmbuild`` of two empty RPMs generated from ``base/local/provides.txt``:
   ``pipeline-local-base`` declares what the Debian tree really provides (shells, glibc with
   the ELF provides rpm's own generator computes from the tree's libraries, coreutils, ...),
   ``pipeline-local-base-stubs`` names the distribution packages the Dockerfiles install that
   the tree lacks (libvirt-client, qemu-x86, nbdkit, ...);
3. ``buildah build --platform`` of ``base/local/Containerfile`` on the imported tree: one rpm
   database for rpm and zypper, the two RPMs installed, an ``/etc/os-release`` that names the
   image for what it is (Debian 12 underneath, ``ID_LIKE=debian``: scripts must not mistake it
   for openSUSE).

Each architecture's result is tagged ``localhost/pipeline/local-base:<hash>-<arch>``; the
manifest list ``localhost/pipeline/local-base:<hash>`` (also tagged ``:latest``) holds every
architecture built of those inputs, so ``FROM`` that name with ``buildah build --platform``
takes the base of the platform being built, as a pulled base's index does. ``<hash>`` digests
every input (the files under ``base/local/``, the suite, and this module's source), so a change
to any of them builds new images and an unchanged tree reuses the old ones.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.config.project import DEFAULT_LOCAL_BASE, LocalBase
from pipeline.core.errors import ContainersError, InputError, Location, ToolError
from pipeline.core.locks import file_lock
from pipeline.core.plan import host_arch, oci_arch, rpm_arch
from pipeline.stages.debian_tree import DEFAULT_MIRROR, HASH_LENGTH, debian_versions, debootstrap
from pipeline.tools import buildah
from pipeline.tools.run import run

log = logging.getLogger("pipeline.stages.local_base")

INPUTS_DIR = DEFAULT_LOCAL_BASE
#: The `local` target's base (``local_base: true``).
LOCAL = LocalBase()
IMAGE = "localhost/pipeline/local-base"
ROOTFS_IMAGE = "localhost/pipeline/local-base-rootfs"
ROOTFS_LABEL = "org.opensuse.pipeline.rootfs"
#: Where the Containerfile's RUN step finds the provides RPMs (a read-only bind mount).
RPMS_MOUNT = "/mnt"


@dataclass(frozen=True)
class BaseImage:
    name: str
    image_id: str
    inputs_hash: str
    built: bool
    #: The rpm architecture it is of (x86_64, aarch64).
    arch: str = ""


@dataclass(frozen=True)
class Provide:
    """One line of provides.txt; ``location`` points back at it for error messages."""

    kind: str
    capability: str
    version: str
    location: Location


# --- inputs ---------------------------------------------------------------------------------


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def read_packages(path: Path) -> list[str]:
    packages = []
    for number, line in _read_lines(path):
        if len(line.split()) != 1 or "," in line:
            raise InputError(
                Location(path, number), f"expected one Debian package name, got {line!r}"
            )
        packages.append(line)
    return packages


def read_provides(path: Path) -> list[Provide]:
    provides = []
    for number, line in _read_lines(path):
        where = Location(path, number)
        kind, _, rest = line.partition(" ")
        capability, _, version = (part.strip() for part in rest.partition("="))
        if kind not in ("provides", "elf", "stub"):
            raise InputError(where, f"unknown kind {kind!r}", hint="use provides, elf or stub")
        if not capability or " " in capability:
            raise InputError(where, f"expected one capability after {kind!r}, got {rest.strip()!r}")
        if version and kind != "provides":
            raise InputError(where, f"{kind} lines take no version")
        provides.append(Provide(kind, capability, version, where))
    return provides


def inputs_hash(base: LocalBase = LOCAL) -> str:
    """Digest of everything the image is made from; the image's tag."""
    inputs_dir = base.inputs_dir
    digest = hashlib.sha256()
    digest.update(f"suite={base.suite}\n".encode())
    digest.update(Path(__file__).read_bytes())
    for path in sorted(p for p in inputs_dir.rglob("*") if p.is_file()):
        digest.update(f"\0{path.relative_to(inputs_dir)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:HASH_LENGTH]


# --- step 1: the provides RPMs (the tree itself: stages/debian_tree.py) -------------------------


def elf_provides(rootfs: Path, pattern: str, where: Location) -> list[str]:
    matches = sorted(p for p in rootfs.glob(pattern.lstrip("/")) if p.is_file())
    if not matches:
        raise InputError(where, f"no file in the base tree matches {pattern!r}")
    out = run(
        ["/usr/lib/rpm/elfdeps", "--provides"], input="\n".join(str(p) for p in matches) + "\n"
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def resolve_provides(provides: list[Provide], rootfs: Path) -> tuple[list[str], list[str]]:
    """(real, stub) ``Provides:`` values, versions resolved, duplicates dropped, order kept."""
    versions = debian_versions(rootfs)
    real: list[str] = []
    stubs: list[str] = []
    for item in provides:
        if item.kind == "elf":
            real.extend(elf_provides(rootfs, item.capability, item.location))
        elif item.kind == "stub":
            stubs.append(item.capability)
        elif item.version.startswith("deb:"):
            package = item.version.removeprefix("deb:")
            if package not in versions:
                raise InputError(
                    item.location,
                    f"Debian package {package!r} is not in the tree",
                    hint="add it to packages.txt or name another package",
                )
            real.append(f"{item.capability} = {versions[package]}")
        else:
            real.append(f"{item.capability} = {item.version}" if item.version else item.capability)
    return list(dict.fromkeys(real)), list(dict.fromkeys(stubs))


def provides_spec(real: list[str], stubs: list[str], release: str) -> str:
    """The spec of the two empty RPMs that carry the capabilities."""
    lines = [
        "Name:           pipeline-local-base",
        "Version:        1",
        f"Release:        {release}",
        "Summary:        What the Debian tree of the pipeline's local base image provides",
        "License:        Apache-2.0",
        "BuildArch:      noarch",
        *(f"Provides:       {cap}" for cap in real),
        "",
        "%description",
        "Records in the rpm database what the Debian packages of this image provide, under",
        "the names openSUSE packages use, so that zypper can install RPMs on top of them.",
        "",
        "%package        stubs",
        "Summary:        Stand-ins for distribution packages this image does not have",
        *(f"Provides:       {cap}" for cap in stubs),
        "",
        "%description    stubs",
        "Names only, no files: these packages are NOT installed in this image. Good for the",
        "offline local target, which builds images of miniature sample sources; never for a",
        "release.",
        "",
        "%files",
        "",
        "%files          stubs",
        "",
    ]
    return "\n".join(lines)


def build_provides_rpms(work_dir: Path, rootfs: Path, provides_file: Path, release: str) -> Path:
    """rpmbuild the provides RPMs under ``work_dir``; returns the directory holding them."""
    real, stubs = resolve_provides(read_provides(provides_file), rootfs)
    shutil.rmtree(work_dir, ignore_errors=True)
    (work_dir / "SPECS").mkdir(parents=True)
    spec = work_dir / "SPECS" / "pipeline-local-base.spec"
    spec.write_text(provides_spec(real, stubs, release))
    rpms = work_dir / "RPMS"
    run(
        [
            "rpmbuild",
            "-bb",
            "--define",
            f"_topdir {work_dir}",
            "--define",
            f"_rpmdir {rpms}",
            "--define",
            "_build_id_links none",
            str(spec),
        ],
        timeout=300,
    )
    return rpms / "noarch"


# --- step 2: the image ------------------------------------------------------------------------


def ensure_local_base(
    build_dir: Path,
    *,
    arch: str | None = None,
    base: LocalBase = LOCAL,
    mirror: str = DEFAULT_MIRROR,
) -> BaseImage:
    """The base image ``base`` of ``arch`` (the host's by default) in local storage, built only
    when its inputs changed."""
    arch = arch or host_arch()
    inputs_dir = base.inputs_dir
    digest = inputs_hash(base)
    name = f"{IMAGE}:{digest}-{arch}"
    base_dir = build_dir.resolve() / "base"
    # Two pipelines (or test workers) on one machine build the base once, not twice at once.
    with file_lock(base_dir / ".lock"):
        stored = {n: image_id for image_id, names in buildah.stored_images().items() for n in names}
        if name in stored:
            return BaseImage(name, stored[name], digest, built=False, arch=arch)
        packages = read_packages(inputs_dir / "packages.txt")
        rootfs, tree_hash = debootstrap(
            base_dir, packages, suite=base.suite, mirror=mirror, arch=arch
        )
        rootfs_image = f"{ROOTFS_IMAGE}:{tree_hash}"
        if not buildah.exists(rootfs_image):
            config = {"cmd": "/bin/bash", "arch": oci_arch(arch)}
            buildah.import_rootfs(rootfs, rootfs_image, config=config)
        work = base_dir / f"rpm-{digest}-{arch}"
        rpms = build_provides_rpms(work, rootfs, inputs_dir / "provides.txt", release=digest)
        for old in base_dir.glob("rpm-*"):  # each is rebuilt in seconds with its image
            if (old.name.endswith(f"-{arch}") and old != work) or old.name.count("-") == 1:
                shutil.rmtree(old, ignore_errors=True)
        image_id = _build_base(inputs_dir, name, rootfs_image, rpms, digest, arch)
        # Earlier bases stay: another checkout or build on this machine may still use one.
        # `prune` removes them (stale_base_images).
        return BaseImage(name, image_id, digest, built=True, arch=arch)


def _build_base(
    inputs_dir: Path, name: str, rootfs_image: str, rpms: Path, digest: str, arch: str
) -> str:
    try:
        return buildah.build(
            inputs_dir,
            inputs_dir / "Containerfile",
            [name],
            build_args={"ROOTFS": rootfs_image},
            volumes=[buildah.Volume(rpms, RPMS_MOUNT)],
            pull_policy="never",
            layers=False,
            platform=f"linux/{oci_arch(arch)}",
            labels={
                "org.opencontainers.image.title": "pipeline local base",
                "org.opensuse.pipeline.inputs-hash": digest,
                ROOTFS_LABEL: rootfs_image,
            },
        )
    except ToolError as exc:
        raise ContainersError(
            f"building the local base image for {arch} failed: {exc.message}", hint=exc.hint
        ) from exc


@dataclass(frozen=True)
class LocalBases:
    """The bases of one build: each architecture's image, and the manifest list holding
    them, whose name the image builds take as ``$KUBEVIRTFROM``."""

    name: str
    images: dict[str, BaseImage]


def ensure_local_bases(
    build_dir: Path,
    arches: tuple[str, ...],
    *,
    base: LocalBase = LOCAL,
    mirror: str = DEFAULT_MIRROR,
) -> LocalBases:
    """Every architecture's base (``ensure_local_base``), and the manifest list
    ``local-base:<hash>`` (and ``:latest``) holding each one built of these inputs."""
    images = {
        arch: ensure_local_base(build_dir, arch=arch, base=base, mirror=mirror) for arch in arches
    }
    digest = inputs_hash(base)
    name = f"{IMAGE}:{digest}"
    with file_lock(LIST_LOCK):
        _sync_list(name, digest)
    return LocalBases(name, images)


def ensure_target_bases(project: Path, target: str) -> LocalBases:
    """The bases of every platform ``target`` of the pipeline.yaml ``project`` declares, in
    its build root (CI's set-up step: the only step that needs the Debian mirror)."""
    from pipeline.config.project import load_project

    chosen = load_project(project).target(target)
    if chosen.local_base is None:
        raise InputError(project, f"target {target!r} builds on a pulled base, not a local one")
    arches = tuple(dict.fromkeys(rpm_arch(platform) for platform in chosen.platforms))
    return ensure_local_bases(project.parent / "build", arches, base=chosen.local_base)


#: Lists are names in the host's one store, shared by every checkout: changed one at a time.
LIST_LOCK = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "kubevirt-pipeline/local-base-list.lock"
)


def _sync_list(name: str, digest: str) -> None:
    """Make the list ``name`` hold every architecture's base of inputs ``digest`` in the store
    (never fewer: a build of one architecture must not take the other from a build running
    beside it), and tag it ``latest``."""
    stored = buildah.stored_images()
    prefix = f"{IMAGE}:{digest}-"
    members = sorted(
        (n.removeprefix(prefix), image_id)
        for image_id, names in stored.items()
        for n in names
        if n.startswith(prefix)
    )
    digests = buildah.manifest_digests()
    wanted = [digests.get(image_id, "") for _, image_id in members]
    found = buildah.manifest_inspect(name)
    listed = [m.get("digest") for m in (found or {}).get("manifests", [])]
    if found is None or listed != wanted:
        if found is not None:
            buildah.manifest_rm(name)
        buildah.manifest_create(name, [image_id for _, image_id in members])
    latest = f"{IMAGE}:latest"
    if name not in next((names for names in stored.values() if latest in names), ()):
        buildah.tag(name, latest)


def stale_base_images(current_bases: tuple[LocalBase, ...] = (LOCAL,)) -> list[str]:
    """Names of local base images and lists (and their root file system images) of other
    inputs than the current ones (every target's of the project): what ``prune`` untags.
    ``latest`` stays."""
    current = {inputs_hash(base) for base in current_bases}
    names = buildah.stored_names()
    bases = [n for n in names if n.startswith(f"{IMAGE}:") and n.rpartition(":")[2] != "latest"]
    ours = [n for n in bases if n.rpartition(":")[2].split("-")[0] in current]
    if not any(n.rpartition(":")[2] not in current for n in ours):
        return []  # no current base is built: keep what there is
    stale = [n for n in bases if n not in ours]
    # Each current base names its root file system image in a label (bases built before the
    # label keep every rootfs image).
    keep = set()
    for base in ours:
        if base.rpartition(":")[2] not in current:  # an image, not a list
            labels = buildah.oci_config(buildah.inspect(base)).get("Labels") or {}
            keep.add(labels.get(ROOTFS_LABEL, ""))
    rootfs = [n for n in names if n.startswith(f"{ROOTFS_IMAGE}:")]
    return stale + [n for n in rootfs if "" not in keep and n not in keep]
