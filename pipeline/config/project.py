"""pipeline.yaml: the declarative project, loaded and validated into frozen dataclasses.

Everything a build needs that is not in an OBS file lives here: the products with their spec
package and images, and the targets with their prjconf, pinned versions, sources, platforms and
registry. Anything unexpected (unknown key, wrong type, missing file, duplicate name) is an
``InputError`` naming pipeline.yaml, the line and column, and what is expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.config.schema import Node
from pipeline.core.errors import InputError

PROJECT_FILE = "pipeline.yaml"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
VERSION_RE = re.compile(r"^\d+(\.\d+)*$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")
PULL_POLICIES = ("always", "missing", "never")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class Image:
    """An image a product ships: its name and its directory (Dockerfile and _service)."""

    name: str
    directory: Path
    #: First and last product versions that ship this image (inclusive); None = unbounded.
    since: str | None = None
    until: str | None = None

    def shipped_in(self, version: str) -> bool:
        key = version_key(version)
        if self.since and key < version_key(self.since):
            return False
        return not (self.until and key > version_key(self.until))


@dataclass(frozen=True)
class Product:
    """One product of pipeline.yaml: its OBS spec package, meta service, manifests, images."""

    name: str
    #: The OBS package directory: the spec file plus its other sources (meta service files).
    package_dir: Path
    spec: Path
    #: rpm macro that selects the version the one spec builds (``--define "<macro> <version>"``).
    version_macro: str
    #: Source0 file name, ``{version}`` filled in; the tarball's top directory is its stem.
    tarball: str
    meta_service: str
    manifests_package: str
    manifests_dir: str
    operator_image: str
    images: tuple[Image, ...]
    #: The operator's env var that holds the release tag (KUBEVIRT_VERSION, OPERATOR_VERSION).
    version_env: str | None = None

    @property
    def meta_package(self) -> str:
        return f"obs-service-{self.meta_service}"

    def images_for(self, version: str) -> tuple[Image, ...]:
        return tuple(image for image in self.images if image.shipped_in(version))

    def image(self, name: str) -> Image:
        return next(image for image in self.images if image.name == name)


@dataclass(frozen=True)
class Source:
    """Where a product's Source0 comes from for a target: a sample tree or an upstream tarball."""

    directory: Path | None = None
    url: str | None = None
    sha256: str | None = None

    @property
    def is_local(self) -> bool:
        return self.directory is not None


@dataclass(frozen=True)
class BuildRoot:
    """The clean tree step 1's rpmbuild runs in: Debian ``suite`` from ``mirror``, holding the
    packages ``packages_map`` names for each spec's BuildRequires (``stages/build_roots.py``)."""

    suite: str
    packages_map: Path
    mirror: str = "http://deb.debian.org/debian"


#: The `local` target's base inputs (``local_base: true``): part of the pipeline, not the project.
DEFAULT_LOCAL_BASE = Path(__file__).resolve().parents[2] / "base" / "local"


@dataclass(frozen=True)
class LocalBase:
    """A base image the pipeline builds itself from Debian packages (``stages/local_base.py``):
    the directory of its inputs (packages.txt, provides.txt, Containerfile, ...) and the suite."""

    inputs_dir: Path = DEFAULT_LOCAL_BASE
    suite: str = "bookworm"


@dataclass(frozen=True)
class TargetProduct:
    """A product as a target pins it: the upstream version and where Source0 comes from."""

    product: str
    version: str
    source: Source


@dataclass(frozen=True)
class Target:
    """One target of pipeline.yaml: prjconf, registry, platforms, base and pinned products."""

    name: str
    prjconf: Path
    #: The registry host[:port] images are published to; the prjconf's macros must agree.
    registry: str
    platforms: tuple[str, ...]
    pull: str
    #: The base image the pipeline builds itself (offline targets), or None: pulled.
    local_base: LocalBase | None
    products: Mapping[str, TargetProduct]
    #: Where rpmbuild runs; None: on the host (the targets whose roots would come from their
    #: own distribution's repositories, which this pipeline does not reach yet).
    build_root: BuildRoot | None = None


@dataclass(frozen=True)
class Project:
    """pipeline.yaml loaded and checked: its products and targets, paths resolved."""

    root: Path
    path: Path
    products: Mapping[str, Product]
    targets: Mapping[str, Target]

    def target(self, name: str) -> Target:
        if name not in self.targets:
            raise InputError(
                self.path,
                f"no target {name!r}",
                hint="choose one of: " + ", ".join(self.targets),
            )
        return self.targets[name]


