"""Thin wrappers over rpmbuild, rpm, rpm2cpio/cpio and createrepo_c, through the one runner."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import ToolError
from pipeline.tools import chroot
from pipeline.tools.run import run

#: Reproducible RPMs (rpm >= 4.14): SOURCE_DATE_EPOCH from %changelog, mtimes clamped to it,
#: build time = it, and a fixed build host so two builds of the same inputs are byte-comparable.
REPRODUCIBLE_DEFINES = (
    ("source_date_epoch_from_changelog", "1"),
    ("clamp_mtime_to_source_date_epoch", "1"),
    ("use_source_date_epoch_as_buildtime", "1"),
    ("_buildhost", "reproducible"),
)
QUERY_FORMAT = "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n"


@dataclass(frozen=True)
class RpmInfo:
    path: Path
    name: str
    epoch: int
    version: str
    release: str
    arch: str
    sha256: str
    files: tuple[str, ...]

    @property
    def nevra(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"


def _define_args(defines: Iterable[tuple[str, str]]) -> list[str]:
    return [arg for name, value in defines for arg in ("--define", f"{name} {value}")]


def rpmbuild(
    spec: Path,
    topdir: Path,
    sourcedir: Path,
    defines: Sequence[tuple[str, str]],
    env: Mapping[str, str],
    target: str | None = None,
    root: Path | None = None,
    binds: Sequence[tuple[Path, str]] = (),
) -> None:
    """``rpmbuild -ba`` (``--target`` an rpm arch); a failure is a ``ToolError`` whose message
    is rpmbuild's own reason. With ``root``, it runs chrooted there, with ``env`` and nothing
    else of the host's, and ``binds`` mounted (``tools.chroot``); ``spec``, ``topdir`` and
    ``sourcedir`` are then paths inside it."""

    # --nodeps: BuildRequires name RPM capabilities, and neither a Debian host nor a Debian
    # build root has them in an rpm database: the rpms stage checks them itself (build_roots).
    def seen(path: Path) -> str:
        return str(path) if root is None else "/" + str(path.relative_to(root))

    paths = (("_topdir", seen(topdir)), ("_sourcedir", seen(sourcedir)))
    argv = ["rpmbuild", "-ba", "--nodeps", *(["--target", target] if target else [])]
    argv += _define_args((*paths, *REPRODUCIBLE_DEFINES, *defines))
    try:
        if root is None:
            run([*argv, str(spec)], env=dict(env), cwd=topdir)
        else:
            run(chroot.command(root, [*argv, seen(spec)], env, binds), cwd=topdir)
    except ToolError as exc:
        raise exc.retold(
            f"rpmbuild of {spec.name} failed: {_cause(exc.stderr_tail) or exc.message}",
            hint=f"the whole log: re-run with --debug; the build tree is {topdir}",
        ) from exc


#: How distributions name the C cross toolchain of an architecture: Debian's
#: ``gcc-aarch64-linux-gnu`` (with ``binutils-aarch64-linux-gnu``), openSUSE's
#: ``cross-aarch64-gcc*`` (``aarch64-suse-linux-gcc``).
CROSS_TRIPLETS = ("{arch}-linux-gnu", "{arch}-suse-linux")


def cross_prefix(arch: str) -> str | None:
    """``aarch64-linux-gnu`` when that toolchain's gcc and strip are on PATH."""
    for triplet in CROSS_TRIPLETS:
        prefix = triplet.format(arch=arch)
        if shutil.which(f"{prefix}-gcc") and shutil.which(f"{prefix}-strip"):
            return prefix
    return None


def cross_defines(prefix: str) -> list[tuple[str, str]]:
    """rpmbuild's defines for a build whose binaries are of another architecture than the
    host: rpm's brp-strip scripts run ``%__strip`` and ``%__objdump`` over them, and the
    host's binutils cannot read them ("Unable to recognise the format")."""
    return [("__strip", f"{prefix}-strip"), ("__objdump", f"{prefix}-objdump")]


def buildrequires(spec: Path, defines: Iterable[tuple[str, str]]) -> str:
    """The spec's BuildRequires as rpmspec expands them with ``defines``, one per line."""
    return run(["rpmspec", "-q", "--buildrequires", *_define_args(defines), str(spec)]).stdout


def subpackages(spec: Path, defines: Iterable[tuple[str, str]]) -> list[str]:
    """The names of the binary RPMs the spec builds with ``defines`` (rpmspec parses it whole,
    conditionals and all, as rpmbuild will)."""
    argv = ["rpmspec", "-q", "--qf", "%{NAME}\\n", *_define_args(defines), str(spec)]
    return [line for line in run(argv).stdout.splitlines() if line]


#: rpmbuild's closing lines, which say that something failed but not what.
_SUMMARY = re.compile(r"^(RPM build errors:|\s*Bad exit status|error: Bad exit status|\+ exit)")


def _cause(stderr_tail: str) -> str:
    """The last line of rpmbuild's output that says what went wrong."""
    for line in reversed(stderr_tail.splitlines()):
        if line.strip() and not _SUMMARY.match(line):
            return line.strip()
    return ""


def query(path: Path) -> RpmInfo:
    head = run(["rpm", "-qp", "--nosignature", "--qf", QUERY_FORMAT, str(path)]).stdout
    name, epoch, version, release, arch = head.rstrip("\n").split("\t")
    listing = run(["rpm", "-qpl", "--nosignature", str(path)]).stdout.splitlines()
    files = tuple(line for line in listing if line and line != "(contains no files)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return RpmInfo(path, name, int(epoch or 0), version, release, arch, digest, files)


def extract(path: Path, destination: Path) -> None:
    """Unpack an RPM's payload under ``destination``, as installing it would lay it out."""
    destination.mkdir(parents=True, exist_ok=True)
    payload = run(["rpm2cpio", str(path)], text=False).stdout
    assert isinstance(payload, bytes)
    run(
        # -u: replace what an earlier extraction left (same clamped mtime would keep the old one)
        ["cpio", "-idmu", "--quiet", "--no-absolute-filenames"],
        input=payload,
        cwd=destination,
        text=False,
    )


def createrepo(directory: Path, revision: int) -> None:
    """Repo metadata whose content depends only on the RPMs (timestamps from ``revision``)."""
    run(
        [
            "createrepo_c",
            "--quiet",
            "--no-database",
            "--simple-md-filenames",
            "--revision",
            str(revision),
            "--set-timestamp-to-revision",
            str(directory),
        ]
    )
