"""The release bundle publish writes for each product of a published set:
``build/<target>/releases/<product>-<tag>/``

- ``record.json``: the release record (tag, every image's digest, the manifests' sha256, the
  pinned files' sha256, the operator env);
- ``manifests/``: the product's manifests with every image reference pinned by digest and the
  operator told each component image (``pipeline.images.pinning``);
- ``summary.txt``: for people: each image, the digest of its index and, per platform, the RPMs
  its image holds.

What a user deploys: the tagged manifests of the manifests RPM (readable, the tag is unique and
never moves), or the bundle's pinned manifests (the exact digests, whatever a registry does).
``verify-tags`` checks both; a bundle whose pinned files no longer match their record is refused.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path

from pipeline.config.project import Product
from pipeline.core.errors import Location, StateError
from pipeline.core.release import ReleaseRecord
from pipeline.core.report import ImageBuild, ProductBuild
from pipeline.images.pinning import operator_env, pin_text
from pipeline.images.shipped import ShippedManifests


def write_bundle(
    build_dir: Path,
    target: str,
    product: Product,
    entry: ProductBuild,
    images: list[ImageBuild],
    digests: Mapping[str, str],
    shipped: ShippedManifests,
) -> ReleaseRecord:
    """Write the bundle of one product's published set (``digests``: reference -> digest)."""
    directory = ReleaseRecord.bundle(build_dir, product.name, entry.tag)
    (directory / "manifests").mkdir(parents=True, exist_ok=True)
    env = _operator_env(product, entry, images, digests)
    pinned = {}
    for path in shipped.files:
        text = pin_text(path.read_text(encoding="utf-8"), digests, env)
        (directory / "manifests" / path.name).write_text(text, encoding="utf-8")
        pinned[path.name] = _sha256(text.encode())
    record = ReleaseRecord(
        product=product.name,
        target=target,
        version=entry.version,
        release=entry.release,
        tag=entry.tag,
        published=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        manifests={path.name: _sha256(path.read_bytes()) for path in shipped.files},
        images={image.reference: digests[image.reference] for image in images},
        pinned=pinned,
        operator_env=env,
        platforms={image.reference: image.platforms for image in images},
    )
    (directory / "summary.txt").write_text(summary(record, images), encoding="utf-8")
    record.save(build_dir)
    return record


def _operator_env(
    product: Product, entry: ProductBuild, images: list[ImageBuild], digests: Mapping[str, str]
) -> dict[str, str]:
    """virt-operator's component env; none for an operator that reads its manifest's own env
    (cdi-operator: those references are pinned in place)."""
    if product.operator_image != "virt-operator":
        return {}
    operator = next(i.reference for i in images if i.name == product.operator_image)
    components = {i.name: i.reference for i in images if i.name != product.operator_image}
    return operator_env(entry.version, operator, components, digests)


def summary(record: ReleaseRecord, images: list[ImageBuild]) -> str:
    lines = [
        f"{record.product} {record.tag} for target {record.target}, published {record.published}",
        "",
        "Deploy the tagged manifests of the manifests RPM, or manifests/ here: the same files",
        "with every image pinned by digest. Neither tag nor digest below ever changes.",
        "",
    ]
    for image in sorted(images, key=lambda i: i.name):
        lines.append(f"{image.reference}@{record.images[image.reference]}")
        for arch in image.by_platform:  # the digest is the index's: one entry each
            lines.append(f"  {arch.platform}")
            lines += [f"    {nevra}" for nevra in arch.rpms]
    if record.operator_env:
        lines += ["", "operator env in manifests/:"]
        lines += [f"    {name}={value}" for name, value in sorted(record.operator_env.items())]
    return "\n".join(lines) + "\n"


def pinned_manifests(build_dir: Path, record: ReleaseRecord) -> list[Path]:
    """The bundle's pinned manifest files, each checked against its record: a file edited
    since publish wrote it, or missing, is refused (the record is what was verified)."""
    directory = ReleaseRecord.bundle(build_dir, record.product, record.tag) / "manifests"
    files = []
    for name, expected in sorted(record.pinned.items()):
        path = directory / name
        try:
            found = _sha256(path.read_bytes())
        except FileNotFoundError:
            raise StateError(
                path, "missing from its release bundle", hint="run publish again to rewrite it"
            ) from None
        if found != expected:
            raise StateError(
                Location(path),
                f"differs from the sha256 its release record holds ({expected[:12]}…): "
                "edited since publish wrote it",
                hint="restore it, or run publish again to rewrite the bundle",
            )
        files.append(path)
    return files


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
