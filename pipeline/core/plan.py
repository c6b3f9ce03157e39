"""The plan: everything a build of one target needs, resolved once before any work.

``pipeline.stages.plan.make_plan`` builds it from pipeline.yaml, the prjconf, the spec files,
the Dockerfiles and the release book; every later stage takes it instead of reading those again.
It round-trips through JSON (``plan --json`` prints it, ``Plan.from_json`` reads it back).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.errors import InputError
from pipeline.core.records import from_json, to_json


@dataclass(frozen=True)
class ImagePlan:
    name: str
    #: The image's OBS package directory, relative to the project root.
    directory: str
    #: ``<registry>/<tagprefix>/<name>:<version>-<release>``: what the manifests name.
    reference: str
    #: The image the last FROM of its Dockerfile resolves to with the target's build args.
    base_image: str


@dataclass(frozen=True)
class ProductPlan:
    name: str
    version: str
    #: The sample directory (relative) or the upstream tarball URL Source0 comes from.
    source: str
    ci_cnt: int
    #: Digest of every input: equal digests mean nothing to build.
    inputs: str
    #: The digest of each input (spec package, sources, prjconf, each image, the base).
    input_parts: dict[str, str]
    #: The inputs that differ from the last successful build ("first build" when none).
    changed: tuple[str, ...]
    #: "up to date" (last release reused), "next" (a build would take it), or "override".
    release_state: str
    release: str
    tag: str
    up_to_date: bool
    #: From the spec's newest %changelog entry: build time, mtimes, image timestamps.
    source_date_epoch: int
    #: ``rpmbuild --define``s, in order: the version macro, the prjconf's Macros:, the registry.
    defines: dict[str, str]
    images: tuple[ImagePlan, ...]


@dataclass(frozen=True)
class Plan:
    target: str
    #: The prjconf, relative to the project root.
    prjconf: str
    #: The prjconf's ``BuildFlags: dockerarg:`` values, given to every image build.
    build_args: dict[str, str]
    base_images: tuple[str, ...]
    registry: str
    tag_prefix: str
    label_prefix: str
    registry_path: str
    #: The platforms this build makes: the target's (``--platforms`` may choose fewer).
    platforms: tuple[str, ...]
    #: The prjconf's ``Release:`` template (OBS's default when it has none).
    release_template: str
    #: The prjconf's ``%sle_version`` (SLE targets), for the image metainfo services.
    os_version: str | None
    products: tuple[ProductPlan, ...]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self)
        return data

    @classmethod
    def from_json(cls, data: Any, file: Path) -> Plan:
        return from_json(cls, data, file)

    def product(self, name: str) -> ProductPlan:
        return next(p for p in self.products if p.name == name)

    @property
    def arches(self) -> tuple[str, ...]:
        """The platforms as rpm names their Dockerfiles' ExclusiveArch use (x86_64, aarch64)."""
        return tuple(rpm_arch(platform) for platform in self.platforms)


#: OCI architecture names as rpm and OBS spell them.
RPM_ARCHES = {"amd64": "x86_64", "arm64": "aarch64", "386": "i586"}
#: The other way round, and what ``uname -m`` says on a machine of that architecture.
OCI_ARCHES = {rpm: oci for oci, rpm in RPM_ARCHES.items()} | {"i686": "386"}
#: ``--platforms host``: only the architecture of the machine running the build.
HOST = "host"


def rpm_arch(platform: str) -> str:
    """``linux/arm64`` (or ``arm64``) as rpm spells it: ``aarch64``."""
    arch = platform.split("/")[1] if "/" in platform else platform
    return RPM_ARCHES.get(arch, arch)


def oci_arch(arch: str) -> str:
    """``aarch64`` as OCI (and Go, and Debian for these) spell it: ``arm64``."""
    return OCI_ARCHES.get(arch, arch)


def host_arch() -> str:
    """The rpm name of this machine's architecture (``uname -m``)."""
    machine = platform.machine()
    return RPM_ARCHES.get(machine, machine)  # BSDs and macOS say arm64, amd64


def host_platform() -> str:
    return f"linux/{oci_arch(host_arch())}"


def select_platforms(declared: tuple[str, ...], chosen: str | None, target: str) -> tuple[str, ...]:
    """The platforms a run builds: every one the target declares, or (``--platforms``) the
    host's or a comma-separated subset of them, in the declared order. Choosing fewer is always
    explicit: nothing here falls back to the host by itself."""
    if not chosen:
        return declared
    wanted = [host_platform() if word == HOST else word for word in chosen.split(",") if word]
    unknown = [word for word in wanted if word not in declared]
    if unknown or not wanted:
        raise InputError(
            None,
            f"--platforms {chosen!r}: target {target!r} does not declare "
            f"{', '.join(unknown) or 'any of them'}",
            hint=f"choose {HOST!r} (this machine is {host_platform()}) or among "
            f"{', '.join(declared)}",
        )
    return tuple(p for p in declared if p in wanted)
