"""Figure 1's world: a registry holding thousands of image references, and the release bundles
(record.json + pinned manifests) naming them, as publish leaves them for many releases.

The references are the tags of many releases of both products (``<version>-<build>.<n>``, the
builds taking turns between the targets), in manifests of upstream's shape: virt-operator's
Deployment (image + ``KUBEVIRT_VERSION``, from which the other component images are derived),
cdi-operator's Deployment with its ``*_IMAGE`` env vars, and, for every other release, the
workloads as a cluster runs them (Deployments, DaemonSets, Pods naming each component image
directly). A release's record names every image it shipped; its pinned manifest is the same
file with each reference pinned by digest, and virt-operator told each component image.

Pushing thousands of distinct images would take most of the time budget, so one real image per
(repository, version) is built with buildah (scratch, one small file, a version label) and
pushed: the releases share digests, as rebuilds of unchanged images do. Every other tag names
the same manifest: made by ``copy_tag`` (a manifest PUT through the registry API, as a re-tag by
skopeo would leave it) or, for the tens of thousands of the large sizes, by ``write_tags``, which
writes the two link files that PUT leaves in the registry's storage (20,000 PUTs take minutes).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from pipeline.images.manifests import VIRT_OPERATOR_IMAGE_ENV
from pipeline.images.registry import ACCEPT
from tests.support.buildah import PrivateStore
from tests.support.releases import Pinner, write_bundle

VERSION_LABEL = "org.opencontainers.image.version"
#: Components that run as a DaemonSet or a Deployment in a cluster; the rest appear in Pods.
DAEMONSETS = frozenset({"virt-handler"})
DEPLOYMENTS = frozenset(
    {
        "virt-api",
        "virt-controller",
        "virt-exportproxy",
        "virt-synchronization-controller",
        "cdi-apiserver",
        "cdi-controller",
        "cdi-uploadproxy",
    }
)
#: cdi-operator's env var for each of its component images (the operator's own is its image).
CDI_ENV = {
    "cdi-controller": "CONTROLLER_IMAGE",
    "cdi-importer": "IMPORTER_IMAGE",
    "cdi-cloner": "CLONER_IMAGE",
    "cdi-apiserver": "APISERVER_IMAGE",
    "cdi-uploadproxy": "UPLOAD_PROXY_IMAGE",
    "cdi-uploadserver": "UPLOAD_SERVER_IMAGE",
}


@dataclass(frozen=True)
class ProductSet:
    """One product's part of the scale set: its image names per version, its operator image."""

    name: str
    operator: str
    #: version -> the images that version ships
    images: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Release:
    product: ProductSet
    version: str
    tag: str
    #: operator form (True) or the workloads as deployed (False)
    operator_form: bool
    target: str = "local"

    @property
    def release(self) -> str:
        """The rpm release part of the tag (``3.1`` of ``1.9.0-3.1``)."""
        return self.tag.split("-", 1)[1]

    def shipped(self) -> tuple[str, ...]:
        """Every image the release published (what its record names)."""
        return self.product.images[self.version]

    def images(self) -> tuple[str, ...]:
        """The images this release's manifest names (the deployed form has no operator:
        an operator container there would derive every component a second time)."""
        shipped = self.product.images[self.version]
        if self.operator_form or self.product.operator != "virt-operator":
            return shipped
        return tuple(i for i in shipped if i != self.product.operator)


@dataclass
class ScaleSet:
    registry: str
    namespace: str
    releases: list[Release] = field(default_factory=list)

    def reference(self, image: str, tag: str) -> str:
        return f"{self.registry}/{self.namespace}/{image}:{tag}"

    def references(self) -> list[str]:
        """Every reference the manifests name, each once, in manifest order."""
        seen: dict[str, None] = {}
        for release in self.releases:
            for image in release.images():
                seen.setdefault(self.reference(image, release.tag), None)
        return list(seen)

    def recorded(self) -> Iterator[str]:
        """Every reference the releases' records name, each once, in order."""
        for release in self.releases:
            for image in release.shipped():
                yield self.reference(image, release.tag)

    def seeds(self) -> list[tuple[str, str, str]]:
        """(image, version, first tag) of every image to build for real."""
        first: dict[tuple[str, str], str] = {}
        for release in self.releases:
            for image in release.shipped():
                first.setdefault((image, release.version), release.tag)
        return [(image, version, tag) for (image, version), tag in first.items()]

    def upto(self, references: int) -> ScaleSet:
        """The first releases whose records name at least ``references`` references."""
        kept: list[Release] = []
        count = 0
        for release in self.releases:
            if count >= references:
                break
            kept.append(release)
            count += len(release.shipped())
        return ScaleSet(self.registry, self.namespace, kept)


