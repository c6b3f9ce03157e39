"""verify-tags: every image reference in the manifests exists in the registry with that tag.

By default the manifests are those inside the target's last-built manifests RPMs, checked against
the target's registry with everything the build recorded: the digest each tag had when it was
published, the platforms the target declares, the version label. With ``--manifests`` any files
or URLs are checked against the registries they name.

Checks per reference: it exists; within a product every tag is the same and equals the operator's
``KUBEVIRT_VERSION``/``OPERATOR_VERSION``; the digest equals the recorded one (a tag overwritten
since is caught); the image's version label matches its tag; an index holds every declared
platform. Exit 0 all good, 1 mismatches (each named with manifest file and line), 2 bad input,
3 registry unreachable after retries.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.core.console import console, emit
from pipeline.core.errors import EXIT_MISMATCH, EXIT_OK, InputError, Location, RegistryError
from pipeline.core.release import ReleaseRecord
from pipeline.images.reference import ImageReference
from pipeline.images.reference import parse_reference as as_ref
from pipeline.images.registry import Failed, ImageDetails, NotFound, RegistryClient

if TYPE_CHECKING:
    # The manifest readers are imported where they are used: ``--releases`` (pipeline/stages/
    # audit.py) reads no manifest as YAML, and its start-up should not pay for them.
    from pipeline.config.project import Product
    from pipeline.core.context import Context
    from pipeline.images.manifests import FoundImage, ManifestScan

URL_SCHEMES = ("https://", "http://")
VERSION_LABEL = "org.opencontainers.image.version"
#: The operator that composes its components' images from its own (pipeline/manifests.py).
DERIVING_OPERATOR = "virt-operator"
#: Above this many references the table lists only the mismatches (the summary counts all).
FULL_TABLE_LIMIT = 60
#: The upstream version in a release tag: ``v1.9.0``, ``1.9.0``, ``1.9.0-3.1`` give ``1.9.0``.
UPSTREAM_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)")


@dataclass
class Finding:
    """One checked image reference and what the registry said about it."""

    reference: str
    #: ``file:line`` of the reference (for build manifests: ``<rpm>:<path in the rpm>:line``).
    where: str
    #: The object and the path inside it, e.g. ``Deployment/virt-operator spec...image``.
    found_in: str
    product: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    digest: str | None = None
    #: The registry failed (after retries) while checking it: neither found nor found missing.
    unchecked: bool = False

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)


@dataclass(frozen=True)
class Expectations:
    """What the build recorded, when verifying a build (empty for ``--manifests``)."""

    digests: dict[str, str] = field(default_factory=dict)
    platforms: tuple[str, ...] = ()
    #: Tag -> the platforms its image was built for, when an ``#!ExclusiveArch`` left some out.
    image_platforms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def platforms_of(self, ref: ImageReference) -> tuple[str, ...]:
        return self.image_platforms.get(str(replace(ref, digest=None)), self.platforms)


def _product_of(image: FoundImage, products: dict[str, Product]) -> str:
    name = image.component or image.reference.repository.rsplit("/", 1)[-1]
    for product in products.values():
        if any(name == i.name for i in product.images):
            return product.name
    return "-"


def _download(url: str, workdir: Path, index: int) -> Path:
    import requests  # only for manifests given by URL: its import costs 0.13 s

    try:
        resp = requests.get(url, timeout=30)
        resp.raise_for_status()
    except requests.RequestException as exc:
        raise RegistryError(f"cannot download {url} ({type(exc).__name__})") from None
    # Named by position, not by the URL: a last segment of '..' or '' names no file here.
    path = workdir / "downloaded" / f"{index}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(resp.content)
    return path


def _expectations(ctx: Context) -> Expectations:
    digests = {
        ref: digest
        for record in ReleaseRecord.load_all(ctx.build_dir)
        for ref, digest in record.images.items()
    }
    built = ctx.report.containers()
    images = built.images.values() if built else ()
    platforms = {str(as_ref(tag)): i.platforms for i in images if i.usable for tag in i.tags}
    return Expectations(digests=digests, platforms=ctx.platforms, image_platforms=platforms)


def check(
    scan: ManifestScan,
    products: dict[str, Product],
    client: RegistryClient,
    expect: Expectations,
    display: dict[str, str],
    workers: int = 16,
    per_file: bool = False,
) -> list[Finding]:
    """Check every reference of ``scan``; ``display`` maps a scanned file to the name shown."""
    findings = [
        Finding(
            str(image.reference),
            f"{display.get(image.file, image.file)}:{image.line}",
            f"{image.kind}/{image.name} {image.path}",
            _product_of(image, products),
        )
        for image in scan.images
    ]
    refs = [image.reference for image in scan.images]
    # A pinned reference (repo:tag@digest) is also checked by its tag: it must name that digest.
    tags = {str(r): r.with_tag(r.tag) for r in refs if r.tag and r.digest}
    results = client.describe_many([*refs, *tags.values()], workers=workers)
    by_tag = dict(zip(tags, results[len(refs) :], strict=True))
    results = results[: len(refs)]
    unreachable = [r for r in results if isinstance(r, Failed)]
    if unreachable and len(unreachable) == len(results):
        raise RegistryError(f"{findings[0].where}: {_without_stage(unreachable[0].message)}")
    for finding, image, result in zip(findings, scan.images, results, strict=True):
        _check_one(finding, image, result, by_tag.get(finding.reference), expect)
    _check_tags(findings, scan, products, per_file)
    return findings


Answer = ImageDetails | NotFound | Failed


def _check_one(
    finding: Finding, image: FoundImage, result: Answer, by_tag: Answer | None, expect: Expectations
) -> None:
    if isinstance(result, Failed):
        finding.fail(f"check failed: {_without_stage(result.message)}")
        finding.unchecked = True
        return
    if isinstance(result, NotFound):
        finding.fail(f"not in the registry ({result.reason})")
        return
    finding.digest = result.digest
    _check_recorded(finding, image.reference, result, expect)
    if by_tag is not None:
        _check_pinned(finding, image.reference, by_tag)
    wanted = expect.platforms_of(image.reference)
    if wanted:
        missing = sorted(p for p in wanted if result.lacks(p))
        if missing:
            gone = f"; gone from the registry: {', '.join(result.gone)}" if result.gone else ""
            finding.fail(
                f"lacks platforms {', '.join(missing)} (has {', '.join(result.present)}{gone})"
            )
    if image.reference.tag and finding.product != "-":
        _check_label(finding, image, result.labels)


def _check_pinned(finding: Finding, ref: ImageReference, by_tag: Answer) -> None:
    """``repo:tag@digest``: the tag must name the digest it is pinned to."""
    if isinstance(by_tag, Failed):
        finding.fail(f"check of its tag failed: {_without_stage(by_tag.message)}")
        finding.unchecked = True
    elif isinstance(by_tag, NotFound):
        finding.fail(f"tag {ref.tag} is not in the registry, only the pinned digest")
    elif by_tag.digest != ref.digest:
        finding.fail(f"tag {ref.tag} names {by_tag.digest}, not the pinned {ref.digest}")


def _without_stage(message: str) -> str:
    return message.removeprefix(f"{RegistryError.stage}: ")


def _check_recorded(
    finding: Finding, ref: ImageReference, result: ImageDetails, expect: Expectations
) -> None:
    """The digest the release record holds for the reference: by its tag, or (a reference
    pinned by digest alone) one of those recorded for its repository."""
    if ref.tag:
        recorded = expect.digests.get(str(replace(ref, digest=None)))
        if recorded and recorded != result.digest:
            finding.fail(f"digest {result.digest} differs from the published {recorded}")
        return
    known = {d for r, d in expect.digests.items() if r.rsplit(":", 1)[0] == ref.name}
    if known and result.digest not in known:
        finding.fail(f"digest {result.digest} is not one the release record holds")


def _check_label(finding: Finding, image: FoundImage, labels: Mapping[str, str]) -> None:
    version = labels.get(VERSION_LABEL)
    tag = image.reference.tag or ""
    if version is not None and tag != version and not tag.startswith(version + "-"):
        finding.fail(f"version label {version!r} does not match tag {tag!r}")


def _check_tags(
    findings: list[Finding], scan: ManifestScan, products: dict[str, Product], per_file: bool
) -> None:
    """Within a product (and with ``per_file``, within each manifest file: given files may be of
    several releases), one tag everywhere: the operator's version variable when the manifests set
    one, else the operator image's tag, else the most common tag. Each reference with another tag
    is a mismatch (the others are not blamed for it)."""
    groups: dict[tuple[str, str], list[tuple[Finding, str]]] = defaultdict(list)
    for finding, image in zip(findings, scan.images, strict=True):
        if finding.product != "-" and image.reference.tag:
            key = (finding.product, image.file if per_file else "")
            groups[key].append((finding, image.reference.tag))
    variables = {p.name: p.version_env for p in products.values()}
    for (product, file), entries in groups.items():
        declared = {
            v.value
            for v in scan.versions
            if v.variable == variables.get(product) and (not per_file or v.file == file)
        }
        operator = products[product].operator_image
        operator_tags = [
            tag for f, tag in entries if f.reference.rsplit("/", 1)[-1].startswith(operator + ":")
        ]
        if declared:
            expected, why = sorted(declared), f"the operator's {variables[product]}"
        elif operator_tags:
            expected, why = [operator_tags[0]], "the operator image's tag"
        else:
            tag = Counter(tag for _, tag in entries).most_common(1)[0][0]
            expected, why = [tag], "the tag most references use"
        for finding, tag in entries:
            if tag not in expected:
                finding.fail(f"tag {tag} differs from {', '.join(expected)}, {why}")


def show(findings: list[Finding]) -> None:
    from rich.table import Table  # only for a table to print: rich is a slow import

    listed = findings if len(findings) <= FULL_TABLE_LIMIT else [f for f in findings if not f.ok]
    if listed:
        title = "verify-tags" if listed is findings else "verify-tags: the mismatches"
        table = Table(title=title, title_justify="left")
        for column in ("", "reference", "where", "problem"):
            table.add_column(column, overflow="fold")
        for f in listed:
            mark = "[green]✓[/]" if f.ok else "[red]✗[/]"
            table.add_row(mark, f.reference, f.where, "; ".join(f.problems))
        console().print(table)
    for f in findings:
        if not f.ok:
            # One plain line per mismatch as well: logs and grep see it whole, never folded.
            console().print(
                f"MISMATCH {f.reference} at {f.where}: {'; '.join(f.problems)}",
                soft_wrap=True,
                markup=False,
                highlight=False,
            )
    bad = sum(not f.ok for f in findings)
    colour = "red" if bad else "green"
    console().print(f"[{colour}]{len(findings) - bad} of {len(findings)} references good[/]")


def verify(ctx: Context) -> list[Finding]:
    """Scan the manifests (the build's, or ``--manifests``) and check every reference."""
    import tempfile  # here, not at the top: ``--releases`` never needs it, nor its start-up cost

    from pipeline.images.manifests import ManifestScan, scan_files

    products = dict(ctx.project.products)
    ctx.build_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="verify-", dir=ctx.build_dir) as tmp:
        workdir = Path(tmp)
        if ctx.options.manifests:
            groups, display = _given_manifests(ctx.options.manifests, workdir)
            expect = Expectations()
        else:
            groups, display = _build_manifests(ctx, workdir)
            expect = _expectations(ctx)
        scan = ManifestScan()
        for name, paths in groups:
            try:
                scan = scan.merged(scan_files([str(p) for p in paths], _components(ctx, name)))
            except InputError as exc:
                raise _shown_as(exc, display) from exc
        scan = _shipped_only(scan, products)
        if not scan.images:
            raise InputError(
                ", ".join(display.get(str(p), str(p)) for _, ps in groups for p in ps),
                "no image references found",
                hint="is this a Kubernetes manifest?",
            )
        with RegistryClient() as client:
            return check(
                scan, products, client, expect, display, per_file=bool(ctx.options.manifests)
            )


