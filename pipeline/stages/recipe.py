"""An image's recipe for one architecture: its directory after the buildtime services ran,
checked.

Made the same way for a build (from step 1's meta RPM and RPMs of that architecture) and for
plan's dry run before any work (from the planned values): the services on a copy of the image
directory, the instructions an ``#!ArchExclusiveLine``/``#!ArchExcludedLine`` keeps from this
architecture left out (``obs.dockerfile_arch``), no placeholder left, the ``#!BuildTag``\\s
valid references, one of them the reference the manifests name, and whether
``#!ExclusiveArch``/``#!ExcludeArch`` allow the architecture at all. Errors name the image's own
files and lines, never the copy's.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.config.project import Image
from pipeline.core.errors import InputError, Location
from pipeline.images.reference import parse_reference
from pipeline.obs.conventions import ANY_PLACEHOLDER
from pipeline.obs.dockerfile import Dockerfile, load_dockerfile
from pipeline.obs.dockerfile_arch import for_arch
from pipeline.obs.dockerfile_args import expand_build_tag
from pipeline.obs.dockerfile_lines import source_line
from pipeline.obs.service import load_service
from pipeline.services.base import ServiceContext
from pipeline.services.runner import run_services

TAG_HINT = "tag %%TAGPREFIX%%/<image>:%%PKG_VERSION%%-%%PKG_RELEASE%%"


@dataclass(frozen=True)
class Facts:
    """What an image's services and checks are told about its build."""

    target: str
    registry: str
    registry_path: str
    version: str
    release: str
    tag: str
    source_date_epoch: int
    os_version: str | None


@dataclass(frozen=True)
class Recipe:
    dockerfile: Dockerfile
    tags: tuple[str, ...]
    #: The tag the manifests name, ``<registry_path>/<image>:<tag>``; "" when excluded.
    reference: str
    #: ``#!ExclusiveArch``/``#!ExcludeArch`` exclude this architecture.
    excluded: bool


def prepare(
    image: Image,
    root: Path,
    workdir: Path,
    facts: Facts,
    sysroot: Path,
    rpms_dir: Path,
    arch: str,
    planned_packages: Mapping[str, tuple[str, str]] | None = None,
) -> Recipe:
    """Copy ``image``'s directory to ``workdir``, run its services there and check the result
    as it is built for ``arch`` (an rpm name)."""
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(image.directory, workdir)
    service_ctx = ServiceContext(
        sysroot=sysroot,
        rpms_dir=rpms_dir,
        source_date_epoch=facts.source_date_epoch,
        release=facts.release,
        disturl=f"obs://pipeline/{facts.target}/{image.name}/{facts.release}",
        sourceurl=f"file://{image.directory.relative_to(root)}",
        os_version_id=facts.os_version,
        os_pretty_name=facts.target,
        os_version_id_sp=facts.os_version,
        planned_packages=planned_packages,
    )
    try:
        run_services(load_service(workdir / "_service"), workdir, service_ctx)
        path = workdir / "Dockerfile"
        if path.is_file():  # a missing or unreadable one: load_dockerfile says so, by name
            text = path.read_bytes().decode("utf-8", "surrogateescape")
            path.write_bytes(for_arch(text, arch).encode("utf-8", "surrogateescape"))
        dockerfile = load_dockerfile(path)
        _no_placeholder_left(dockerfile, image)
        if not dockerfile.builds_on(arch):
            return Recipe(dockerfile, (), "", excluded=True)
        tags = image_tags(dockerfile, image, facts)
        return Recipe(dockerfile, tags, manifest_reference(dockerfile, image, facts, tags), False)
    except InputError as exc:
        raise in_source(exc, workdir, image.directory) from exc


def _no_placeholder_left(dockerfile: Dockerfile, image: Image) -> None:
    for number, line in enumerate(dockerfile.lines, start=1):
        found = ANY_PLACEHOLDER.search(line)
        if found:
            raise InputError(
                Location(image.directory / "Dockerfile", number, found.start() + 1),
                f"placeholder {found.group()} left after the services ran",
                hint="name the variable in the _service's replace_using_env params",
            )


def image_tags(dockerfile: Dockerfile, image: Image, facts: Facts) -> tuple[str, ...]:
    """Every ``#!BuildTag``, filled in and qualified with the registry."""
    tags = []
    for build_tag in dockerfile.build_tags:
        try:
            # As OBS: <VERSION> is the Dockerfile's #!BuildVersion, <RELEASE> the build's.
            text = expand_build_tag(build_tag.tag, dockerfile.build_version, facts.release)
            full = f"{facts.registry}/{text}"
            parse_reference(full)
        except ValueError as exc:
            raise InputError(
                Location(image.directory / "Dockerfile", build_tag.line, build_tag.column),
                f"#!BuildTag {build_tag.tag!r} is not a valid image reference: {exc}",
            ) from None
        tags.append(full)
    if not tags:
        raise InputError(
            image.directory / "Dockerfile",
            "no #!BuildTag lines",
            hint=f"add #!BuildTag: {TAG_HINT}",
        )
    return tuple(tags)


def manifest_reference(
    dockerfile: Dockerfile, image: Image, facts: Facts, tags: tuple[str, ...]
) -> str:
    """The tag the manifests name for the image; one of its ``#!BuildTag``\\s must be it."""
    reference = f"{facts.registry_path}/{image.name}:{facts.tag}"
    if reference not in tags:
        line = dockerfile.build_tags[0].line if dockerfile.build_tags else 0
        raise InputError(
            Location(image.directory / "Dockerfile", line),
            f"no #!BuildTag gives {reference}, the reference the manifests name",
            hint=TAG_HINT,
        )
    return reference


def in_source(exc: InputError, workdir: Path, directory: Path) -> InputError:
    """``exc`` pointing at the image directory's file instead of its copy under work/."""
    where = exc.location
    if where is None:
        return exc
    path = Path(where.path)
    if path.is_relative_to(workdir):
        path = directory / path.relative_to(workdir)
    elif not path.is_relative_to(directory):
        return exc
    line = where.line
    if path == directory / "Dockerfile" and line and (workdir / "Dockerfile").is_file():
        processed = (workdir / "Dockerfile").read_text(errors="replace").splitlines()
        source = (directory / "Dockerfile").read_text(errors="replace").splitlines()
        line = source_line(processed, source, line)
    return InputError(Location(path, line, where.column), exc.message, hint=exc.hint)
