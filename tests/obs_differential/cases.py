"""Every file the differential suite reads, with where it comes from.

Four origins: ``own`` (this project's prjconfs, Dockerfiles and spec files), ``export`` (what
``obs-export`` writes), ``real`` (public OBS files: ``corpus/``, listed with their origin in
``corpus/MANIFEST.tsv``, and the project configs the installed obs-build ships), ``fixture``
(``fixtures/``: one small file per construct the readers must take as OBS does).
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.project import Project, Target, load_project
from pipeline.obs.export import config_text
from tests.obs_differential.reference import obs_build_dir
from tests.support.paths import ROOT

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
FIXTURES = HERE / "fixtures"
RELEASE = "3.1"


@dataclass(frozen=True)
class Case:
    kind: str
    origin: str
    path: Path
    arch: str = "x86_64"
    repository: str | None = "standard"
    config: Path | None = None
    #: For spec files: the product and the (target, version) it is read for.
    defines: tuple[tuple[str, str], ...] = field(default=())

    @property
    def id(self) -> str:
        where = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        extra = f"@{self.arch}" if self.kind == "prjconf" else ""
        extra += f"@{self.repository}" if self.kind == "prjconf" and self.origin == "export" else ""
        extra += f"@{self.config.name}" if self.kind == "spec" and self.config else ""
        return f"{self.kind}:{self.origin}:{where}{extra}"


def manifest() -> list[dict[str, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def installed_configs() -> list[Path]:
    """The project configs obs-build ships (symbolic links are other names of the same file)."""
    configs = obs_build_dir() / "configs"
    return sorted(p for p in configs.glob("*.conf") if not p.is_symlink() and p.stat().st_size)


def export_configs(tmp: Path) -> dict[str, Path]:
    """obs-export's ``_config`` of every target, written under ``tmp``."""
    project = load_project(ROOT / "pipeline.yaml")
    written = {}
    for name, target in project.targets.items():
        path = tmp / f"{name}._config"
        path.write_text(config_text(project, target), encoding="utf-8")
        written[name] = path
    return written


def prjconf_cases(exported: dict[str, Path]) -> list[Case]:
    cases = [
        Case("prjconf", "own", path, arch)
        for path in sorted((ROOT / "prjconf").glob("*.prjconf"))
        for arch in ("x86_64", "aarch64")
    ]
    cases += [
        Case("prjconf", "export", path, repository=repository)
        for path in exported.values()
        for repository in ("standard", "containerfile")
    ]
    cases += [
        Case("prjconf", "real", CORPUS / row["file"])
        for row in manifest()
        if row["file"].startswith("prjconf/")
    ]
    cases += [Case("prjconf", "real", path) for path in installed_configs()]
    cases += [Case("prjconf", "fixture", p) for p in sorted((FIXTURES / "prjconf").glob("*"))]
    return cases


def dockerfile_cases(exported: dict[str, Path]) -> list[Case]:
    own = sorted((ROOT / "dockerfiles").glob("*/*/Dockerfile"))
    cases = [Case("dockerfile", "own", p, config=ROOT / "prjconf/tumbleweed.prjconf") for p in own]
    cases += [
        Case("dockerfile", "export", p, repository="containerfile", config=exported["sle15-sp3"])
        for p in own
    ]
    for row in manifest():
        if not row["file"].startswith("dockerfile/"):
            continue
        # The elemental images take their base's version from their project's build args.
        elemental = row["repository"] == "davidcassany/elemental-obs"
        config = CORPUS / "prjconf/elemental-obs._config" if elemental else None
        repository = "containers" if elemental else "standard"
        cases.append(Case("dockerfile", "real", CORPUS / row["file"], "x86_64", repository, config))
    fixtures = sorted((FIXTURES / "dockerfile").glob("*"))
    config = FIXTURES / "dockerfile.prjconf"
    cases += [Case("dockerfile", "fixture", p, config=config) for p in fixtures]
    return cases


def pinned_targets(project: Project) -> list[tuple[Target, str, str]]:
    """(target, product, version) for every target and every version any target pins."""
    versions = {
        name: sorted({t.products[name].version for t in project.targets.values()})
        for name in project.products
    }
    found = []
    for target in project.targets.values():
        for name in project.products:
            for version in versions[name]:
                found.append((target, name, version))
    return found


def spec_cases(tmp: Path) -> list[Case]:
    """Each spec at every pinned version, for every target: obs-build reads it with the
    ``_config`` obs-export writes for that target and version, rpmspec with the defines the
    plan gives rpmbuild."""
    from pipeline.obs.prjconf import load_prjconf

    project = load_project(ROOT / "pipeline.yaml")
    cases = []
    for target, name, version in pinned_targets(project):
        product = project.products[name]
        pins = {
            **target.products,
            name: dataclasses.replace(target.products[name], version=version),
        }
        pinned = dataclasses.replace(target, products=pins)
        config = tmp / f"{target.name}-{name}-{version}._config"
        config.write_text(config_text(project, pinned), encoding="utf-8")
        prjconf = load_prjconf(target.prjconf)
        defines = ((product.version_macro, version), *prjconf.rpm_defines())
        cases.append(Case("spec", "own", product.spec, config=config, defines=defines))
    return cases
