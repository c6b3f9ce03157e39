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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import PublishError, RegistryError, ToolError
from pipeline.core.report import require_section
from pipeline.core.state import locked_update, write_json
from pipeline.images.reference import ImageReference, is_loopback_host, parse_reference
from pipeline.images.registry import NotFound, RegistryClient, RetryPolicy
from pipeline.stages.verify import build_manifests
from pipeline.tools import buildah
from pipeline.tools.registry_server import DEFAULT_ROOT, start
from pipeline.tools.run import recording, run


@dataclass
class Pushed:
    image: str
    product: str
    reference: str
    digest: str
    pushed: list[str]
    skipped: list[str]
    floating: list[str]


def floating(tag: str, version: str) -> bool:
    """A tag that moves from release to release: the bare version."""
    return tag.rsplit(":", 1)[-1] == version


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


def _complete_build(ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    rpms = require_section(ctx.report_path, "rpms", hint="build first: nox -s build")
    images = require_section(ctx.report_path, "containers", hint="build first: nox -s build")
    wanted = {
        image.name: name
        for name, product in ctx.project.products.items()
        for image in product.images_for(ctx.target.products[name].version)
    }
    entries = images.get("images", {})
    problems = []
    for name, product in wanted.items():
        entry = entries.get(name)
        tag = rpms["products"][product]["tag"]
        if entry is None or entry["state"] not in ("built", "up to date"):
            problems.append(f"{name} ({entry['state'] if entry else 'not built'})")
        elif not entry["reference"].endswith(f":{tag}"):
            problems.append(f"{name} (built for {entry['reference']}, not {tag})")
    if problems:
        raise PublishError(
            "the last build is incomplete, nothing was published: " + ", ".join(problems),
            hint="run the build again (nox -s build); a release is published whole or not at all",
        )
    return rpms, entries


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


def _copy_tag(source: ImageReference, tag: str) -> None:
    """Point ``tag`` at the manifest ``source`` names, byte for byte (no blob is uploaded)."""
    tls = str(not is_loopback_host(source.registry)).lower()
    run(
        [
            "skopeo",
            "copy",
            "--preserve-digests",
            "--all",
            f"--src-tls-verify={tls}",
            f"--dest-tls-verify={tls}",
            f"docker://{source}",
            f"docker://{tag}",
        ],
        timeout=600,
    )


def run_stage(ctx: Context) -> list[Pushed]:
    rpms, entries = _complete_build(ctx)
    registry = next(iter(entries.values()))["reference"].split("/", 1)[0]
    ensure_local_registry(ctx, registry)
    results: list[Pushed] = []
    out = console()
    with recording(), RegistryClient() as client, tempfile.TemporaryDirectory() as tmp:
        # (1) every unique tag, skipping what the registry already holds with our digest
        for name, entry in entries.items():
            if entry["state"] not in ("built", "up to date"):
                continue
            product = entry["product"]
            version = rpms["products"][product]["version"]
            done = Pushed(name, product, entry["reference"], "", [], [], [])
            recorded = entry.get("digest")
            for tag in entry["tags"]:
                if floating(tag, version):
                    continue
                there = client.head_manifest(tag)
                if not isinstance(there, NotFound) and recorded and there.digest == recorded:
                    done.skipped.append(tag)
                    continue
                _withdraw_record(ctx, product, rpms["products"][product]["tag"])
                with out.status(f"push {tag}"):
                    digest = _push(entry["id"], tag, Path(tmp))
                done.pushed.append(tag)
                if recorded and digest != recorded:
                    raise PublishError(f"{tag}: pushed digest {digest} differs from {recorded}")
                recorded = digest
            done.digest = recorded or ""
            results.append(done)
            out.print(
                f"[green]✓[/] {name}: {len(done.pushed)} pushed, {len(done.skipped)} already there"
            )
        # (2) read every reference back: the set is complete before anything floats
        for done in results:
            there = client.head_manifest(done.reference)
            if isinstance(there, NotFound) or there.digest != done.digest:
                raise PublishError(
                    f"{done.reference} is not in the registry after the push",
                    hint="re-run publish; nothing floating was moved",
                )
        for done in results:
            version = rpms["products"][done.product]["version"]
            for tag in entries[done.image]["tags"]:
                if floating(tag, version):
                    there = client.head_manifest(tag)
                    if isinstance(there, NotFound) or there.digest != done.digest:
                        _copy_tag(parse_reference(done.reference).with_digest(done.digest), tag)
                    done.floating.append(tag)
        # (3) the release records, last
        _write_records(ctx, rpms, results)
    _remember_digests(ctx, results)
    return results


def _withdraw_record(ctx: Context, product: str, tag: str) -> None:
    """Before a tag of a published set changes (an image rebuilt under the product's tag, as
    OBS re-publishes a rebuilt container), its release record goes: a record exists only while
    the registry holds exactly the set it lists. The record is written again once the set is
    complete."""
    record = ctx.build_dir / "releases" / f"{product}-{tag}.json"
    if record.exists():
        record.unlink()
        console().print(f"[yellow]{record.name}: withdrawn until the changed set is complete[/]")


def _write_records(ctx: Context, rpms: dict[str, Any], results: list[Pushed]) -> None:
    with tempfile.TemporaryDirectory(dir=ctx.build_dir) as tmp:
        manifests = dict(build_manifests(ctx, Path(tmp)))
        for product, entry in rpms["products"].items():
            record = {
                "product": product,
                "target": ctx.target.name,
                "version": entry["version"],
                "release": entry["release"],
                "tag": entry["tag"],
                "published": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "manifests": {
                    path.name: hashlib.sha256(path.read_bytes()).hexdigest()
                    for path in manifests.get(product, [])
                },
                "images": {r.reference: r.digest for r in results if r.product == product},
            }
            write_json(ctx.build_dir / "releases" / f"{product}-{entry['tag']}.json", record)


def _remember_digests(ctx: Context, results: list[Pushed]) -> None:
    """Record each pushed digest in the report, so a re-publish can skip what is there."""
    with locked_update(ctx.report_path) as report:
        images = report.get("containers", {}).get("images", {})
        for r in results:
            if r.image in images:
                images[r.image]["digest"] = r.digest


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
        results = run_stage(ctx)
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
