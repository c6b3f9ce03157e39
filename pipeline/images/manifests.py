"""Every image reference in Kubernetes manifests, with the file and line it came from.

Found directly: ``image:`` of containers, initContainers and ephemeralContainers of every
workload kind (Pod, Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, CronJob), env vars named
``*_IMAGE``, and in an OLM ClusterServiceVersion its ``containerImage`` annotation, its
``relatedImages`` and the deployments of its install strategy. ``kind: List`` is walked too.

Derived, the way the operators do it at run time:
- virt-operator composes each component image as ``<registry>/<prefix><component>:<tag>`` from its
  own image (``VIRT_OPERATOR_IMAGE``, else ``OPERATOR_IMAGE``, else the container image), split as
  ``^(.*)/(.*)virt-operator([@:].*)?$``. The tag is the operator's tag, ``latest`` without one,
  and ``KUBEVIRT_VERSION`` (default ``latest``) when the operator is pinned by digest. A
  ``<COMPONENT>_IMAGE`` env var (``VIRT_API_IMAGE``...) replaces the composed image, and a
  KubeVirt CR's ``spec.imageRegistry`` / ``spec.imageTag`` / ``spec.imagePrefix`` override the
  parts taken from the operator image.
- cdi-operator takes each component image from its env vars (``CONTROLLER_IMAGE``...), so those
  are component images as they stand.

Documents are read by ``pipeline.config.yaml_reader``: plain dicts and lists that keep every
key's line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config.marked import MarkedMap, position
from pipeline.config.yaml_reader import load_all
from pipeline.core.errors import InputError, Location
from pipeline.core.files import read_text
from pipeline.images.reference import ImageReference, parse_reference

POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
VERSION_ENV = frozenset({"KUBEVIRT_VERSION", "OPERATOR_VERSION"})
VIRT_OPERATOR_IMAGE_RE = re.compile(r"^(.*)/(.*)virt-operator([@:].*)?$")
CDI_OPERATOR_IMAGE_RE = re.compile(r"^(.*)/(.*)cdi-operator([@:].*)?$")
#: virt-operator's env var for each component image it deploys (its pkg/virt-operator/util):
#: when set, the component is that image instead of one composed from the operator's own.
VIRT_OPERATOR_IMAGE_ENV = {
    "virt-api": "VIRT_API_IMAGE",
    "virt-controller": "VIRT_CONTROLLER_IMAGE",
    "virt-handler": "VIRT_HANDLER_IMAGE",
    "virt-launcher": "VIRT_LAUNCHER_IMAGE",
    "virt-exportproxy": "VIRT_EXPORTPROXY_IMAGE",
    "virt-exportserver": "VIRT_EXPORTSERVER_IMAGE",
    "virt-synchronization-controller": "VIRT_SYNCHRONIZATIONCONTROLLER_IMAGE",
    "pr-helper": "PR_HELPER_IMAGE",
    "sidecar-shim": "SIDECAR_SHIM_IMAGE",
}
#: KubeVirt 0.x: only the digests of the four core components, used when the operator's own
#: image is pinned by digest and all four are set.
VIRT_OPERATOR_SHASUM_ENV = {
    "virt-api": "VIRT_API_SHASUM",
    "virt-controller": "VIRT_CONTROLLER_SHASUM",
    "virt-handler": "VIRT_HANDLER_SHASUM",
    "virt-launcher": "VIRT_LAUNCHER_SHASUM",
}
SHASUM_ENV_NAMES = frozenset(VIRT_OPERATOR_SHASUM_ENV.values())
#: cdi-operator env var -> the component image it names.
CDI_ENV_COMPONENTS = {
    "CONTROLLER_IMAGE": "cdi-controller",
    "IMPORTER_IMAGE": "cdi-importer",
    "CLONER_IMAGE": "cdi-cloner",
    "APISERVER_IMAGE": "cdi-apiserver",
    "UPLOAD_PROXY_IMAGE": "cdi-uploadproxy",
    "UPLOAD_SERVER_IMAGE": "cdi-uploadserver",
    "OVIRT_POPULATOR_IMAGE": "cdi-importer",
    "OPERATOR_IMAGE": "cdi-operator",
}


@dataclass(frozen=True)
class FoundImage:
    """One image reference and where it is: ``file:line``, the object, the path inside it.

    ``source``: ``container`` (an ``image:`` field), ``env`` (a ``*_IMAGE`` env var),
    ``annotation`` (CSV ``containerImage``), ``related`` (CSV ``relatedImages``) or ``derived``
    (composed by virt-operator's rules; ``line`` is that of the operator image it came from).
    ``component``: the operator component this image is, when known (``virt-api``, ...).
    """

    reference: ImageReference
    text: str
    file: str
    line: int
    column: int
    kind: str
    name: str
    path: str
    source: str
    component: str | None = None

    @property
    def location(self) -> Location:
        return Location(self.file, self.line, self.column)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line} ({self.kind}/{self.name} {self.path})"


@dataclass(frozen=True)
class FoundVersion:
    """A version value an operator reads from its env (``KUBEVIRT_VERSION``, ...)."""

    variable: str
    value: str
    file: str
    line: int
    kind: str
    name: str
    path: str


@dataclass(frozen=True)
class ManifestScan:
    images: tuple[FoundImage, ...] = ()
    versions: tuple[FoundVersion, ...] = ()

    def references(self) -> list[ImageReference]:
        """Each distinct reference once, in order of first appearance."""
        seen: dict[ImageReference, None] = {}
        for image in self.images:
            seen.setdefault(image.reference, None)
        return list(seen)

    def components(self) -> dict[str, FoundImage]:
        """The image of each operator component (the first found for it)."""
        found: dict[str, FoundImage] = {}
        for image in self.images:
            if image.component and image.component not in found:
                found[image.component] = image
        return found

    def merged(self, other: ManifestScan) -> ManifestScan:
        return ManifestScan(self.images + other.images, self.versions + other.versions)


# --------------------------------------------------------------------------- walking


@dataclass
class _Container:
    """An operator container seen while walking, for the derivation step."""

    image: FoundImage
    env: dict[str, tuple[str, FoundImage | None, int, int]] = field(default_factory=dict)


@dataclass
class _Walk:
    file: str
    images: list[FoundImage] = field(default_factory=list)
    versions: list[FoundVersion] = field(default_factory=list)
    containers: list[_Container] = field(default_factory=list)
    #: (imageRegistry, imageTag, imagePrefix) of each KubeVirt CR.
    kubevirt_overrides: list[tuple[str | None, str | None, str | None]] = field(
        default_factory=list
    )

    def key_position(self, node: Any, key: Any) -> tuple[int, int]:
        """1-based line and column of ``key`` in mapping ``node`` (the key: aliases point the
        value at its anchor)."""
        if isinstance(node, MarkedMap):
            return node.key_position(key)
        return position(node)

    def reference(self, node: Any, key: Any, value: Any) -> tuple[ImageReference, int, int]:
        line, col = self.key_position(node, key)
        if not isinstance(value, str) or not value:
            raise InputError(
                Location(self.file, line, col),
                f"{key}: expected an image reference string, found {_describe(value)}",
            )
        try:
            return parse_reference(value), line, col
        except ValueError as exc:
            raise InputError(
                Location(self.file, line, col),
                f"invalid image reference {value!r}: {exc}",
                hint="write registry/repository:tag or registry/repository@sha256:<hex>",
            ) from None

    def add(
        self,
        node: Any,
        key: Any,
        kind: str,
        name: str,
        path: str,
        source: str,
        component: str | None = None,
    ) -> FoundImage:
        value = node[key]
        ref, line, col = self.reference(node, key, value)
        found = FoundImage(ref, value, self.file, line, col, kind, name, path, source, component)
        self.images.append(found)
        return found


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return "a string" if value else "an empty string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


def _get(node: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _walk_pod_spec(walk: _Walk, spec: Any, kind: str, name: str, prefix: str) -> None:
    if not isinstance(spec, Mapping):
        return
    for list_name in CONTAINER_LISTS:
        containers = spec.get(list_name)
        if containers is None:
            continue
        if not isinstance(containers, list):
            line, col = walk.key_position(spec, list_name)
            raise InputError(Location(walk.file, line, col), f"{list_name} must be a list")
        for index, container in enumerate(containers):
            if not isinstance(container, Mapping):
                continue
            here = f"{prefix}.{list_name}[{index}]"
            found = None
            if "image" in container:
                component = _component_of_image(container["image"])
                found = walk.add(
                    container, "image", kind, name, f"{here}.image", "container", component
                )
            record = _walk_env(walk, container.get("env"), kind, name, here)
            if found is not None:
                walk.containers.append(_Container(found, record))


def _component_of_image(value: Any) -> str | None:
    if isinstance(value, str):
        if VIRT_OPERATOR_IMAGE_RE.match(value):
            return "virt-operator"
        if CDI_OPERATOR_IMAGE_RE.match(value):
            return "cdi-operator"
    return None


def _walk_env(
    walk: _Walk, env: Any, kind: str, name: str, prefix: str
) -> dict[str, tuple[str, FoundImage | None, int, int]]:
    """Record ``*_IMAGE`` and version env vars; return name -> (value, image, line, col)."""
    record: dict[str, tuple[str, FoundImage | None, int, int]] = {}
    if not isinstance(env, list):
        return record
    for index, var in enumerate(env):
        if not isinstance(var, Mapping) or not isinstance(var.get("name"), str):
            continue
        var_name = var["name"]
        if "value" not in var:  # valueFrom: nothing to read here
            continue
        here = f"{prefix}.env[{index}]({var_name})"
        line, col = walk.key_position(var, "value")
        if var_name.endswith("_IMAGE"):
            found = walk.add(var, "value", kind, name, here, "env")
            record[var_name] = (found.text, found, line, col)
        elif var_name in VERSION_ENV or var_name in SHASUM_ENV_NAMES:
            value = var["value"]
            text = "" if value is None else str(value)
            if var_name in VERSION_ENV:
                found_version = FoundVersion(var_name, text, walk.file, line, kind, name, here)
                walk.versions.append(found_version)
            record[var_name] = (text, None, line, col)
    return record


def _walk_document(walk: _Walk, doc: Any, line: int) -> None:
    if not isinstance(doc, Mapping):
        raise InputError(
            Location(walk.file, line),
            f"a Kubernetes document must be a mapping, found {_describe(doc)}",
        )
    kind = doc.get("kind")
    kind = kind if isinstance(kind, str) else "?"
    name = _get(doc, ("metadata", "name"))
    name = name if isinstance(name, str) else "?"
    if kind == "List" or (kind.endswith("List") and isinstance(doc.get("items"), list)):
        for item in doc.get("items") or []:
            _walk_document(walk, item, position(item)[0] or line)
        return
    if kind in POD_SPEC_PATHS:
        path = POD_SPEC_PATHS[kind]
        _walk_pod_spec(walk, _get(doc, path), kind, name, ".".join(path))
    elif kind == "ClusterServiceVersion":
        _walk_csv(walk, doc, name)
    elif kind == "KubeVirt":
        spec = doc.get("spec")
        if isinstance(spec, Mapping):
            values = [spec.get(k) for k in ("imageRegistry", "imageTag", "imagePrefix")]
            if any(isinstance(v, str) and v for v in values):
                walk.kubevirt_overrides.append(
                    tuple(v if isinstance(v, str) and v else None for v in values)  # type: ignore[arg-type]
                )


def _walk_csv(walk: _Walk, doc: Mapping[str, Any], name: str) -> None:
    kind = "ClusterServiceVersion"
    annotations = _get(doc, ("metadata", "annotations"))
    if isinstance(annotations, Mapping) and "containerImage" in annotations:
        walk.add(
            annotations,
            "containerImage",
            kind,
            name,
            "metadata.annotations.containerImage",
            "annotation",
        )
    related = _get(doc, ("spec", "relatedImages"))
    if isinstance(related, list):
        for index, entry in enumerate(related):
            if isinstance(entry, Mapping) and "image" in entry:
                label = entry.get("name")
                walk.add(
                    entry,
                    "image",
                    kind,
                    name,
                    f"spec.relatedImages[{index}].image",
                    "related",
                    component=label if isinstance(label, str) else None,
                )
    deployments = _get(doc, ("spec", "install", "spec", "deployments"))
    if isinstance(deployments, list):
        for index, deployment in enumerate(deployments):
            prefix = f"spec.install.spec.deployments[{index}].spec.template.spec"
            _walk_pod_spec(walk, _get(deployment, ("spec", "template", "spec")), kind, name, prefix)


# --------------------------------------------------------------------------- derivation


def _derive(walk: _Walk, components: Sequence[str]) -> None:
    """Add the component images virt-operator composes, and label cdi-operator's env images."""
    registry_o, tag_o, prefix_o = None, None, None
    for registry, tag, prefix in walk.kubevirt_overrides:
        registry_o, tag_o, prefix_o = registry or registry_o, tag or tag_o, prefix or prefix_o
    overrides = (registry_o, tag_o, prefix_o)
    for container in walk.containers:
        if container.image.component == "cdi-operator":
            for var, (_, found, _, _) in container.env.items():
                if found is not None and var in CDI_ENV_COMPONENTS:
                    _set_component(walk, found, CDI_ENV_COMPONENTS[var])
        elif container.image.component == "virt-operator":
            _derive_from_virt_operator(walk, container, components, overrides)


def _derive_from_virt_operator(
    walk: _Walk,
    container: _Container,
    components: Sequence[str],
    overrides: tuple[str | None, str | None, str | None],
) -> None:
    """virt-operator's components: named in its env (``VIRT_API_IMAGE``), else composed as it
    composes them: its own registry and prefix, its tag or ``KUBEVIRT_VERSION``, unless the
    KubeVirt CR overrides registry, tag or prefix."""
    op, env = container.image, container.env
    own = env.get("VIRT_OPERATOR_IMAGE") or env.get("OPERATOR_IMAGE")
    for var in ("VIRT_OPERATOR_IMAGE", "OPERATOR_IMAGE"):
        if env.get(var) and env[var][1] is not None:
            _set_component(walk, env[var][1], "virt-operator")  # type: ignore[arg-type]
    source = own[1] if own and own[1] is not None else op
    match = VIRT_OPERATOR_IMAGE_RE.match(source.text)
    if not match:
        return
    registry, prefix, version = match.group(1), match.group(2), match.group(3) or ""
    if not version:
        tag = "latest"
    elif version.startswith(":"):
        tag = version[1:].split("@", 1)[0]
    else:
        tag = env.get("KUBEVIRT_VERSION", ("",))[0] or "latest"
    registry_o, tag_o, prefix_o = overrides
    registry, tag = registry_o or registry, tag_o or tag
    prefix = prefix_o if prefix_o is not None else prefix
    for component in components:
        if component == "virt-operator":
            continue
        override = env.get(VIRT_OPERATOR_IMAGE_ENV.get(component, ""))
        if override and override[1] is not None:
            _set_component(walk, override[1], component)
            continue
        # 0.x: a digest-pinned operator with every core component's digest in its env.
        sha = env.get(VIRT_OPERATOR_SHASUM_ENV.get(component, ""), ("",))[0]
        pinned = version.startswith("@") and all(
            v in env for v in VIRT_OPERATOR_SHASUM_ENV.values()
        )
        text = f"{registry}/{prefix}{component}" + (f"@{sha}" if pinned and sha else f":{tag}")
        walk.images.append(_composed(op, source, component, text))


def _composed(op: FoundImage, source: FoundImage, component: str, text: str) -> FoundImage:
    """The component image ``text`` that virt-operator (``op``, its image from ``source``)
    composes; found where its own image is."""
    try:
        ref = parse_reference(text)
    except ValueError as exc:
        raise InputError(
            source.location,
            f"virt-operator image {source.text!r} gives an invalid {component} image "
            f"{text!r}: {exc}",
        ) from None
    return FoundImage(
        ref,
        text,
        source.file,
        source.line,
        source.column,
        op.kind,
        op.name,
        f"{source.path} -> {component}",
        "derived",
        component,
    )


def _set_component(walk: _Walk, found: FoundImage, component: str) -> None:
    # By identity: equal images found twice (two files of one release) are each their own entry.
    index = next(i for i, image in enumerate(walk.images) if image is found)
    walk.images[index] = FoundImage(
        found.reference,
        found.text,
        found.file,
        found.line,
        found.column,
        found.kind,
        found.name,
        found.path,
        found.source,
        component,
    )


# --------------------------------------------------------------------------- entry points


def scan_text(text: str, file: str = "<text>", components: Sequence[str] = ()) -> ManifestScan:
    """Scan YAML ``text`` (any number of documents); ``file`` names it in results and errors.

    ``components``: the virt-operator components to derive (from pipeline.yaml), e.g.
    ``("virt-api", "virt-controller", "virt-handler", "virt-launcher")``.
    """
    walk = _Walk(file)
    for doc, (line, _) in load_all(text, file):
        _walk_document(walk, doc, line)
    _derive(walk, components)
    return ManifestScan(tuple(walk.images), tuple(walk.versions))


def scan_file(path: Path | str, components: Sequence[str] = ()) -> ManifestScan:
    """Scan one manifest file."""
    path = Path(path)
    return scan_text(read_text(path, "manifest file"), str(path), components)


def scan_files(paths: Iterable[Path | str], components: Sequence[str] = ()) -> ManifestScan:
    """Scan several files as one set: a KubeVirt CR in one file overrides the images that the
    operator in another derives, as it does in a cluster."""
    walk = _Walk("")
    for path in paths:
        path = Path(path)
        text = read_text(path, "manifest file")
        walk.file = str(path)
        for doc, (line, _) in load_all(text, str(path)):
            _walk_document(walk, doc, line)
    _derive(walk, components)
    return ManifestScan(tuple(walk.images), tuple(walk.versions))
