"""Build roots' pure logic (``stages/build_roots.py``): the spec's BuildRequires as rpmspec
prints them, the capability -> Debian package map, the package set of a root and the version
checks. Making a root and building in it is tested for real in
``tests/integration/test_build_roots.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config.project import Target
from pipeline.core.errors import InputError, RpmsError
from pipeline.core.plan import host_arch
from pipeline.stages import build_roots
from pipeline.stages.build_roots import Requirement
from tests.support.paths import ROOT
from tests.support.targets import rooted_target

#: What rpmspec --buildrequires prints for kubevirt.spec at 1.9.0.
KUBEVIRT_REQUIRES = """\
gcc
glibc-devel-static
pkgconfig
sed
pkgconfig(libvirt)
libnbd-devel >= 1.18
golang(API) >= 1.26
"""


def target(tmp_path: Path, map_text: str | None = None, suite: str = "trixie") -> Target:
    """``local`` with the repository's map, or one of ``map_text``."""
    packages = ROOT / "base/build-root/debian.txt"
    if map_text is not None:
        packages = tmp_path / "map.txt"
        packages.write_text(map_text)
    return rooted_target("local", packages, suite)


def test_requirements_are_read_as_rpmspec_prints_them() -> None:
    found = build_roots.parse_requirements(KUBEVIRT_REQUIRES, Path("kubevirt.spec"))
    assert found[4] == Requirement("pkgconfig(libvirt)")
    assert found[5] == Requirement("libnbd-devel", ">=", "1.18")
    assert str(found[5]) == "libnbd-devel >= 1.18"
    with pytest.raises(RpmsError) as caught:
        build_roots.parse_requirements("(gcc or clang)\n", Path("x.spec"))
    assert "rich dependencies" in caught.value.one_line()


def test_a_version_condition_compares_as_rpm_does() -> None:
    wanted = Requirement("libnbd-devel", ">=", "1.18")
    assert wanted.met_by("1.22.2") and not wanted.met_by("1.14.2")
    assert not wanted.met_by("1.9")  # 1.9 < 1.18 for rpm, not for a string comparison
    assert Requirement("x", "<", "2").met_by("1.99") and Requirement("x").met_by("0")
    assert Requirement("x", "=", "1.0").met_by("1.0") and not Requirement("x", ">", "1").met_by("1")


def test_the_repository_map_gives_kubevirts_root_with_the_projects_go(tmp_path: Path) -> None:
    found = build_roots.parse_requirements(KUBEVIRT_REQUIRES, Path("kubevirt.spec"))
    plan = build_roots.plan_root(Path("kubevirt.spec"), found, target(tmp_path), [host_arch()])
    assert plan.packages == (
        *build_roots.ROOT_PACKAGES,
        "gcc",
        "libc6-dev",
        "pkgconf",
        "sed",
        "libvirt-dev",
        "libnbd-dev",
    )
    assert plan.checks == ((Requirement("libnbd-devel", ">=", "1.18"), "libnbd-dev"),)
    assert plan.go == (1, 26)


def test_another_architecture_adds_its_cross_toolchain(tmp_path: Path) -> None:
    other = "aarch64" if host_arch() == "x86_64" else "x86_64"
    plan = build_roots.plan_root(Path("x.spec"), [], target(tmp_path), [host_arch(), other])
    cross = [p for p in plan.packages if p not in build_roots.ROOT_PACKAGES]
    assert len(cross) == 3 and cross[0].startswith("gcc-") and cross[2].endswith("-cross")


def test_an_unmapped_requirement_is_one_line_naming_spec_target_and_the_fix(
    tmp_path: Path,
) -> None:
    found = [Requirement("pkgconfig(libguestfs)")]
    with pytest.raises(RpmsError) as caught:
        build_roots.plan_root(Path("kubevirt.spec"), found, target(tmp_path, "gcc gcc\n"), [])
    line = caught.value.one_line()
    assert "kubevirt.spec: BuildRequires pkgconfig(libguestfs) (target local)" in line
    assert "add a line `pkgconfig(libguestfs) <Debian package>`" in line
    assert "\n" not in line


def test_an_unmet_version_names_what_the_suite_has_and_what_would_meet_it(
    tmp_path: Path,
) -> None:
    local = target(tmp_path, suite="bookworm")
    found = [Requirement("libnbd-devel", ">=", "1.18")]
    plan = build_roots.plan_root(Path("kubevirt.spec"), found, local, [])
    assert local.build_root is not None
    with pytest.raises(RpmsError) as caught:
        build_roots.check_versions(
            Path("kubevirt.spec"), plan, "local", local.build_root, {"libnbd-dev": "1.14.2"}
        )
    line = caught.value.one_line()
    assert "BuildRequires libnbd-devel >= 1.18 (target local) is not met: " in line
    assert "Debian bookworm has libnbd-dev 1.14.2" in line
    assert "whose libnbd-dev is >= 1.18 would meet it" in line
    build_roots.check_versions(
        Path("kubevirt.spec"), plan, "local", local.build_root, {"libnbd-dev": "1.22.2"}
    )


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("gcc\n", 1, "expected `<rpm capability> <Debian package>`"),
        ("# comment\ngcc gcc\ngcc gcc-14\n", 3, "mapped twice (first on line 2)"),
        ("sed Sed_Package\n", 1, "is not a Debian package name"),
    ],
)
def test_a_malformed_map_line_is_named_by_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = tmp_path / "map.txt"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        build_roots.read_map(path)
    assert caught.value.one_line().startswith(f"{path}:{line}: ")
    assert words in caught.value.one_line()
