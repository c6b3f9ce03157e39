"""prune: remove what old releases left in buildah's storage and in the loopback registry.

Every build leaves images in buildah's store and every publish leaves tags and blobs in the
registry; nothing else removes them. For each product of the target, prune keeps:

- the last N releases (``--keep N``, default 3), newest by the order the release book handed
  them out;
- the release of the last build (``report.json``), whatever its age.

Every other release is retired: its release bundle moves from ``build/<target>/releases/`` to
``build/<target>/retired/`` (the record of what was published stays, but ``verify-tags`` no
longer holds the registry to it), and its images go: from buildah's store (only images named
``<registry path>/<image>:<tag>`` of the target's products; the store is shared with anything
else on the machine) and from the loopback registry (each manifest deleted by digest, so every tag
naming it goes too; then the registry's garbage collection, with the registry stopped, removes
the blobs no manifest references). An image whose id or digest is also named by something kept
stays. ``--dry-run`` shows the same decisions and removes nothing. The space freed is measured:
the disk usage of the store and of the registry's storage before and after.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import ToolError
from pipeline.core.locks import build_lock
from pipeline.core.release import RELEASE_RE, ReleaseBook, ReleaseRecord
from pipeline.images.reference import is_loopback_host
from pipeline.images.registry import NotFound, RegistryClient
from pipeline.images.registry.models import ManifestInfo, as_reference
from pipeline.images.registry.transport import expect_ok
from pipeline.obs.prjconf import load_prjconf
from pipeline.stages import local_base
from pipeline.stages.plan import coordinates
from pipeline.tools import buildah, registry_server

#: ``<version>-<release>``: the unique tag every image of a release carries.
UNIQUE_TAG = re.compile(r"(?P<version>.+)-(?P<release>\d+(?:\.\d+)*)")
#: A release's image of one architecture in local storage: ``<version>-<release>-<arch>``.
ARCH_SUFFIX = re.compile(r"-(?:x86_64|aarch64|i586|s390x|ppc64le|riscv64)$")


@dataclass(frozen=True)
class Found:
    """One image in one place: a store image (``key`` its id) or a registry manifest (``key``
    ``repository@digest``), with the tags naming it and the releases those tags give."""

    where: str
    product: str
    key: str
    names: tuple[str, ...]
    releases: frozenset[str]


@dataclass(frozen=True)
class Verdict:
    product: str
    release: str
    #: Why the release stays; "" when it goes.
    kept: str


def release_of(tag: str, versions: set[str]) -> str | None:
    """The release a tag names: ``<version>-<release>``, or OBS's ``<version>.<release>`` for a
    version some unique tag of the same images has. A bare ``<version>`` (the floating tag)
    names no release: it goes only with the manifest it points at."""
    tag = ARCH_SUFFIX.sub("", tag)
    match = UNIQUE_TAG.fullmatch(tag)
    if match:
        return match["release"]
    for version in versions:
        release = tag.removeprefix(f"{version}.")
        if release != tag and RELEASE_RE.fullmatch(release):
            return release
    return None


def versions_of(tags: list[str]) -> set[str]:
    unique = (UNIQUE_TAG.fullmatch(ARCH_SUFFIX.sub("", tag)) for tag in tags)
    return {match["version"] for match in unique if match}


def _repositories(ctx: Context) -> dict[str, str]:
    """Image name -> product, for every image any version of a product ships."""
    return {i.name: p.name for p in ctx.project.products.values() for i in p.images}


def _split(name: str, registry_path: str, repos: dict[str, str]) -> tuple[str, str] | None:
    """``(image, tag)`` of a full image name under ``registry_path``, for our images only."""
    if not name.startswith(f"{registry_path}/"):
        return None
    repo, _, tag = name.removeprefix(f"{registry_path}/").rpartition(":")
    return (repo, tag) if repo in repos and tag else None


def store_images(registry_path: str, repos: dict[str, str]) -> list[Found]:
    stored = buildah.stored_images()
    named = {
        image_id: [part for name in names if (part := _split(name, registry_path, repos))]
        for image_id, names in stored.items()
    }
    versions = versions_of([tag for parts in named.values() for _, tag in parts])
    found = []
    for image_id, ours in named.items():
        releases = frozenset(r for _, tag in ours if (r := release_of(tag, versions)))
        if releases:
            names = tuple(sorted(stored[image_id]))
            found.append(Found("buildah", repos[ours[0][0]], image_id, names, releases))
    return found


def registry_images(
    client: RegistryClient, registry_path: str, repos: dict[str, str]
) -> list[Found]:
    found = []
    for repo, product in sorted(repos.items()):
        tags = client.list_tags(f"{registry_path}/{repo}:latest")
        versions = versions_of(tags)
        by_digest: dict[str, list[str]] = defaultdict(list)
        for tag in tags:
            info = client.head_manifest(f"{registry_path}/{repo}:{tag}")
            if not isinstance(info, NotFound):
                by_digest[info.digest].append(tag)
        for digest, named in sorted(by_digest.items()):
            releases = frozenset(r for tag in named if (r := release_of(tag, versions)))
            if releases:
                names = tuple(f"{repo}:{tag}" for tag in sorted(named))
                found.append(Found("registry", product, f"{repo}@{digest}", names, releases))
    return found


def _last_build(ctx: Context) -> tuple[dict[tuple[str, str], str], set[str]]:
    """The releases of the last build, and the image ids and digests it names."""
    kept: dict[tuple[str, str], str] = {}
    keys: set[str] = set()
    containers = ctx.report.containers()
    for image in containers.images.values() if containers else ():
        if image.release:
            kept.setdefault((image.product, image.release), "the last build")
        ids = [arch.id for arch in image.arches.values()]
        keys.update(key for key in (*ids, image.digest) if key)
    return kept, keys


def protected_keys(ctx: Context, decided: list[Verdict]) -> set[str]:
    """Image ids and digests that something kept names: the last build, and the bundles of the
    releases that stay (an image shared with a release that goes stays)."""
    staying = {(v.product, v.release) for v in decided if v.kept}
    _, keys = _last_build(ctx)
    for record in ReleaseRecord.load_all(ctx.build_dir):
        if (record.product, record.release) in staying:
            keys.update(record.images.values())
    return keys


def verdicts(ctx: Context, found: list[Found]) -> list[Verdict]:
    """Every release of every product, oldest first, and whether (and why) it stays."""
    kept, _ = _last_build(ctx)
    book = ReleaseBook(ctx.build_dir)
    result = []
    for product in ctx.project.products:
        taken = book.taken(product)
        releases = {r for f in found if f.product == product for r in f.releases}
        releases |= {release for (name, release) in kept if name == product}
        releases |= {
            r.release for r in ReleaseRecord.load_all(ctx.build_dir) if r.product == product
        }
        order = sorted(releases, key=lambda r: (taken.index(r) if r in taken else -1, _key(r)))
        newest = set(order[-ctx.options.keep :])
        for release in order:
            reason = kept.get((product, release), "")
            if release in newest:
                reason = reason or f"one of the last {ctx.options.keep}"
            result.append(Verdict(product, release, reason))
    return result


def _key(release: str) -> tuple[int, ...]:
    return tuple(int(part) for part in release.split("."))


def doomed(ctx: Context, found: list[Found], decided: list[Verdict]) -> list[Found]:
    """What goes: images all of whose releases go, named by nothing kept."""
    going = {(v.product, v.release) for v in decided if not v.kept}
    protected = protected_keys(ctx, decided)
    result = []
    for item in found:
        key = item.key.rpartition("@")[2]
        if key in protected:
            continue
        if all((item.product, release) in going for release in item.releases):
            result.append(item)
    return result


def disk_bytes(path: Path) -> int:
    """Disk space used under ``path`` (blocks, each inode once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _, files in os.walk(path):
        for name in (".", *files):
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


@dataclass(frozen=True)
class LocalRegistry:
    """The project's loopback registry, when the target's registry (or ``--registry``) is it."""

    root: Path
    address: str
    port: int

    @property
    def storage(self) -> Path:
        return self.root / "storage"


def local_registry(ctx: Context, address: str) -> tuple[LocalRegistry | None, str]:
    """The loopback registry to prune, or None and why not."""
    root = (ctx.project.root / registry_server.DEFAULT_ROOT).resolve()
    port = address.rpartition(":")[2]
    if not is_loopback_host(address) or not port.isdigit():
        return None, f"{address} is not a loopback registry: its tags are left alone"
    if not (root / registry_server.CONFIG_FILE).is_file():
        return None, f"no loopback registry has run under {root}"
    running = registry_server.status(root)
    if running is not None and running.port != int(port):
        return None, f"{address} is not the registry of {root} (that one is on {running.port})"
    return LocalRegistry(root, address, int(port)), ""


def registry_found(where: LocalRegistry, registry_path: str, repos: dict[str, str]) -> list[Found]:
    """The registry's images of our releases; the registry is started for it when it was not
    running, and left as it was."""
    was_running = registry_server.status(where.root) is not None
    registry_server.start(where.root, port=where.port)
    try:
        with RegistryClient() as client:
            return registry_images(client, registry_path, repos)
    finally:
        if not was_running:
            registry_server.stop(where.root)


def delete_manifests(where: LocalRegistry, registry_path: str, going: list[Found]) -> None:
    """Delete each manifest by digest (an index, and then each architecture's image in it:
    untagged, they would keep their blobs), then collect the garbage with the registry
    stopped."""
    was_running = registry_server.status(where.root) is not None
    registry_server.start(where.root, port=where.port)
    with RegistryClient() as client:
        for item in going:
            repo, _, digest = item.key.partition("@")
            ref = as_reference(f"{registry_path}/{repo}@{digest}")
            answer = client.get_manifest_document(ref)
            children = [] if isinstance(answer, NotFound) else _children(*answer)
            for each in (digest, *children):
                response = client.auth.request("DELETE", ref, f"manifests/{each}", actions="delete")
                with response:
                    if response.status_code != 404:
                        expect_ok(response, "DELETE", ref)
    registry_server.stop(where.root)
    registry_server.garbage_collect(where.root)
    if was_running:
        registry_server.start(where.root, port=where.port)


def _children(info: ManifestInfo, doc: dict[str, Any]) -> list[str]:
    """The manifest digests an index names; none for an image."""
    if not info.is_index:
        return []
    return [str(m["digest"]) for m in doc.get("manifests", []) if isinstance(m, dict)]


def show(decided: list[Verdict], going: list[Found], dry_run: bool, freed: dict[str, int]) -> None:
    table = Table(title="prune (dry run)" if dry_run else "prune", title_justify="left")
    for column in ("product", "release", "", "images removed"):
        table.add_column(column)
    for verdict in decided:
        removed = [
            f"{i.where} {i.names[0]}"
            for i in going
            if i.product == verdict.product and verdict.release in i.releases
        ]
        state = f"kept: {verdict.kept}" if verdict.kept else "goes"
        table.add_row(verdict.product, verdict.release, state, "\n".join(removed) or "-")
    console().print(table)
    if not dry_run:
        console().print(
            f"freed {freed['buildah'] / 2**20:.1f} MiB in buildah's storage, "
            f"{freed['registry'] / 2**20:.1f} MiB in the registry"
        )


def prune(ctx: Context) -> dict[str, object]:
    where_to = coordinates(ctx, load_prjconf(ctx.target.prjconf))
    repos = _repositories(ctx)
    registry, why_not = local_registry(ctx, where_to.registry)
    found = store_images(where_to.registry_path, repos)
    if registry is not None:
        found += registry_found(registry, where_to.registry_path, repos)
    decided = verdicts(ctx, found)
    going = doomed(ctx, found, decided)
    freed = {"buildah": 0, "registry": 0}
    retired = retire_bundles(ctx, decided, dry_run=ctx.options.dry_run)
    # Builds never remove an earlier local base (another checkout may still use it): prune does.
    current = tuple(t.local_base for t in ctx.project.targets.values() if t.local_base)
    bases = local_base.stale_base_images(current) if ctx.target.local_base else []
    if not ctx.options.dry_run:
        freed = remove(going, registry, where_to.registry_path, bases)
    show(decided, going, ctx.options.dry_run, freed)
    if bases:
        verb = "would untag" if ctx.options.dry_run else "untagged"
        console().print(f"{verb} the earlier local base images {', '.join(bases)}")
    if retired:
        verb = "would retire" if ctx.options.dry_run else "retired"
        console().print(f"{verb} the release bundles {', '.join(retired)} (to build/.../retired/)")
    if why_not:
        console().print(f"registry not pruned: {why_not}")
    return {
        "keep": ctx.options.keep,
        "dry_run": ctx.options.dry_run,
        "releases": [asdict(v) for v in decided],
        "removed": [{**asdict(i), "releases": sorted(i.releases)} for i in going],
        "freed": freed,
        "retired": retired,
        "stale_bases": bases,
        "registry_skipped": why_not,
    }


def retire_bundles(ctx: Context, decided: list[Verdict], *, dry_run: bool) -> list[str]:
    """Move the bundles of the releases that go to ``build/<target>/retired/``; their names."""
    going = {(v.product, v.release) for v in decided if not v.kept}
    names = []
    for record in ReleaseRecord.load_all(ctx.build_dir):
        if (record.product, record.release) not in going:
            continue
        bundle = ReleaseRecord.bundle(ctx.build_dir, record.product, record.tag)
        names.append(bundle.name)
        if not dry_run:
            (ctx.build_dir / "retired").mkdir(exist_ok=True)
            bundle.rename(ctx.build_dir / "retired" / bundle.name)
    return names


def remove(
    going: list[Found], registry: LocalRegistry | None, registry_path: str, bases: list[str]
) -> dict[str, int]:
    """Remove ``going`` and untag the stale ``bases``; the bytes each storage shrank by."""
    store = buildah.store_root()
    before = disk_bytes(store)
    ids = [item.key for item in going if item.where == "buildah"]
    if ids:
        buildah.rmi(*ids, force=True)
    if bases:
        try:
            buildah.rmi(*bases)
        except ToolError as exc:  # an image built on an old base keeps its layers: fine
            console().print(f"[yellow]earlier bases not all untagged: {exc.message}[/]")
    freed = {"buildah": max(0, before - disk_bytes(store)), "registry": 0}
    manifests = [item for item in going if item.where == "registry"]
    if registry is not None and manifests:
        before = disk_bytes(registry.storage)
        delete_manifests(registry, registry_path, manifests)
        freed["registry"] = max(0, before - disk_bytes(registry.storage))
    return freed


def main(ctx: Context) -> int:
    # Under the build lock: a build running meanwhile could be committing an image of a release
    # this run is deciding about.
    with build_lock(ctx.build_dir, "prune"):
        result = prune(ctx)
    emit(ctx.options, result)
    return 0
