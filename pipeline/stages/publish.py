"""publish: push every image of the last build, each tag an index of every architecture it was
built for, then (only when all are in) move the floating tags and write the release bundles.

Order is the promise: (0) every *unique* tag of the set (``<version>-<release>``, and OBS's
``<version>.<RELEASE>``) is read from the registry first: one that names another image refuses
the whole set, nothing pushed (exit 4), because a unique tag never moves; (1) every unique tag is
pushed as an OCI image index (``stages.index``: every architecture's image first, the index
last) and read back; (2) only then do the *floating* tags (``<version>``) move, by copying the
index already there (same digest); (3) last, each product's release bundle
``build/<target>/releases/<product>-<tag>/`` (record, digest-pinned manifests, summary) is
written. Interrupted or failed anywhere, even between two architectures of one image, no
floating tag points at an incomplete set and no release record claims one; a re-run pushes only
what is missing and finishes the job.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.table import Table

from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import PublishError, RegistryError, TagConflictError, ToolError
from pipeline.core.plan import rpm_arch
from pipeline.core.report import ImageBuild, RpmsSection
from pipeline.images.reference import is_loopback_host, parse_reference
from pipeline.images.registry import NotFound, RegistryClient, RetryPolicy
from pipeline.images.shipped import unpack_manifests
from pipeline.stages.bundle import write_bundle
from pipeline.stages.index import (
    holds_these_images,
    local_list,
    push_index,
    remove_abandoned_lists,
)
from pipeline.tools import skopeo
from pipeline.tools.registry_server import DEFAULT_ROOT, start
from pipeline.tools.run import recording


@dataclass
class Pushed:
    image: str
    product: str
    reference: str
    digest: str = ""
    pushed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    floating: list[str] = field(default_factory=list)


def floating(tag: str, version: str) -> bool:
    """A tag that moves from release to release: the bare version."""
    return tag.rsplit(":", 1)[-1] == version


def publish(ctx: Context) -> list[Pushed]:
    rpms, images = _complete_build(ctx)
    ensure_local_registry(ctx, next(iter(images.values())).reference.split("/", 1)[0])
    with recording(), RegistryClient() as client, tempfile.TemporaryDirectory() as tmp:
        for name in remove_abandoned_lists():
            console().print(f"[dim]removed {name}: a list a killed publish left behind[/]")
        there = _refuse_moved_tags(client, rpms, images)
        results = [
            _push_unique(client, rpms, image, there.get(image.name, ""), Path(tmp))
            for image in images.values()
        ]
        _read_back(client, results)
        for done in results:
            version = rpms.products[done.product].version
            _move_floating(client, done, images[done.image], version)
        _write_bundles(ctx, rpms, images, results)
    ctx.report.record_digests({r.image: r.digest for r in results})
    return results


def ensure_local_registry(ctx: Context, registry: str) -> None:
    """The `local` target publishes to the loopback registry; start it when nothing answers."""
    if not (ctx.target.local_base and is_loopback_host(registry)):
        return
    try:
        with RegistryClient(retry=RetryPolicy(attempts=1, total_seconds=2)) as client:
            client.ping(registry)
        return
    except RegistryError:
        pass
    server = start(ctx.project.root / DEFAULT_ROOT, port=int(registry.rsplit(":", 1)[1]))
    console().print(f"started the local registry on {server.address} (pid {server.pid})")


def _complete_build(ctx: Context) -> tuple[RpmsSection, dict[str, ImageBuild]]:
    """The last build's sections, when every image of every product is built for its tag."""
    rpms = ctx.report.require_rpms()
    built = ctx.report.require_containers().images
    problems = []
    for name, product in ctx.project.products.items():
        version = ctx.target.products[name].version
        tag = rpms.products[name].tag if name in rpms.products else "?"
        for image in product.images_for(version):
            entry = built.get(image.name)
            if entry is None or not entry.usable:
                problems.append(f"{image.name} ({entry.state if entry else 'not built'})")
            elif not entry.reference.endswith(f":{tag}"):
                problems.append(f"{image.name} (built for {entry.reference}, not {tag})")
    if problems:
        raise PublishError(
            "the last build is incomplete, nothing was published: " + ", ".join(problems),
            hint="run the build again (nox -s build); a release is published whole or not at all",
        )
    _same_platforms(ctx, rpms)
    return rpms, {name: entry for name, entry in built.items() if entry.usable}


def _same_platforms(ctx: Context, rpms: RpmsSection) -> None:
    """The set is published for the architectures it was built for, never fewer: a unique tag
    naming an index of one architecture could not later name one of two."""
    wanted = tuple(rpm_arch(platform) for platform in ctx.platforms)
    for name, entry in rpms.products.items():
        if entry.arches != wanted:
            raise PublishError(
                f"{name} {entry.tag} was built for {', '.join(entry.arches)}, this publish is "
                f"for {', '.join(wanted)}: nothing was published",
                hint="publish with the --platforms the build had, or build again with these",
            )


def unique_tags(image: ImageBuild, version: str) -> list[str]:
    return [tag for tag in image.tags if not floating(tag, version)]