Groups = list[tuple[str, list[Path]]]


def _given_manifests(items: tuple[str, ...], workdir: Path) -> tuple[Groups, dict[str, str]]:
    """Files and URLs of ``--manifests``; a downloaded one is named by its URL."""
    paths = [
        _download(item, workdir, n) if item.startswith(URL_SCHEMES) else Path(item)
        for n, item in enumerate(items)
    ]
    for path in paths:
        if not path.is_file():
            raise InputError(path, "manifest file not found")
    return [("", paths)], {str(path): item for path, item in zip(paths, items, strict=True)}


def _build_manifests(ctx: Context, workdir: Path) -> tuple[Groups, dict[str, str]]:
    """The manifests RPMs of the last build, each file named as ``<rpm>:/path``, and the
    pinned manifests of the release bundles publish wrote for them."""
    from pipeline.images.shipped import unpack_manifests
    from pipeline.stages.bundle import pinned_manifests

    rpms = ctx.report.require_rpms()
    shipped = unpack_manifests(ctx.project, rpms, ctx.report_path, workdir)
    display = {str(path): found.display_name(path) for found in shipped for path in found.files}
    groups = [(found.product, list(found.files)) for found in shipped]
    for product, entry in rpms.products.items():
        record_path = ReleaseRecord.bundle(ctx.build_dir, product, entry.tag) / "record.json"
        if record_path.is_file():
            pinned = pinned_manifests(ctx.build_dir, ReleaseRecord.load(record_path))
            groups.append((product, pinned))
            display.update({str(p): str(p.relative_to(ctx.project.root)) for p in pinned})
    return groups, display