def plan(
    registry: str,
    products: Sequence[ProductSet],
    builds_per_version: int,
    namespace: str = "kubevirt",
) -> ScaleSet:
    """Releases ``<version>-<n>.1`` for n in 1..builds of each version; odd builds in operator
    form, even ones as deployed workloads."""
    scale = ScaleSet(registry, namespace)
    for product in products:
        for version in product.images:
            for build in range(1, builds_per_version + 1):
                scale.releases.append(
                    Release(product, version, f"{version}-{build}.1", operator_form=build % 2 == 1)
                )
    return scale


def plan_releases(
    registry: str,
    products: Sequence[ProductSet],
    references: int,
    targets: Sequence[str],
    namespace: str = "kubevirt",
) -> ScaleSet:
    """Releases build after build of every product and version, each build made for every
    target in turn (``<version>-<build>.<n>`` for the n-th target), until their records name at
    least ``references`` references; odd builds in operator form."""
    scale = ScaleSet(registry, namespace)
    count = build = 0
    while count < references:
        build += 1
        for product in products:
            for version in product.images:
                for number, target in enumerate(targets, 1):
                    tag = f"{version}-{build}.{number}"
                    release = Release(product, version, tag, build % 2 == 1, target)
                    scale.releases.append(release)
                    count += len(release.shipped())
    return scale


# --------------------------------------------------------------------------- manifests


def _container(name: str, image: str, env: Sequence[tuple[str, str]], indent: int) -> str:
    pad = " " * indent
    lines = [
        f"{pad}- name: {name}",
        f"{pad}  image: {image}",
        f"{pad}  imagePullPolicy: IfNotPresent",
    ]
    if env:
        lines.append(f"{pad}  env:")
        for key, value in env:
            lines += [f"{pad}  - name: {key}", f'{pad}    value: "{value}"']
    return "\n".join(lines) + "\n"


def _workload(
    kind: str, name: str, namespace: str, image: str, env: Sequence[tuple[str, str]] = ()
) -> str:
    head = f"metadata:\n  name: {name}\n  namespace: {namespace}\n"
    if kind == "Pod":
        return f"apiVersion: v1\nkind: Pod\n{head}spec:\n  containers:\n" + _container(
            name.split("-pod-")[0], image, env, 2
        )
    labels = f"app.kubernetes.io/component: {name}"
    return (
        f"apiVersion: apps/v1\nkind: {kind}\n{head}  labels:\n    {labels}\n"
        f"spec:\n  selector:\n    matchLabels:\n      {labels}\n"
        f"  template:\n    metadata:\n      labels:\n        {labels}\n"
        f"    spec:\n      serviceAccountName: {name}\n      containers:\n"
        + _container(name, image, env, 6)
    )