def _refuse_moved_tags(
    client: RegistryClient, rpms: RpmsSection, images: dict[str, ImageBuild]
) -> dict[str, str]:
    """Every unique tag of the set, read before anything is pushed. A tag already in the
    registry is ours when it names this build's image: the digest publish recorded, or, for an
    image never pushed from here, a manifest whose config is this image (its id). Any other
    image there refuses the whole set. Returns image name -> the digest its tags hold."""
    ours: dict[str, str] = {}
    conflicts = []
    for image in images.values():
        for tag in unique_tags(image, rpms.products[image.product].version):
            there = client.head_manifest(tag)
            if isinstance(there, NotFound):
                continue
            if image.digest:
                mine_there = there.digest == image.digest
            else:  # never pushed from here: the same set when each platform's config is ours
                mine_there = holds_these_images(client, tag, image)
            if mine_there:
                ours[image.name] = there.digest
                continue
            ids = ", ".join(f"{a.platform} sha256:{a.id}" for a in image.arches.values())
            mine = image.digest or f"an index of {ids} (not pushed yet)"
            conflicts.append(f"{tag} holds {there.digest}, this build's is {mine}")
    if conflicts:
        more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
        raise TagConflictError(
            f"{conflicts[0]}{more}: a unique tag never moves, nothing was pushed",
            hint="build a new release (nox -s build -- --force), or find out who wrote the tag",
        )
    return ours


def _lost_an_arch(client: RegistryClient, tag: str, digest: str) -> bool:
    """Whether the index at ``tag`` names an architecture's image deleted since it was pushed."""
    details = client.details(tag, digest)
    return isinstance(details, NotFound) or bool(details.gone)


def _push_unique(
    client: RegistryClient, rpms: RpmsSection, image: ImageBuild, there: str, tmp: Path
) -> Pushed:
    """Push every unique tag of ``image`` the registry does not hold yet, as an index of every
    architecture's image."""
    product = rpms.products[image.product]
    done = Pushed(image.name, image.product, image.reference)
    recorded = image.digest or there
    missing = []
    for tag in unique_tags(image, product.version):
        found = client.head_manifest(tag)
        if (
            not isinstance(found, NotFound)
            and recorded
            and found.digest == recorded
            and not _lost_an_arch(client, tag, found.digest)
        ):
            done.skipped.append(tag)
        else:  # not there, or an architecture's image deleted since: pushed (again)
            missing.append(tag)
    if missing:
        with local_list(image) as name:
            for tag in missing:
                with console().status(f"push {tag} ({', '.join(image.arches)})"):
                    digest = push_index(name, tag, tmp)
                done.pushed.append(tag)
                if recorded and digest != recorded:
                    raise PublishError(f"{tag}: pushed digest {digest} differs from {recorded}")
                recorded = digest
    done.digest = recorded
    console().print(
        f"[green]✓[/] {image.name}: {len(done.pushed)} pushed, {len(done.skipped)} already there"
    )
    return done


def _read_back(client: RegistryClient, results: list[Pushed]) -> None:
    """Every reference, read back: the set is complete before anything floats."""
    for done in results:
        there = client.head_manifest(done.reference)
        if isinstance(there, NotFound):
            raise PublishError(
                f"{done.reference} is not in the registry after the push",
                hint="re-run publish; nothing floating was moved",
            )
        if there.digest != done.digest:
            raise PublishError(
                f"{done.reference}: the registry answers {there.digest}, the push gave "
                f"{done.digest}",
                hint="a proxy or another writer changed it; nothing floating was moved",
            )


def _move_floating(client: RegistryClient, done: Pushed, image: ImageBuild, version: str) -> None:
    for tag in image.tags:
        if not floating(tag, version):
            continue
        there = client.head_manifest(tag)
        if isinstance(there, NotFound) or there.digest != done.digest:
            source = parse_reference(done.reference).with_digest(done.digest)
            skopeo.copy_manifest(str(source), tag, tls_verify=not is_loopback_host(source.registry))
        done.floating.append(tag)


def _write_bundles(
    ctx: Context, rpms: RpmsSection, images: dict[str, ImageBuild], results: list[Pushed]
) -> None:
    digests = {r.reference: r.digest for r in results}
    with tempfile.TemporaryDirectory(dir=ctx.build_dir) as tmp:
        shipped = unpack_manifests(ctx.project, rpms, ctx.report_path, Path(tmp))
        for found in shipped:
            product = ctx.project.products[found.product]
            members = [i for i in images.values() if i.product == found.product]
            write_bundle(
                ctx.build_dir,
                ctx.target.name,
                product,
                rpms.products[found.product],
                members,
                digests,
                found,
            )


def summary(results: list[Pushed]) -> Table:
    table = Table(title="publish", title_justify="left")
    for column in ("image", "reference", "digest", "pushed", "already there", "floating"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            r.image,
            r.reference,
            r.digest[:19],
            str(len(r.pushed)),
            str(len(r.skipped)),
            ", ".join(t.rsplit(":", 1)[1] for t in r.floating),
        )
    return table


def main(ctx: Context) -> int:
    try:
        results = publish(ctx)
    except ToolError as exc:
        raise PublishError(
            f"{exc.message}; no floating tag was moved",
            hint="re-run publish: it pushes only what is missing",
        ) from exc
    except RegistryError as exc:
        raise RegistryError(
            f"{exc.message}; no floating tag was moved",
            hint="re-run publish when the registry answers",
        ) from exc
    console().print(summary(results))
    emit(ctx.options, {"published": [asdict(r) for r in results]})
    return 0
