"""Targets made in a test, without a pipeline.yaml."""

from __future__ import annotations

from pathlib import Path

from pipeline.config.project import BuildRoot, Target


def rooted_target(name: str, packages_map: Path, suite: str = "trixie") -> Target:
    """A one-platform target whose RPMs build in a ``suite`` root mapped by ``packages_map``."""
    return Target(
        name=name,
        prjconf=packages_map.parent / f"{name}.prjconf",
        registry="127.0.0.1:5555",
        platforms=("linux/amd64",),
        pull="never",
        local_base=True,
        products={},
        build_root=BuildRoot(suite=suite, packages_map=packages_map),
    )