def manifest_text(
    scale: ScaleSet, release: Release, pinned: Mapping[str, str] | None = None
) -> str:
    """The multi-document manifest of one release, in the shape upstream ships it; with
    ``pinned`` (reference -> digest), as its release bundle holds it: every reference pinned,
    and virt-operator told each component image."""
    ns = "kubevirt" if release.product.name == "kubevirt" else "cdi"
    docs = [f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"]

    def ref(image: str, tag: str) -> str:
        text = scale.reference(image, tag)
        return f"{text}@{pinned[text]}" if pinned is not None else text

    tag = release.tag
    operator = release.product.operator
    if release.operator_form and operator == "virt-operator":
        env = [("KUBEVIRT_VERSION", tag)]
        if pinned is not None:
            env += [
                (VIRT_OPERATOR_IMAGE_ENV[image], ref(image, tag))
                for image in release.shipped()
                if image in VIRT_OPERATOR_IMAGE_ENV
            ]
        docs.append(_workload("Deployment", operator, ns, ref(operator, tag), env))
    elif operator == "cdi-operator":
        env = [("DEPLOY_CLUSTER_RESOURCES", "true"), ("OPERATOR_VERSION", tag)]
        if release.operator_form:
            env += [
                (CDI_ENV[image], ref(image, tag)) for image in release.images() if image in CDI_ENV
            ]
            env += [("VERBOSITY", "1"), ("PULL_POLICY", "IfNotPresent")]
        docs.append(_workload("Deployment", operator, ns, ref(operator, tag), env))
    if not release.operator_form:
        for image in release.images():
            if image == operator:
                continue
            kind = (
                "DaemonSet"
                if image in DAEMONSETS
                else "Deployment"
                if image in DEPLOYMENTS
                else "Pod"
            )
            name = image if kind != "Pod" else f"{image}-pod-{release.tag.replace('.', '-')}"
            docs.append(_workload(kind, name, ns, ref(image, tag)))
    return "---\n" + "---\n".join(docs)


def write_manifests(scale: ScaleSet, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for release in scale.releases:
        form = "operator" if release.operator_form else "deployed"
        path = directory / f"{release.product.name}-{release.tag}-{form}.yaml"
        path.write_text(manifest_text(scale, release))
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ScratchImages:
    """Tiny real images on a private buildah store, never mixed with the host's."""

    root: Path

    @property
    def buildah(self) -> PrivateStore:
        return PrivateStore(self.root)

    def make(self, name: str, content: str, labels: dict[str, str]) -> str:
        """A one-layer image (``/content.txt`` on scratch) committed as ``name``."""
        return self.buildah.image(name, content=content, labels=labels)

    def push(self, name: str, reference: str) -> str:
        """Push ``name`` as ``reference``; the digest of the manifest pushed."""
        digest_file = self.root / "pushed.digest"
        self.buildah(
            "push",
            "--quiet",
            "--tls-verify=false",
            "--digestfile",
            str(digest_file),
            name,
            f"docker://{reference}",
        )
        return digest_file.read_text().strip()

    def remove(self) -> None:
        if (self.root / "storage").exists():
            self.buildah("rmi", "--all", "--force")
        shutil.rmtree(self.root, ignore_errors=True)


def copy_tag(
    session: requests.Session, base_url: str, repository: str, source: str, tag: str
) -> None:
    """Make ``tag`` name the manifest ``source`` names, byte for byte (same digest)."""
    url = f"{base_url}/v2/{repository}/manifests"
    got = session.get(f"{url}/{source}", headers={"Accept": ACCEPT}, timeout=30)
    got.raise_for_status()
    media_type = got.headers["Content-Type"].split(";", 1)[0]
    put = session.put(
        f"{url}/{tag}", data=got.content, headers={"Content-Type": media_type}, timeout=30
    )
    put.raise_for_status()


def push_seeds(scale: ScaleSet, images: ScratchImages) -> dict[tuple[str, str], str]:
    """One real image per (repository, version), pushed under its first tag: the digests."""
    digests = {}
    for image, version, tag in scale.seeds():
        name = f"localhost/bench/{image}:{version}"
        images.make(name, f"{image} {version}\n", {VERSION_LABEL: version})
        digests[(image, version)] = images.push(name, scale.reference(image, tag))
    return digests


def populate(scale: ScaleSet, images: ScratchImages, base_url: str) -> dict[str, int]:
    """Push one real image per (repository, version), then every other tag as a copy."""
    seeds = scale.seeds()
    push_seeds(scale, images)
    seeded = {scale.reference(image, tag) for image, _, tag in seeds}
    first = {(image, version): tag for image, version, tag in seeds}
    copies = 0
    with requests.Session() as session:
        for release in scale.releases:
            for image in release.images():
                if scale.reference(image, release.tag) in seeded:
                    continue
                source = first[(image, release.version)]
                copy_tag(session, base_url, f"{scale.namespace}/{image}", source, release.tag)
                copies += 1
    return {"pushed": len(seeds), "copied": copies}


def write_tags(storage: Path, scale: ScaleSet, digests: Mapping[tuple[str, str], str]) -> int:
    """Every tag the records name, written into a filesystem-backed registry's storage as its
    manifest PUT writes a tag (``current/link`` and ``index/<algorithm>/<hex>/link``, each
    holding the digest); the manifests themselves must be there already (``push_seeds``)."""
    repositories = storage / "docker/registry/v2/repositories" / scale.namespace
    written = 0
    for release in scale.releases:
        for image in release.shipped():
            digest = digests[(image, release.version)]
            tag_dir = repositories / image / "_manifests/tags" / release.tag
            if (tag_dir / "current/link").is_file():
                continue
            algorithm, hex_digest = digest.split(":", 1)
            for link in (tag_dir / "current", tag_dir / "index" / algorithm / hex_digest):
                link.mkdir(parents=True, exist_ok=True)
                (link / "link").write_text(digest)
            written += 1
    return written


def write_bundles(
    project_root: Path, scale: ScaleSet, digests: Mapping[tuple[str, str], str]
) -> int:
    """The release bundle of every release under ``project_root/build/<target>/releases/``."""
    for release in scale.releases:
        recorded = {
            scale.reference(image, release.tag): digests[(image, release.version)]
            for image in release.shipped()
        }
        form = "operator" if release.operator_form else "deployed"
        name = f"{release.product.name}-{form}.yaml"
        pinned = manifest_text(scale, release, recorded)
        write_bundle(
            project_root / "build" / release.target,
            release.target,
            release.product.name,
            release.version,
            release.release,
            recorded,
            {name: manifest_text(scale, release)},
            pin=_already(pinned),
        )
    return len(scale.releases)


def _already(pinned: str) -> Pinner:
    """The pinned text, made here from the scale set (ruamel's round trip in the real pinning
    would take a minute for the 2,300 bundles of the largest size)."""

    def pin(text: str, digests: Mapping[str, str], env: Mapping[str, str]) -> str:
        return pinned

    return pin