def _components(ctx: Context, product_name: str) -> list[str]:
    """The component images virt-operator may derive: those of the KubeVirt version built; for
    given manifests those of every KubeVirt version, trimmed afterwards by ``_shipped_only``."""
    products = ctx.project.products
    if product_name:
        version = ctx.target.products[product_name].version
        return [i.name for i in products[product_name].images_for(version)]
    return [
        i.name for p in products.values() if p.operator_image == DERIVING_OPERATOR for i in p.images
    ]


def _shipped_only(scan: ManifestScan, products: dict[str, Product]) -> ManifestScan:
    """Drop derived component images that the operator's version does not ship (a 0.45 operator
    derives no virt-exportproxy). The version is the ``version_env`` value in the same file."""
    from pipeline.images.manifests import ManifestScan

    shipping = {i.name: i for p in products.values() for i in p.images}
    versions: dict[str, set[str]] = defaultdict(set)
    for found in scan.versions:
        match = UPSTREAM_VERSION.match(found.value)
        if match:
            versions[found.file].add(match.group(1))
    kept = []
    for image in scan.images:
        spec = shipping.get(image.component or "")
        in_file = versions.get(image.file, set())
        unshipped = spec is not None and not any(spec.shipped_in(v) for v in in_file)
        if image.source == "derived" and in_file and unshipped:
            continue
        kept.append(image)
    return ManifestScan(tuple(kept), scan.versions)


