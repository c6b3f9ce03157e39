"""The context every verb works on: the options, and (loaded on first use) the project, the
chosen target and its build directory and report."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config.project import Project, Target, find_project, load_project

if TYPE_CHECKING:  # imported when a verb reads the report (verify-tags --releases never does)
    from pipeline.core.report import Report


@dataclass(frozen=True)
class Options:
    """Command-line options shared by the verbs (one parser serves nox and python -m pipeline)."""

    target: str = "local"
    json: str | None = None
    debug: bool = False
    verbose: int = 0
    force: bool = False
    release: str | None = None
    registry: str | None = None
    jobs: int = 2
    manifests: tuple[str, ...] = ()
    #: ``verify-tags --releases``: the targets whose releases to audit (None: not asked).
    releases: tuple[str, ...] | None = None
    extra: tuple[str, ...] = ()
    #: prune: releases kept per product, and only list what would go.
    keep: int = 3
    dry_run: bool = False
    #: ``--platforms``: ``host`` or a comma-separated subset of the target's; None: all of them.
    platforms: str | None = None


class Context:
    """Options plus the project they name. The project is read only when a verb asks for it:
    ``setup-host`` runs before there is anything to read."""

    def __init__(self, options: Options, project_path: Path | None = None) -> None:
        self.options = options
        self._project_path = project_path

    @cached_property
    def project_path(self) -> Path:
        """pipeline.yaml: ``--project``, or found from the current directory upwards."""
        return self._project_path or find_project()

    @cached_property
    def project(self) -> Project:
        return load_project(self.project_path)

    @cached_property
    def target(self) -> Target:
        return self.project.target(self.options.target)

    @cached_property
    def platforms(self) -> tuple[str, ...]:
        """What this run builds, publishes and verifies: the target's platforms, or those
        ``--platforms`` chose (explicitly: a host that cannot emulate the others says so)."""
        from pipeline.core.plan import select_platforms  # the audit never asks: no import

        return select_platforms(self.target.platforms, self.options.platforms, self.target.name)

    @property
    def build_root(self) -> Path:
        return self.project.root / "build"

    @property
    def build_dir(self) -> Path:
        """Everything this target's build makes: RPMs, repo, work dirs, report, releases."""
        return self.build_root / self.target.name

    @property
    def report_path(self) -> Path:
        return self.build_dir / "report.json"

    @cached_property
    def report(self) -> Report:
        from pipeline.core.report import Report

        return Report(self.report_path, self.target.name)
