"""publish: push every image of the last build, then (only when all are in) move the floating
tags and write the release record.

Order is the promise: (1) every *unique* tag of every image (``<version>-<release>``, and OBS's
``<version>.<RELEASE>``) is pushed and read back from the registry; (2) only then do the
*floating* tags (``<version>``) move, by copying the manifest already there (same digest); (3)
last, ``build/<target>/releases/<product>-<tag>.json`` records the manifests' sha256 and every
image's digest. Interrupted or failed anywhere, no floating tag points at an incomplete set and
no release record claims one; a re-run pushes only what is missing and finishes the job.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.table import Table

from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import PublishError, RegistryError, ToolError
from pipeline.core.release import ReleaseRecord
from pipeline.core.report import ImageBuild, RpmsSection
from pipeline.images.reference import is_loopback_host, parse_reference
from pipeline.images.registry import NotFound, RegistryClient, RetryPolicy
from pipeline.images.shipped import unpack_manifests
from pipeline.tools import buildah, skopeo
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
        results = [_push_unique(ctx, client, rpms, image, Path(tmp)) for image in images.values()]
        _read_back(client, results)
        for done in results:
            version = rpms.products[done.product].version
            _move_floating(client, done, images[done.image], version)
        _write_records(ctx, rpms, results)
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
    return rpms, {name: entry for name, entry in built.items() if entry.usable}


def _push_unique(
    ctx: Context, client: RegistryClient, rpms: RpmsSection, image: ImageBuild, tmp: Path
) -> Pushed:
    """Push every unique tag of ``image``, skipping what the registry holds with our digest."""
    product = rpms.products[image.product]
    done = Pushed(image.name, image.product, image.reference)
    recorded = image.digest
    for tag in image.tags:
        if floating(tag, product.version):
            continue
        there = client.head_manifest(tag)
        if not isinstance(there, NotFound) and recorded and there.digest == recorded:
            done.skipped.append(tag)
            continue
        _withdraw_record(ctx, image.product, product.tag)
        with console().status(f"push {tag}"):
            digest = _push(image.id, tag, tmp)
        done.pushed.append(tag)
        if recorded and digest != recorded:
            raise PublishError(f"{tag}: pushed digest {digest} differs from {recorded}")
        recorded = digest
    done.digest = recorded
    console().print(
        f"[green]✓[/] {image.name}: {len(done.pushed)} pushed, {len(done.skipped)} already there"
    )
    return done


def _push(image_id: str, tag: str, workdir: Path) -> str:
    ref = parse_reference(tag)
    digestfile = workdir / f"{hashlib.sha256(tag.encode()).hexdigest()[:16]}.digest"
    digest = buildah.push(
        image_id,
        f"docker://{tag}",
        digestfile=digestfile,
        tls_verify=not is_loopback_host(ref.registry),
    )
    if not digest:
        raise PublishError(f"buildah push {tag} reported no digest")
    return digest


def _read_back(client: RegistryClient, results: list[Pushed]) -> None:
    """Every reference, read back: the set is complete before anything floats."""
    for done in results:
        there = client.head_manifest(done.reference)
        if isinstance(there, NotFound) or there.digest != done.digest:
            raise PublishError(
                f"{done.reference} is not in the registry after the push",
                hint="re-run publish; nothing floating was moved",
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


def _withdraw_record(ctx: Context, product: str, tag: str) -> None:
    """Before a tag of a published set changes (an image rebuilt under the product's tag, as
    OBS re-publishes a rebuilt container), its release record goes: a record exists only while
    the registry holds exactly the set it lists. The record is written again once the set is
    complete."""
    record = ReleaseRecord.path(ctx.build_dir, product, tag)
    if record.exists():
        record.unlink()
        console().print(f"[yellow]{record.name}: withdrawn until the changed set is complete[/]")


def _write_records(ctx: Context, rpms: RpmsSection, results: list[Pushed]) -> None:
    with tempfile.TemporaryDirectory(dir=ctx.build_dir) as tmp:
        shipped = unpack_manifests(ctx.project, rpms, ctx.report_path, Path(tmp))
        manifests = {found.product: found.files for found in shipped}
        for product, entry in rpms.products.items():
            ReleaseRecord(
                product=product,
                target=ctx.target.name,
                version=entry.version,
                release=entry.release,
                tag=entry.tag,
                published=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                manifests={
                    path.name: hashlib.sha256(path.read_bytes()).hexdigest()
                    for path in manifests.get(product, ())
                },
                images={r.reference: r.digest for r in results if r.product == product},
            ).save(ctx.build_dir)


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
