"""This project's side of the differential suite: the same fields, from its own readers, and for
spec files from ``rpmspec`` (what rpmbuild makes of them here)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from pipeline.obs.dockerfile import load_dockerfile
from pipeline.obs.dockerfile_args import expand_build_tag
from pipeline.obs.prjconf import DEFAULT_RELEASE, Prjconf, parse_prjconf

#: The prjconf lists compared, by OBS's (lower-case) keyword.
LISTS = ("prefer", "support", "preinstall")


def read_prjconf(path: Path, arch: str, repository: str | None) -> Prjconf:
    predefined = {"_target_cpu": arch}
    if repository is not None:
        predefined["_repository"] = repository
    return parse_prjconf(path.read_text(encoding="utf-8"), path, predefined=predefined)


#: OBS adds this Substitute itself when a config has none (a default per binary type).
OBS_DEFAULT_SUBSTITUTE = "system-packages:repo-creation"


def prjconf_fields(path: Path, arch: str, repository: str | None) -> dict[str, Any]:
    conf = read_prjconf(path, arch, repository)
    words = list(conf.release_words) or [DEFAULT_RELEASE]
    fields: dict[str, Any] = {
        "rawmacros": conf.macros_text,
        "buildflags": list(conf.all_build_flags),
        "docker_args": dict(conf.docker_args),
        "release": words[0],
        "release_words": words,
        "type": conf.type,
        "substitute": {k: list(v) for k, v in conf.substitute.items()},
    }
    fields.update({name: list(conf.lists.get(name, ())) for name in LISTS})
    return fields


def dockerfile_fields(
    path: Path, config: Path | None, arch: str, repository: str | None, release: str | None
) -> dict[str, Any]:
    args = dict(read_prjconf(config, arch, repository).docker_args) if config else {}
    df = load_dockerfile(path)
    base = df.base_image(args)
    return {
        "tags": [expand_build_tag(t, df.build_version, release) for t in df.tags()],
        "name": df.build_name,
        "version": df.build_version,
        "release": df.build_release,
        "exclusive_arch": list(df.exclusive_arch) or None,
        "exclude_arch": list(df.exclude_arch) or None,
        "use_obs_repositories": df.use_obs_repositories,
        "no_squash": df.no_squash,
        "base": _with_latest(base) if base else None,
    }


def _with_latest(image: str) -> str:
    """An image name as OBS records it: ``:latest`` when it names no tag."""
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in last else image + ":latest"


def spec_fields(spec: Path, defines: list[tuple[str, str]]) -> dict[str, Any]:
    """Name, version, packages, BuildRequires and ExclusiveArch as rpmspec reads the spec."""
    argv = ["rpmspec", "-q"]
    for name, value in defines:
        argv += ["--define", f"{name} {value}"]

    def query(*extra: str) -> list[str]:
        result = subprocess.run(
            [*argv, *extra, str(spec)], capture_output=True, text=True, check=True, timeout=120
        )
        return result.stdout.splitlines()

    name, version, arches = query("--srpm", "--qf", "%{name}\\n%{version}\\n[%{exclusivearch} ]\\n")
    return {
        "name": name,
        "version": version,
        "subpackages": query("--qf", "%{name}\\n"),
        "build_requires": sorted(query("--buildrequires")),
        "exclusive_arch": arches.split() or None,
    }
