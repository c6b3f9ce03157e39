"""The `local` base image's inputs: the provides and package lists, the version mapping, the
inputs hash, and that every Dockerfile's distribution packages are provided."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pipeline.config.project import LocalBase
from pipeline.core.errors import InputError
from pipeline.obs.dockerfile import load_dockerfile
from pipeline.stages import debian_tree
from pipeline.stages import local_base as base_image
from tests.support.paths import ROOT

DOCKERFILES = ROOT / "dockerfiles"
#: Packages of debootstrap's minbase variant the Dockerfiles install under openSUSE names.
MINBASE = {"coreutils", "passwd", "tar", "util-linux"}
#: An existing, empty directory of every base (Debian and openSUSE alike): mounting the repo
#: there leaves no mount point behind in the image layer.
REPO_MOUNT = "/mnt"
REPO_FILE = """\
[pipeline]
name=pipeline build repository
baseurl=file://{mount}
enabled=1
autorefresh=1
gpgcheck=0
repo_gpgcheck=0
pkg_gpgcheck=0
"""


# --- inputs: pure logic --------------------------------------------------------------------


def test_provides_file_parses_into_kinds() -> None:
    provides = base_image.read_provides(base_image.INPUTS_DIR / "provides.txt")
    kinds = {p.kind for p in provides}
    assert kinds == {"provides", "elf", "stub"}
    caps = {p.capability for p in provides}
    assert {"/bin/sh", "/bin/bash", "bash", "glibc", "coreutils", "filesystem", "shadow"} <= caps
    assert {"libvirt-client", "libvirt-daemon-driver-qemu", "qemu-x86", "qemu-img"} <= caps


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("provide bash", "unknown kind 'provide'"),
        ("stub libvirt-client = 9", "stub lines take no version"),
        ("provides", "expected one capability"),
        ("elf /lib/a.so /lib/b.so", "expected one capability"),
    ],
)
def test_bad_provides_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "provides.txt"
    path.write_text(f"# comment\n\nprovides /bin/sh\n{line}\n")
    with pytest.raises(InputError) as info:
        base_image.read_provides(path)
    assert info.value.one_line().startswith(f"{path}:4: {message}")


def test_bad_package_line(tmp_path: Path) -> None:
    path = tmp_path / "packages.txt"
    path.write_text("zypper\nrpm,curl\n")
    with pytest.raises(InputError) as info:
        base_image.read_packages(path)
    assert info.value.one_line().startswith(f"{path}:2: expected one Debian package name")


@pytest.mark.parametrize(
    ("debian", "rpm"),
    [
        ("5.2.15-2+b7", "5.2.15"),
        ("1:9.1-3", "9.1"),
        ("12.4+deb12u15", "12.4+deb12u15"),
        ("2:1.2-3-4", "1.2_3"),
    ],
)
def test_rpm_version_keeps_the_upstream_part(debian: str, rpm: str) -> None:
    assert debian_tree.rpm_version(debian) == rpm


def test_inputs_hash_follows_every_input(tmp_path: Path) -> None:
    for name in ("packages.txt", "provides.txt", "Containerfile"):
        (tmp_path / name).write_text((base_image.INPUTS_DIR / name).read_text())
    before = base_image.inputs_hash(LocalBase(tmp_path))
    assert base_image.inputs_hash(LocalBase(tmp_path)) == before
    with (tmp_path / "provides.txt").open("a") as extra:
        extra.write("stub qemu-s390x\n")
    assert base_image.inputs_hash(LocalBase(tmp_path)) != before
    trixie = LocalBase(tmp_path, suite="trixie")
    assert base_image.inputs_hash(trixie) != base_image.inputs_hash(LocalBase(tmp_path))


def _zypper_packages(dockerfile: Path) -> list[str]:
    """Package names of every ``zypper ... install`` in the RUN steps (shell variables skipped)."""
    names = []
    for instruction in load_dockerfile(dockerfile).instructions:
        if instruction.keyword != "RUN":
            continue
        for command in re.split(r"&&|;|\|\|", instruction.arguments):
            words = shlex.split(command.replace("\\\n", " "))
            if "zypper" in words and "install" in words:
                args = words[words.index("install") + 1 :]
                names += [w for w in args if not w.startswith("-") and "$" not in w]
    return names


def test_every_distribution_package_of_the_dockerfiles_is_provided() -> None:
    """The `local` base must resolve every Dockerfile's zypper line; the product's own RPMs
    come from the build's repository."""
    provided = {
        p.capability for p in base_image.read_provides(base_image.INPUTS_DIR / "provides.txt")
    }
    dockerfiles = sorted(DOCKERFILES.glob("*/*/Dockerfile"))
    assert len(dockerfiles) == 17
    missing = {}
    for dockerfile in dockerfiles:
        packages = _zypper_packages(dockerfile)
        assert packages, f"{dockerfile}: no zypper install found"
        own = [p for p in packages if p.startswith(("kubevirt-", "containerized-data-importer-"))]
        assert own, f"{dockerfile}: installs none of the product's RPMs"
        if others := sorted(set(packages) - set(own) - provided):
            missing[dockerfile.parent.name] = others
    assert missing == {}
    # virt-launcher picks its emulator by architecture in shell: both must be there
    assert {"qemu-x86", "qemu-arm"} <= provided


def test_the_upstream_base_has_every_package_of_the_dockerfiles_for_real() -> None:
    """local-upstream's base (amd64 only) holds each distribution package the Dockerfiles
    install as a Debian package of its tree: no stub, no name without a package behind it."""
    inputs = ROOT / "base/local-upstream"
    provides = base_image.read_provides(inputs / "provides.txt")
    assert [p for p in provides if p.kind == "stub"] == []
    real = {p.capability: p.version.removeprefix("deb:") for p in provides if p.kind == "provides"}
    packages = set(base_image.read_packages(inputs / "packages.txt"))
    wanted = set()
    for dockerfile in sorted(DOCKERFILES.glob("*/*/Dockerfile")):
        own = ("kubevirt-", "containerized-data-importer-")
        wanted |= {p for p in _zypper_packages(dockerfile) if not p.startswith(own)}
    wanted -= {"qemu-arm"}  # the arm64 emulator: this target builds amd64 only
    assert sorted(wanted - set(real)) == []
    # The rest is of Debian's minbase, which debootstrap always installs.
    assert {real[name] for name in wanted if real[name] not in packages} <= MINBASE
