"""The context every stage works on: the project, the chosen target, options, paths, output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config.project import Project, Target


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
    extra: tuple[str, ...] = ()


@dataclass
class Context:
    project: Project
    target: Target
    options: Options

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