def _name(node: Node, name: str, what: str) -> str:
    if not NAME_RE.match(name):
        raise node.error(f"{what} name {name!r} is not valid", hint="use lowercase a-z, 0-9, . _ -")
    return name


def _version(node: Node, key: str) -> str:
    value = node.string(key)
    if not VERSION_RE.match(value):
        raise node.child(key).error(f'{key!r} must be a version like "1.9.0", not {value!r}')
    return value


def _load_image(node: Node, root: Path) -> Image:
    node.check_keys({"name", "dir", "since", "until"}, frozenset({"name", "dir"}))
    name = _name(node, node.string("name"), "image")
    directory = node.file("dir", root)
    for required in ("Dockerfile", "_service"):
        if not (directory / required).is_file():
            raise node.child("dir").error(
                f"image directory {node.string('dir')!r} has no {required}"
            )
    since = _version(node, "since") if node.has("since") else None
    until = _version(node, "until") if node.has("until") else None
    return Image(name=name, directory=directory, since=since, until=until)


_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+{}-]*")
PLAIN_VALUES = (
    ("spec", _FILE_NAME, "a file name in the package"),
    ("tarball", _FILE_NAME, "a file name like NAME-{version}.tar.gz"),
    ("meta_service", _FILE_NAME, "a service name"),
    ("manifests_package", _FILE_NAME, "an RPM name"),
    ("version_macro", re.compile(r"[A-Za-z_][A-Za-z0-9_]*"), "an rpm macro name"),
    ("manifests_dir", re.compile(r"(?:/[A-Za-z0-9._+-]+)+"), "an absolute path inside an RPM"),
)


def _load_product(name: str, node: Node, root: Path) -> Product:
    keys = {
        "package",
        "spec",
        "version_macro",
        "tarball",
        "meta_service",
        "manifests_package",
        "manifests_dir",
        "operator_image",
        "images",
    }
    node.check_keys(keys | {"version_env"}, frozenset(keys))
    package_dir = node.file("package", root)
    # These become file names (Source0 under SOURCES/, the spec, the meta file), rpm macro names
    # and paths inside an RPM: a '/', '..' or a space would reach outside where they belong.
    for key, pattern, what in PLAIN_VALUES:
        if not pattern.fullmatch(node.string(key)) or ".." in node.string(key).split("/"):
            raise node.child(key).error(f"{key!r} {node.string(key)!r} is not {what}")
    spec = package_dir / node.string("spec")
    if not spec.is_file():
        raise node.child("spec").error(f"spec file {spec.relative_to(root)} does not exist")
    images: dict[str, Image] = {}
    for element in node.child("images").elements("image"):
        image = _load_image(element, root)
        if image.name in images:
            raise element.error(f"duplicate image {image.name!r} in product {name!r}")
        images[image.name] = image
    tarball = node.string("tarball")
    if "{version}" not in tarball or not tarball.endswith(".tar.gz"):
        raise node.child("tarball").error("'tarball' must look like NAME-{version}.tar.gz")
    operator = node.string("operator_image")
    if operator not in images:
        raise node.child("operator_image").error(f"operator image {operator!r} is not in 'images'")
    return Product(
        name=name,
        package_dir=package_dir,
        spec=spec,
        version_macro=node.string("version_macro"),
        tarball=tarball,
        meta_service=node.string("meta_service"),
        manifests_package=node.string("manifests_package"),
        manifests_dir=node.string("manifests_dir"),
        operator_image=operator,
        images=tuple(images.values()),
        version_env=node.optional_string("version_env"),
    )


def _load_source(node: Node, root: Path) -> Source:
    node.check_keys({"dir", "url", "sha256"})
    if node.has("dir"):
        if node.has("url") or node.has("sha256"):
            raise node.error("a source is either 'dir' or 'url' + 'sha256', not both")
        return Source(directory=node.file("dir", root))
    if not node.has("url"):
        raise node.error("a source needs 'dir' (a sample tree) or 'url' (+ 'sha256')")
    url = node.string("url")
    if not url.startswith("https://"):
        raise node.child("url").error("upstream sources must be https:// URLs")
    # Unpinned is allowed so a new version can be fetched once to learn its checksum; a build
    # never uses an unpinned download (see pipeline/sources.py).
    sha256 = node.optional_string("sha256")
    if sha256 is not None and not SHA256_RE.match(sha256):
        raise node.child("sha256").error("'sha256' must be 64 lowercase hex digits")
    return Source(url=url, sha256=sha256)


