"""setup-host: check the host tools, print each with its version, install the missing ones.

Installs with apt on Debian/Ubuntu and zypper on openSUSE when run as root; otherwise says exactly
what to install. A second run with everything present only runs each tool's version command.

For every platform the project's targets declare that is not the host's, it also installs the
qemu-user emulator and the C cross compiler of that architecture and registers the emulator with
the kernel (``tools.binfmt``). Where the kernel refuses, it says so in one line and fails: building
only the host's platform is then an explicit choice (``--platforms host``), never a fallback.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import PipelineError, SetupError, ToolError
from pipeline.core.plan import host_arch, oci_arch, rpm_arch
from pipeline.tools import binfmt
from pipeline.tools.golang import ensure_go, version_of
from pipeline.tools.run import run


@dataclass(frozen=True)
class HostTool:
    name: str
    command: str
    version_argv: tuple[str, ...]
    apt: str
    zypper: str
    why: str


TOOLS = (
    HostTool("rpmbuild", "rpmbuild", ("--version",), "rpm", "rpm-build", "builds the RPMs"),
    HostTool("rpm2cpio", "rpm2cpio", (), "rpm2cpio", "rpm", "unpacks the meta RPM"),
    HostTool("cpio", "cpio", ("--version",), "cpio", "cpio", "unpacks the meta RPM"),
    HostTool(
        "createrepo_c",
        "createrepo_c",
        ("--version",),
        "createrepo-c",
        "createrepo_c",
        "makes the RPM repo",
    ),
    HostTool("zypper", "zypper", ("--version",), "zypper", "zypper", "installs RPMs in images"),
    HostTool("buildah", "buildah", ("--version",), "buildah", "buildah", "builds the images"),
    HostTool("skopeo", "skopeo", ("--version",), "skopeo", "skopeo", "copies images"),
    HostTool(
        "docker-registry",
        "docker-registry",
        ("--version",),
        "docker-registry",
        "distribution-registry",
        "the local registry",
    ),
    HostTool(
        "debootstrap",
        "debootstrap",
        ("--version",),
        "debootstrap",
        "debootstrap",
        "builds the local base image",
    ),
    HostTool("rpmlint", "rpmlint", ("--version",), "rpmlint", "rpmlint", "checks the RPMs"),
    # Test-time reference only: the OBS differential suite runs obs-build's own Perl parsers.
    # Debian names the package obs-build (in /usr/lib/obs-build), openSUSE names it build.
    HostTool(
        "obs-build",
        "/usr/lib/obs-build/Build.pm|/usr/lib/build/Build.pm",
        (),
        "obs-build",
        "build",
        "reference parsers for the OBS differential tests",
    ),
)


#: Debian's names of the cross toolchains: package gcc-<these>, binaries <arch>-linux-gnu-gcc.
DEBIAN_CROSS = {"x86_64": "x86-64-linux-gnu", "aarch64": "aarch64-linux-gnu"}


def debian_cross_packages(arch: str) -> tuple[str, str, str]:
    """Debian's C cross toolchain of ``arch`` (rpm name): its gcc, binutils and static libc
    packages."""
    triplet = DEBIAN_CROSS.get(arch, f"{arch}-linux-gnu")
    return f"gcc-{triplet}", f"binutils-{triplet}", f"libc6-dev-{oci_arch(arch)}-cross"


def foreign_tools(arch: str) -> tuple[HostTool, ...]:
    """What building for ``arch`` (rpm name) on a host of another architecture needs: its
    qemu-user emulator, registered with binfmt, and its C cross compiler with a static libc
    (the spec files cross-compile their C parts; Go needs nothing)."""
    gcc, _, libc = debian_cross_packages(arch)  # gcc's package brings the binutils
    qemu = binfmt.qemu_name(arch)
    return (
        HostTool(
            f"qemu-{qemu}",
            f"/usr/bin/qemu-{qemu}-static|/usr/bin/qemu-{qemu}",
            (),
            "qemu-user-static",
            "qemu-linux-user",
            f"runs {arch} programs in image builds",
        ),
        HostTool(
            "binfmt",
            "/usr/sbin/update-binfmts|/usr/lib/systemd/systemd-binfmt",
            (),
            "binfmt-support",
            "systemd",
            "registers the emulators with the kernel",
        ),
        HostTool(
            f"{arch}-gcc",
            f"/usr/bin/{arch}-linux-gnu-gcc|/usr/bin/{arch}-suse-linux-gcc",
            (),
            gcc,
            f"cross-{arch}-gcc14",
            f"cross-compiles the C parts of the {arch} RPMs",
        ),
        HostTool(
            f"{arch}-libc",
            f"/usr/{arch}-linux-gnu/lib/libc.a|/usr/{arch}-suse-linux/sys-root/usr/lib64/libc.a",
            (),
            libc,
            f"cross-{arch}-glibc-devel",
            f"links the static {arch} C programs",
        ),
    )


def foreign_arches(platforms: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(a for a in dict.fromkeys(map(rpm_arch, platforms)) if a != host_arch())


def ensure_foreign(platforms: tuple[str, ...], install: bool = True) -> list[HostTool]:
    """Every platform of ``platforms`` that is not the host's can be built here: its tools
    installed (when allowed) and its emulator registered. Refuses in one line otherwise."""
    arches = foreign_arches(platforms)
    tools = [tool for arch in arches for tool in foreign_tools(arch)]
    ensure_tools(install, extra=tuple(tools))
    for arch in arches:
        reason = binfmt.register(arch) if install and os.geteuid() == 0 else binfmt.problem(arch)
        if reason is not None:
            raise SetupError(
                f"linux/{oci_arch(arch)} cannot be built on this {host_arch()} host: {reason}",
                hint="the kernel must run qemu-user's binfmt handlers (root, binfmt_misc "
                "mounted); or build this host's platform only, explicitly: --platforms host",
            )
    return tools


def _present(tool: HostTool) -> bool:
    """On PATH, or (files a package installs, absolute paths joined by |) one on disk."""
    return bool(_path(tool))


def _path(tool: HostTool) -> str:
    if tool.command.startswith("/"):
        return next((p for p in tool.command.split("|") if Path(p).exists()), "")
    return shutil.which(tool.command) or ""


def _os_family() -> str:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return "unknown"
    ids = " ".join(re.findall(r"^(?:ID|ID_LIKE)=\"?([^\"\n]*)", text, re.MULTILINE))
    if "suse" in ids:
        return "suse"
    if "debian" in ids or "ubuntu" in ids:
        return "debian"
    return "unknown"


def _version(tool: HostTool) -> str:
    if not tool.version_argv:
        return "present (no version option)"
    try:
        result = run([tool.command, *tool.version_argv], check=False, timeout=30)
    except ToolError:
        return "?"
    first = (result.stdout or result.stderr).strip().splitlines()
    return first[0].strip() if first else "?"


def _install(packages: list[str], family: str) -> None:
    if family == "debian":
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], env=env, timeout=600)
        run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            env=env,
            timeout=1800,
        )
    elif family == "suse":
        run(["zypper", "-n", "install", "--no-recommends", *packages], timeout=1800)
    else:
        raise SetupError(
            f"cannot install {', '.join(packages)} on this system",
            hint="only Debian/Ubuntu (apt) and openSUSE (zypper) are supported",
        )


def ensure_tools(
    install: bool = True,
    names: tuple[str, ...] | None = None,
    extra: tuple[HostTool, ...] = (),
) -> None:
    """Every host tool (or those ``names``), and ``extra``, on PATH; the missing ones installed
    first when allowed and possible."""
    family = _os_family()
    wanted = [tool for tool in TOOLS if names is None or tool.name in names] + list(extra)
    missing = [tool for tool in wanted if not _present(tool)]
    if not missing:
        return
    packages = sorted({tool.apt if family != "suse" else tool.zypper for tool in missing})
    if not install or os.geteuid() != 0:
        manager = "zypper -n install" if family == "suse" else "apt-get install -y"
        raise SetupError(
            "missing host tools: " + ", ".join(tool.name for tool in missing),
            hint=f"run as root: {manager} {' '.join(packages)}",
        )
    console().print(f"installing {' '.join(packages)} ...")
    _install(packages, family)
    still = [tool.name for tool in wanted if not _present(tool)]
    if still:
        raise SetupError(
            f"{', '.join(still)} still missing after the install",
            hint="install the packages that provide them",
        )


def check(install: bool = True, platforms: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """One row per tool with its path and version (those of ``platforms``' foreign
    architectures too); the missing ones installed first."""
    ensure_tools(install)
    foreign = ensure_foreign(platforms, install)
    return [
        {
            "tool": t.name,
            "path": _path(t),
            "version": _version(t),
            "why": t.why,
        }
        for t in (*TOOLS, *foreign)
    ]


def declared_platforms(ctx: Context) -> tuple[str, ...]:
    """The platforms to prepare the host for: every target's in pipeline.yaml (``--platforms
    host``: none but the host's), or none when there is no project to read yet."""
    if ctx.options.platforms is not None:
        return ctx.platforms
    try:
        targets = ctx.project.targets.values()
    except PipelineError:
        return ()
    return tuple(dict.fromkeys(p for target in targets for p in target.platforms))


def go_row() -> dict[str, str]:
    """Go is not taken from the distribution (too old for KubeVirt 1.9): see tools/golang.py."""
    go = ensure_go()
    version = ".".join(map(str, version_of(go) or ()))
    return {"tool": "go", "path": str(go), "version": f"go{version}", "why": "compiles the Go code"}


def main(ctx: Context) -> int:
    options = ctx.options
    rows = [*check(platforms=declared_platforms(ctx)), go_row()]
    table = Table(title="host tools", title_justify="left")
    for column in ("tool", "version", "path"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["tool"], row["version"], row["path"])
    if options.verbose or options.debug:
        console().print(table)
    else:
        console().print(f"host tools: all {len(rows)} present")
    emit(options, {"tools": rows})
    return 0
