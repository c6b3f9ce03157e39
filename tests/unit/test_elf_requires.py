"""``stages/elf_requires``: which Requires are shared libraries, which of them nothing provides,
and the one line naming the Debian package that would (run for real on built RPMs in
``tests/integration/test_base_elf_provides.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.stages import elf_requires


@pytest.mark.parametrize(
    "requirement",
    [
        "libvirt.so.0()(64bit)",
        "libvirt.so.0(LIBVIRT_10.2.0)(64bit)",
        "libc.so.6(GLIBC_2.38)(64bit)",
        "ld-linux-x86-64.so.2()(64bit)",
        "ld-linux-x86-64.so.2(GLIBC_2.3)(64bit)",
        "libnbd.so.0",
        "libnbd.so.0(LIBNBD_1.18)",
        "rtld(GNU_HASH)",
    ],
)
def test_the_forms_elfdeps_writes_are_shared_library_requirements(requirement: str) -> None:
    assert elf_requires.is_elf_requirement(requirement)


@pytest.mark.parametrize(
    "requirement",
    ["/bin/sh", "glibc >= 2.38", "kubevirt-container-disk = 1.9.0-1.1", "rpmlib(PayloadIsZstd)"],
)
def test_other_requirements_are_not(requirement: str) -> None:
    assert not elf_requires.is_elf_requirement(requirement)


def test_unmet_lists_only_shared_libraries_nothing_provides() -> None:
    requires = {
        "b.rpm": ["libnbd.so.0()(64bit)", "/bin/sh", "libc.so.6(GLIBC_2.38)(64bit)"],
        "a.rpm": ["libvirt.so.0(LIBVIRT_10.2.0)(64bit)", "libvirt.so.0(LIBVIRT_10.2.0)(64bit)"],
    }
    provided = {"libc.so.6(GLIBC_2.38)(64bit)"}
    assert elf_requires.unmet(requires, provided) == [
        elf_requires.Unmet("a.rpm", "libvirt.so.0(LIBVIRT_10.2.0)(64bit)"),
        elf_requires.Unmet("b.rpm", "libnbd.so.0()(64bit)"),
    ]
    assert elf_requires.unmet(requires, provided)[0].soname == "libvirt.so.0"


def _dpkg_tree(root: Path, package: str, files: list[str]) -> Path:
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / f"{package}.list").write_text("".join(f"{f}\n" for f in files))
    return root


def test_the_debian_package_holding_a_soname_is_found_in_a_tree(tmp_path: Path) -> None:
    tree = _dpkg_tree(
        tmp_path / "root",
        "libnbd0:amd64",
        ["/usr/lib/x86_64-linux-gnu/libnbd.so.0.22.2", "/usr/lib/x86_64-linux-gnu/libnbd.so.0"],
    )
    assert elf_requires.debian_package_with([tree], "libnbd.so.0") == "libnbd0"
    assert elf_requires.debian_package_with([tree], "libvirt.so.0") is None


def test_an_unmet_library_is_one_line_naming_the_rpm_and_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _dpkg_tree(tmp_path / "root", "libnbd0", ["/usr/lib/x86_64-linux-gnu/libnbd.so.0"])
    fields = {
        "REQUIRE": {
            "cdi-importer.rpm": ["libnbd.so.0()(64bit)", "libnbd.so.0(LIBNBD_1.18)(64bit)"]
        },
        "PROVIDE": {"cdi-importer.rpm": ["containerized-data-importer-importer = 1.66.0"]},
    }
    monkeypatch.setattr(elf_requires, "rpm_fields", lambda rpms, field: fields[field])
    packages = tmp_path / "packages.txt"
    with pytest.raises(InputError) as caught:
        elf_requires.check([tmp_path / "x.rpm"], set(), packages, [tree])
    line = caught.value.one_line()
    assert "\n" not in line
    assert line.startswith(f"{packages}: cdi-importer.rpm requires libnbd.so.0()(64bit)")
    assert "(and 1 more)" in line
    assert f"add the Debian package libnbd0 (it has libnbd.so.0) to {packages}" in line
    # Provided by the base: no error.
    elf_requires.check([tmp_path / "x.rpm"], set(fields["REQUIRE"]["cdi-importer.rpm"]), packages)


def test_a_library_there_in_an_older_version_says_the_base_is_of_an_older_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {
        "REQUIRE": {"virt-api.rpm": ["libc.so.6(GLIBC_2.38)(64bit)", "libc.so.6()(64bit)"]},
        "PROVIDE": {"virt-api.rpm": []},
    }
    monkeypatch.setattr(elf_requires, "rpm_fields", lambda rpms, field: fields[field])
    tree = _dpkg_tree(tmp_path / "root", "libc6:amd64", ["/usr/lib/x86_64-linux-gnu/libc.so.6"])
    bookworm = {"libc.so.6()(64bit)", "libc.so.6(GLIBC_2.36)(64bit)"}
    with pytest.raises(InputError) as caught:
        elf_requires.check([tmp_path / "x.rpm"], bookworm, tmp_path / "packages.txt", [tree])
    line = caught.value.one_line()
    assert "virt-api.rpm requires libc.so.6(GLIBC_2.38)(64bit)" in line
    assert "its Debian package libc6 is older than the one the RPMs were linked against" in line
