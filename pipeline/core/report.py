"""The build report, ``build/<target>/report.json``: each stage records what it made, typed.

Later stages read it instead of recomputing (NEVRAs, env values, image ids, digests). A stage
replaces only its own section, under the lock, so a concurrent or killed build cannot leave a
mixed or half-written file. A section is written only when its stage succeeded for the entries
it claims: a failed product or image is recorded as failed, never as built. A report of another
format, or one whose keys or types are not what this version writes, is refused with one line
(``StateError``) when it is read, never half-used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pipeline.core.errors import Location, StateError
from pipeline.core.records import from_json, to_json
from pipeline.core.state import locked_update, read_json

#: Bumped whenever a section's shape changes; a report of another format is refused.
FORMAT = 3
Section = TypeVar("Section")


@dataclass(frozen=True)
class RpmRecord:
    nevra: str
    name: str
    #: Relative to the project root.
    path: str
    sha256: str
    files: tuple[str, ...]
    #: The architecture whose build made it (a noarch RPM too): it is in ``repo/<for_arch>/``.
    for_arch: str


@dataclass(frozen=True)
class ProductBuild:
    version: str
    release: str
    tag: str
    inputs: str
    #: The meta env file's values, as extracted from the meta RPM and checked against the plan.
    env: dict[str, str]
    source_date_epoch: int
    rpms: tuple[RpmRecord, ...]
    seconds: float
    #: The rpm architectures it was built for, in the target's platform order: one release,
    #: one meta env file (checked equal across them) and one tag for all.
    arches: tuple[str, ...]

    def rpm(self, name: str, arch: str | None = None) -> RpmRecord | None:
        """The RPM ``name`` of ``arch``'s build (of the first arch when None)."""
        arch = arch or self.arches[0]
        return next((r for r in self.rpms if r.name == name and r.for_arch == arch), None)


@dataclass(frozen=True)
class RpmsSection:
    products: dict[str, ProductBuild]
    #: Every product built and the repo made: what the containers stage needs.
    complete: bool
    #: One repo per architecture under it (``repo/<arch>/``), and one sysroot per architecture
    #: with the meta env files of that architecture's meta RPMs (``sysroot/<arch>/``).
    repo: str
    sysroot: str
    timings: dict[str, dict[str, float]]
    finished: str = ""
    #: Wall seconds during which some tool ran (tools side by side count once).
    tools_busy_seconds: float = 0.0


@dataclass(frozen=True)
class ArchImage:
    """An image as built for one architecture: one entry of the index publish pushes."""

    platform: str
    id: str
    #: Its name in local storage, ``<reference>-<arch>``: the image's tags name the index of
    #: every architecture, which exists only in the registry.
    name: str
    #: Bytes of all layers, and of the layers on top of the base image.
    size: int
    own_size: int
    #: The RPMs it added to its base.
    rpms: tuple[str, ...]
    seconds: float


@dataclass(frozen=True)
class ImageBuild:
    name: str
    product: str
    state: str  # built, up to date, excluded, failed
    reference: str = ""
    tags: tuple[str, ...] = ()
    #: rpm arch -> its image, for every architecture the image was built for (an
    #: ``#!ExclusiveArch`` may leave out some of the target's). Read back in key order: use
    #: ``by_platform`` for the order of an index.
    arches: dict[str, ArchImage] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    release: str = ""
    inputs: str = ""
    seconds: float = 0.0
    error: str = ""
    #: A failed image's error was its input's fault (exit 2), not a tool's (exit 3).
    input_error: bool = False
    #: The digest of its image index in the registry, once publish pushed it.
    digest: str = ""

    @property
    def usable(self) -> bool:
        """Built now or before: an image publish can push."""
        return self.state in ("built", "up to date")

    @property
    def by_platform(self) -> tuple[ArchImage, ...]:
        """Its architectures' images in platform order (``linux/amd64``, ``linux/arm64``):
        one order for every push, so an index pushed again has the same digest."""
        return tuple(sorted(self.arches.values(), key=lambda image: image.platform))

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(image.platform for image in self.by_platform)


@dataclass(frozen=True)
class ContainersSection:
    #: rpm arch -> the id of the base its images were built on.
    bases: dict[str, str]
    images: dict[str, ImageBuild]
    timings: dict[str, dict[str, float]]
    finished: str = ""
    #: Wall seconds during which some tool ran (tools side by side count once).
    tools_busy_seconds: float = 0.0


_SECTIONS: dict[str, type] = {"rpms": RpmsSection, "containers": ContainersSection}


class Report:
    """The report of one target's build directory."""

    def __init__(self, path: Path, target: str) -> None:
        self.path = path
        self.target = target

    def _raw(self) -> dict[str, Any]:
        data = read_json(self.path)
        found = data.get("format")
        if data and found != FORMAT:
            raise StateError(
                Location(self.path, 1),
                f"written in report format {found!r}; this pipeline reads format {FORMAT}",
                hint=f"remove it and build again (nox -s build -- --target {self.target}); "
                "release numbers are kept in releases.json",
            )
        return data

    def _section(self, name: str, cls: type[Section]) -> Section | None:
        data = self._raw().get(name)
        return None if data is None else from_json(cls, data, self.path, where=(name,))

    def rpms(self) -> RpmsSection | None:
        return self._section("rpms", RpmsSection)

    def containers(self) -> ContainersSection | None:
        return self._section("containers", ContainersSection)

    def require_rpms(self) -> RpmsSection:
        found = self.rpms()
        if found is None:
            raise StateError(
                self.path,
                "has no 'rpms' results",
                hint=f"build first: nox -s build -- --target {self.target}",
            )
        return found

    def require_containers(self) -> ContainersSection:
        found = self.containers()
        if found is None:
            raise StateError(
                self.path,
                "has no 'containers' results",
                hint=f"build first: nox -s build -- --target {self.target}",
            )
        return found

    def write(self, name: str, section: RpmsSection | ContainersSection) -> None:
        """Replace one stage's section (stamped with the time it finished)."""
        assert isinstance(section, _SECTIONS[name])
        self._raw()  # never write into a report of another format
        with locked_update(self.path) as report:
            report["format"] = FORMAT
            report["target"] = self.target
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            report[name] = {**to_json(section), "finished": stamp}

    def record_digests(self, digests: dict[str, str]) -> None:
        """Publish: the digest each image was pushed with, so a re-publish skips what is
        there."""
        with locked_update(self.path) as report:
            images = report.get("containers", {}).get("images", {})
            for name, digest in digests.items():
                if name in images:
                    images[name]["digest"] = digest
