"""The manifests a build ships: the files inside its manifests RPMs, as a cluster admin gets
them. Publish records their sha256, verify-tags checks their image references."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config.project import Project
from pipeline.core.errors import StateError
from pipeline.core.report import RpmsSection
from pipeline.tools import rpm


@dataclass(frozen=True)
class ShippedManifests:
    product: str
    #: The manifests RPM's file name, to name the files as ``<rpm>:/path`` in messages.
    package: str
    #: The unpacked copy of each manifest file.
    files: tuple[Path, ...]
    #: Where the RPM was unpacked (the files' paths below it are their paths in the RPM).
    root: Path

    def display_name(self, path: Path) -> str:
        return f"{self.package}:/{path.relative_to(self.root)}"


def unpack_manifests(
    project: Project, rpms: RpmsSection, report: Path, workdir: Path
) -> list[ShippedManifests]:
    """Every product's manifests RPM of the last build, unpacked under ``workdir/<product>/``."""
    found = []
    for name, product in project.products.items():
        entry = rpms.products.get(name)
        record = entry.rpm(product.manifests_package) if entry else None
        if record is None:
            raise StateError(
                report, f"no {product.manifests_package} RPM recorded", hint="re-run the rpms stage"
            )
        root = workdir / name
        rpm.extract(project.root / record.path, root)
        files = tuple(sorted((root / product.manifests_dir.lstrip("/")).glob("*.yaml")))
        if not files:
            raise StateError(record.path, f"holds no manifests under {product.manifests_dir}")
        found.append(ShippedManifests(name, product.manifests_package, files, root))
    return found