def _shown_as(exc: InputError, display: dict[str, str]) -> InputError:
    """``exc`` naming the file as the user knows it (the URL, the RPM), not the unpacked copy."""
    where = exc.location
    if where is None or str(where.path) not in display:
        return exc
    shown = Location(display[str(where.path)], where.line, where.column)
    return InputError(shown, exc.message, hint=exc.hint)


def main(ctx: Context) -> int:
    if ctx.options.releases is not None:
        from pipeline.stages import audit

        return audit.main(ctx)
    findings = verify(ctx)
    if ctx.options.json != "-":
        show(findings)
    data: dict[str, Any] = {
        "target": ctx.target.name,
        "ok": all(f.ok for f in findings),
        "references": [asdict(f) for f in findings],
    }
    emit(ctx.options, data)
    unchecked = [f for f in findings if f.unchecked]
    if unchecked:
        # Not a mismatch: nothing was found missing, the registry failed to say.
        mismatches = sum(not f.ok and not f.unchecked for f in findings)
        raise RegistryError(
            f"{unchecked[0].where}: {len(unchecked)} of {len(findings)} references could not be "
            f"checked ({mismatches} mismatches among the rest): {unchecked[0].problems[0]}",
            hint="re-run verify-tags when the registry answers",
        )
    return EXIT_OK if data["ok"] else EXIT_MISMATCH