def _load_target(name: str, node: Node, root: Path, products: Mapping[str, Product]) -> Target:
    node.check_keys(
        {"prjconf", "registry", "platforms", "pull", "local_base", "products", "build_root"},
        frozenset({"prjconf", "registry", "platforms", "products"}),
    )
    platforms = node.string_list("platforms")
    for platform in platforms:
        if not PLATFORM_RE.match(platform):
            raise node.child("platforms").error(
                f"platform {platform!r} is not os/arch[/variant]", hint="e.g. linux/amd64"
            )
    if not platforms:
        raise node.child("platforms").error("a target needs at least one platform")
    pinned: dict[str, TargetProduct] = {}
    for product_name, entry in node.child("products").items("product"):
        if product_name not in products:
            raise entry.error(
                f"target {name!r} pins unknown product {product_name!r}",
                hint="products are: " + ", ".join(products),
            )
        entry.check_keys({"version", "source"}, frozenset({"version", "source"}))
        pinned[product_name] = TargetProduct(
            product=product_name,
            version=_version(entry, "version"),
            source=_load_source(entry.child("source", "source"), root),
        )
    missing = [p for p in products if p not in pinned]
    if missing:
        raise node.child("products").error(f"target {name!r} does not pin {', '.join(missing)}")
    return Target(
        name=name,
        prjconf=node.file("prjconf", root),
        registry=node.string("registry"),
        platforms=platforms,
        pull=node.choice("pull", PULL_POLICIES, "missing"),
        local_base=_load_local_base(node, root),
        products=pinned,
        build_root=_load_build_root(node.child("build_root"), root)
        if node.has("build_root")
        else None,
    )


def _load_local_base(target: Node, root: Path) -> LocalBase | None:
    """``local_base: true`` (the `local` base), ``{dir, suite}`` (another one), or absent."""
    if not target.has("local_base"):
        return None
    node = target.child("local_base")
    if node.is_mapping():
        node.check_keys({"dir", "suite"}, frozenset({"dir", "suite"}))
        base = LocalBase(inputs_dir=node.file("dir", root), suite=_suite(node))
        for required in ("packages.txt", "provides.txt", "Containerfile"):
            if not (base.inputs_dir / required).is_file():
                raise node.child("dir").error(f"the local base directory has no {required}")
        return base
    if not isinstance(node.data, bool):
        raise node.error(
            "'local_base' must be true, false or {dir: <inputs directory>, suite: <Debian suite>}"
        )
    return LocalBase() if node.data else None


def _suite(node: Node) -> str:
    suite = node.string("suite")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", suite):
        raise node.child("suite").error(f"{suite!r} is not a Debian suite name", hint="e.g. trixie")
    return suite


def _load_build_root(node: Node, root: Path) -> BuildRoot:
    node.check_keys({"suite", "packages", "mirror"}, frozenset({"suite", "packages"}))
    suite = _suite(node)
    mirror = node.string("mirror", BuildRoot.mirror)
    if not mirror.startswith(("http://", "https://", "file:/")):
        raise node.child("mirror").error(f"mirror {mirror!r} is not an http(s) or file URL")
    return BuildRoot(suite=suite, packages_map=node.file("packages", root), mirror=mirror)


def load_project(path: Path) -> Project:
    """Load and validate pipeline.yaml; relative paths in it are relative to its directory."""
    # Imported here: the YAML parser is the heaviest import, and a verb that never reads
    # pipeline.yaml (--help, --version, an audit with --releases named by path) never pays it.
    from pipeline.config.yaml_reader import load_file

    path = path.absolute()
    root = path.parent
    top = Node.root(path, load_file(path))
    top.check_keys({"products", "targets"}, frozenset({"products", "targets"}))
    products: dict[str, Product] = {}
    for name, node in top.child("products").items("product"):
        products[_name(node, name, "product")] = _load_product(name, node, root)
    targets: dict[str, Target] = {}
    for name, node in top.child("targets").items("target"):
        targets[_name(node, name, "target")] = _load_target(name, node, root, products)
    if not targets:
        raise top.child("targets").error("pipeline.yaml defines no targets")
    return Project(root=root, path=path, products=products, targets=targets)


def find_project(start: Path | None = None) -> Path:
    """pipeline.yaml in ``start`` or the nearest parent directory."""
    here = (start or Path.cwd()).absolute()
    for directory in (here, *here.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    raise InputError(None, f"no {PROJECT_FILE} here or in a parent directory", hint="use --project")
