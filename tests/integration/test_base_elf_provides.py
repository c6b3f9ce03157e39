"""The local base's ELF provides, generated from its tree (every shared library, by rpm's own
elfdeps), against the Requires rpmbuild's generator wrote into real RPMs: a binary linking
only what the tree has passes; a library the tree lacks is one line, before any image."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.stages import elf_requires
from pipeline.stages import local_base as base_image
from pipeline.tools import rpm
from tests.support.paths import ROOT
from tests.support.tools import need_tool

pytestmark = [pytest.mark.tools, pytest.mark.slow]

#: Two packages: one ships the host's /bin/true (the generator writes its libc requirements),
#: one needs libnbd 1.18, which the `local` base (bookworm) does not have.
SPEC = """\
Name:           elf-probe
Version:        1
Release:        1
Summary:        A binary and its shared libraries
License:        Apache-2.0
%global debug_package %{nil}

%description
Probe.

%package        nbd
Summary:        Needs libnbd
Requires:       libnbd.so.0(LIBNBD_1.18)(64bit)

%description    nbd
Probe.

%install
mkdir -p %{buildroot}/usr/libexec/elf-probe
cp /bin/true %{buildroot}/usr/libexec/elf-probe/true

%files
/usr/libexec/elf-probe

%files          nbd
"""


def test_the_base_provides_what_a_real_binary_links_and_names_what_it_lacks(
    tmp_path: Path,
) -> None:
    for tool in ("debootstrap", "buildah", "rpmbuild", "/usr/lib/rpm/elfdeps"):
        need_tool(tool)
    base = base_image.ensure_local_base(ROOT / "build")
    provided, stubs = elf_requires.base_provides(base.image_id)
    # Generated from the tree, not listed by hand: the C library and the loader are there.
    assert {p for p in provided if p.startswith("libc.so.6(GLIBC_2.")}
    assert any(p.startswith("ld-linux") for p in provided)

    spec = tmp_path / "elf-probe.spec"
    spec.write_text(SPEC)
    topdir = tmp_path / "rpmbuild"
    topdir.mkdir()
    rpm.rpmbuild(spec, topdir, tmp_path, [], {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    built = sorted((tmp_path / "rpmbuild/RPMS").rglob("*.rpm"))
    binary = [p for p in built if p.name.startswith("elf-probe-1-")]
    requires = elf_requires.rpm_fields(binary, "REQUIRE")[binary[0].name]
    assert any(r.startswith("libc.so.6(") for r in requires)  # written by rpm's generator
    packages = tmp_path / "packages.txt"

    elf_requires.check(binary, provided, packages, stubs=stubs)  # /bin/true: only the C library

    with pytest.raises(InputError) as caught:
        elf_requires.check(built, provided, packages, stubs=stubs)
    line = caught.value.one_line()
    assert "\n" not in line
    assert "elf-probe-nbd-1-1" in line
    assert "requires libnbd.so.0(LIBNBD_1.18)(64bit), which the base image does not provide" in line
    # libnbd.so.0()(64bit) is only a stub name of this base: the package to add, not "older"
    assert f"add the Debian package that has libnbd.so.0 to {packages}" in line
