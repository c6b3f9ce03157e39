"""The release's shared-library requirements, checked against a locally built base before any
image is built on it.

rpmbuild's dependency generator (elfdeps) writes into each binary RPM's ``Requires`` the sonames
and symbol versions its ELF files link: ``libvirt.so.0(LIBVIRT_10.2.0)(64bit)``. A local base
declares what its Debian tree has the same way (``elf`` lines of its provides.txt, so no library
is named there by hand). A requirement neither the base nor another RPM of the release provides
would fail in zypper, inside an image build, as "Choose from above solutions"; here it is one
line naming the RPM, the requirement, and the Debian package that would meet it.

The base's provides are not generated from the RPMs: the base is an input of the release (its
hash is part of every product's inputs), so a base made from the release's RPMs would change
the release it is made from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError
from pipeline.tools.run import run

#: The forms elfdeps writes: ``libfoo.so.1()(64bit)``, ``libfoo.so.1(VERSION)(64bit)``, the
#: 32-bit ``libfoo.so.1`` and ``libfoo.so.1(VERSION)``, and the loader's ``rtld(GNU_HASH)``.
ELF_REQUIREMENT = re.compile(
    r"[^\s()/]+\.so(?:\.[^\s()]*)?(?:\([^()]*\))?(?:\(64bit\))?|rtld\(.+\)"
)
#: What provides the local base's capabilities (``stages/local_base.py``): what its tree has,
#: and the names it only claims.
BASE_PACKAGE, STUBS_PACKAGE = "pipeline-local-base", "pipeline-local-base-stubs"


@dataclass(frozen=True)
class Unmet:
    """An ELF requirement of one RPM that nothing provides."""

    rpm: str
    requirement: str

    @property
    def soname(self) -> str:
        """``libvirt.so.0(LIBVIRT_10.2.0)(64bit)`` -> ``libvirt.so.0``."""
        return self.requirement.split("(", 1)[0]


def is_elf_requirement(requirement: str) -> bool:
    return ELF_REQUIREMENT.fullmatch(requirement) is not None


def unmet(requires: Mapping[str, Iterable[str]], provided: set[str]) -> list[Unmet]:
    """Each ELF requirement in ``requires`` (RPM file name -> its Requires) that is not in
    ``provided``, in RPM and then requirement order."""
    return [
        Unmet(rpm, requirement)
        for rpm in sorted(requires)
        for requirement in sorted(set(requires[rpm]))
        if is_elf_requirement(requirement) and requirement not in provided
    ]


def rpm_fields(rpms: list[Path], field: str) -> dict[str, list[str]]:
    """``--requires`` or ``--provides`` of each RPM file, by file name (one rpm call)."""
    if not rpms:
        return {}
    out = run(
        ["rpm", "-qp", "--nosignature", "--qf", f"[%{{=NAME}}\\t%{{{field}NEVRS}}\\n]"]
        + [str(p) for p in rpms]
    ).stdout
    by_name: dict[str, list[str]] = {}
    for line in out.splitlines():
        name, _, value = line.partition("\t")
        by_name.setdefault(name, []).append(value.strip())
    files = {_package_name(p): p.name for p in rpms}
    return {files.get(name, name): values for name, values in by_name.items()}


def _package_name(path: Path) -> str:
    """``kubevirt-virt-launcher-1.9.0-1.1.x86_64.rpm`` -> ``kubevirt-virt-launcher``."""
    return path.name.rsplit("-", 2)[0]


def base_provides(image: str) -> tuple[set[str], frozenset[str]]:
    """(what the base image's tree has, its stubs): the Provides of its two RPMs."""
    from pipeline.tools import buildah

    argv = ["rpm", "-q", "--qf", "[%{=NAME}\\t%{PROVIDENEVRS}\\n]", BASE_PACKAGE, STUBS_PACKAGE]
    answer = buildah.run_in(image, argv, prints=True)
    by_package: dict[str, set[str]] = {BASE_PACKAGE: set(), STUBS_PACKAGE: set()}
    for line in answer.stdout.splitlines():
        name, _, value = line.partition("\t")
        if name in by_package and value.strip():
            by_package[name].add(value.strip())
    return by_package[BASE_PACKAGE], frozenset(by_package[STUBS_PACKAGE])


def debian_package_with(trees: Iterable[Path], soname: str) -> str | None:
    """The Debian package of one of ``trees`` (each with a dpkg database, e.g. the build roots
    the RPMs were linked in) that holds a file named ``soname``, or None."""
    for tree in trees:
        for listing in sorted((tree / "var/lib/dpkg/info").glob("*.list")):
            for line in listing.read_text(errors="replace").splitlines():
                if line.endswith(f"/{soname}"):
                    return listing.name.removesuffix(".list").split(":", 1)[0]
    return None


def check(
    rpms: list[Path],
    base_has: set[str],
    packages_file: Path,
    trees: Iterable[Path] = (),
    stubs: frozenset[str] = frozenset(),
) -> None:
    """Raise one line for the first ELF requirement of ``rpms`` that neither the base
    (``base_has``, what its tree really has, and ``stubs``, the names it only claims) nor
    another of the RPMs provides. ``trees``, where the RPMs were built, say which Debian
    package has the library."""
    provided = base_has | stubs
    for values in rpm_fields(rpms, "PROVIDE").values():
        provided.update(values)
    missing = unmet(rpm_fields(rpms, "REQUIRE"), provided)
    if not missing:
        return
    first = missing[0]
    package = debian_package_with(trees, first.soname)
    if any(p.split("(", 1)[0] == first.soname for p in base_has):
        # The library is there, only older: its package is of an older suite than the roots'.
        fix = (
            f"the base has {first.soname} without that symbol version: its Debian package "
            f"{package + ' ' if package else ''}is older than the one the RPMs were linked "
            "against; build the base of the build root's suite (local_base: {dir, suite} in "
            "pipeline.yaml)"
        )
    elif package:
        fix = f"add the Debian package {package} (it has {first.soname}) to {packages_file}"
    else:
        fix = f"add the Debian package that has {first.soname} to {packages_file}"
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    raise InputError(
        packages_file,
        f"{first.rpm} requires {first.requirement}, which the base image does not provide{more}",
        hint=fix,
    )
