"""Figure 1's world: a registry holding hundreds of image references, and the manifests naming them.

The references are the tags of several releases of both products (``<version>-<CI_CNT>.1``), in
manifests of upstream's shape: virt-operator's Deployment (image + ``KUBEVIRT_VERSION``, from
which the other component images are derived), cdi-operator's Deployment with its ``*_IMAGE``
env vars, and, for every other release, the workloads as a cluster runs them (Deployments,
DaemonSets, Pods naming each component image directly).

Pushing hundreds of distinct images would take most of the time budget, so one real image per
(repository, version) is built with buildah (scratch, one small file, a version label) and
pushed, and every other tag is made by PUTting the same manifest under the new tag through the
registry API: the tag then exists with the same digest, as a re-tag by skopeo would leave it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from pipeline.images.registry import ACCEPT
from tests.support.buildah import PrivateStore

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

    def seeds(self) -> list[tuple[str, str, str]]:
        """(image, version, first tag) of every image to build for real."""
        first: dict[tuple[str, str], str] = {}
        for release in self.releases:
            for image in release.images():
                first.setdefault((image, release.version), release.tag)
        return [(image, version, tag) for (image, version), tag in first.items()]


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


def manifest_text(scale: ScaleSet, release: Release) -> str:
    """The multi-document manifest of one release, in the shape upstream ships it."""
    ns = "kubevirt" if release.product.name == "kubevirt" else "cdi"
    docs = [f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"]
    ref = scale.reference
    tag = release.tag
    operator = release.product.operator
    if release.operator_form and operator == "virt-operator":
        env = [("KUBEVIRT_VERSION", tag)]
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

    def push(self, name: str, reference: str) -> None:
        self.buildah("push", "--quiet", "--tls-verify=false", name, f"docker://{reference}")

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


def populate(scale: ScaleSet, images: ScratchImages, base_url: str) -> dict[str, int]:
    """Push one real image per (repository, version), then every other tag as a copy."""
    seeds = scale.seeds()
    for image, version, tag in seeds:
        name = f"localhost/bench/{image}:{version}"
        images.make(name, f"{image} {version}\n", {VERSION_LABEL: version})
        images.push(name, scale.reference(image, tag))
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
