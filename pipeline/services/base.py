"""What every service shares: its context, its result, its parser, and where it may write.

A service is a function over parsed arguments (``--param value ... --outdir DIR``), the same
arguments whether the pipeline calls it for a ``_service`` entry or OBS runs it as an
executable, so both paths go through one argparse parser.

Like obs-build, a service reads the package directory (its working directory) and writes
the files it changes to ``--outdir``; the caller moves them back.
"""

from __future__ import annotations

import argparse
import os
import shutil
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NoReturn


class ServiceUsageError(Exception):
    """A bad parameter. The runner turns it into an error at the ``_service`` line of the
    parameter named ``option`` (whose value is or contains ``value``)."""

    def __init__(
        self,
        message: str,
        *,
        option: str | None = None,
        value: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.option = option
        self.value = value
        self.hint = hint


class ServiceArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting: a bad ``<param>`` must
    become an error naming its ``_service`` line, not a SystemExit in the middle of a build."""

    def error(self, message: str) -> NoReturn:
        raise ServiceUsageError(message)


def new_parser(
    name: str, description: str, *, add_help: bool, epilog: str | None = None
) -> ServiceArgumentParser:
    # allow_abbrev=False: <param name="fil"> must not silently mean --file.
    # add_help only for the executable: a <param name="help"> must be an unknown parameter.
    parser = ServiceArgumentParser(
        prog=name,
        description=textwrap.fill(description, 79) if epilog else description,
        epilog=epilog,
        add_help=add_help,
        allow_abbrev=False,
        # the epilog's examples are laid out by hand
        formatter_class=argparse.RawDescriptionHelpFormatter if epilog else argparse.HelpFormatter,
    )
    parser.add_argument(
        "--outdir", required=True, type=Path, help="directory the changed files are written to"
    )
    return parser


@dataclass(frozen=True)
class ServiceContext:
    """What a buildtime service may know about the build, and nothing else.

    ``sysroot`` stands for the build root OBS installs the step-1 meta RPM into: absolute paths
    named in ``_service`` files (``/usr/lib/obs/service/...``) are looked up under it.
    ``rpms_dir`` holds the step-1 RPMs (OBS's ``./repos``).
    """

    sysroot: Path
    rpms_dir: Path
    source_date_epoch: int | None = None
    #: OBS's %RELEASE%: ``<CI_CNT>.<B_CNT>``.
    release: str | None = None
    disturl: str | None = None
    sourceurl: str | None = None
    os_version_id: str | None = None
    os_pretty_name: str | None = None
    os_version_id_sp: str | None = None
    #: A dry run before step 1 (plan): the binary RPMs the spec will build, name -> (version,
    #: release), answering ``pkg=`` instead of ``rpms_dir``.
    planned_packages: Mapping[str, tuple[str, str]] | None = None


def context_from_environ(environ: Mapping[str, str]) -> ServiceContext:
    """The context of a service run as an executable: from the environment OBS sets.

    OBS_SERVICE_SYSROOT and OBS_SERVICE_RPMS_DIR default to what an OBS build root has
    (``/`` and ``./repos``); the pipeline's own runs pass an explicit context instead.
    """
    epoch_text = environ.get("SOURCE_DATE_EPOCH")
    epoch: int | None = None
    if epoch_text:
        if not epoch_text.isdigit():
            raise ServiceUsageError(f"SOURCE_DATE_EPOCH={epoch_text!r} is not a number of seconds")
        epoch = int(epoch_text)
    return ServiceContext(
        sysroot=Path(environ.get("OBS_SERVICE_SYSROOT") or "/"),
        rpms_dir=Path(environ.get("OBS_SERVICE_RPMS_DIR") or "repos"),
        source_date_epoch=epoch,
        release=environ.get("RELEASE") or None,
        disturl=environ.get("DISTURL") or None,
        sourceurl=environ.get("SOURCEURL") or None,
        os_version_id=environ.get("OS_VERSION_ID") or None,
        os_pretty_name=environ.get("OS_PRETTY_NAME") or None,
        os_version_id_sp=environ.get("OS_VERSION_ID_SP") or None,
    )


@dataclass(frozen=True)
class ServiceRun:
    """What one service did: files written to ``--outdir`` (relative paths) and facts for the
    build report (e.g. which env file and which package version were used)."""

    written: tuple[str, ...] = ()
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ServiceSpec:
    """A service: its name, its ``.service`` texts, its parser, and its function."""

    name: str
    summary: str
    build_parser: Callable[[bool], ServiceArgumentParser]
    run: Callable[[argparse.Namespace, Path, ServiceContext], ServiceRun]


def split_words(values: list[str] | None) -> list[str]:
    """Parameter values split on whitespace, as the shell originals do with ``${arg}``."""
    return [word for value in values or () for word in value.split()]


def package_file(workdir: Path, name: str, *, option: str = "file") -> Path:
    """``workdir / name`` for a file named in a parameter, refusing anything outside workdir."""
    pure = PurePosixPath(name)
    if not name or pure.is_absolute():
        raise ServiceUsageError(
            f"{name!r} is not a relative path",
            option=option,
            value=name,
            hint="name files relative to the package directory",
        )
    if ".." in pure.parts or "\\" in name:
        raise ServiceUsageError(f"{name!r} leaves the package directory", option=option, value=name)
    path = workdir / pure
    if not path.exists():
        raise ServiceUsageError(
            f"{name!r} does not exist in the package directory", option=option, value=name
        )
    real_root = workdir.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise ServiceUsageError(
            f"{name!r} is a symlink pointing outside the package directory",
            option=option,
            value=name,
        )
    if not real.is_file():
        raise ServiceUsageError(f"{name!r} is not a regular file", option=option, value=name)
    return path


def write_output(outdir: Path, name: str, text: str) -> None:
    """Write ``text`` as ``outdir/name``, byte for byte (no newline translation)."""
    target = outdir / PurePosixPath(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def move_back(outdir: Path, workdir: Path) -> list[str]:
    """Move every regular file from outdir into workdir (replacing), as obs-build does after
    each service; names starting with ``.`` or ``:`` are skipped like there."""
    moved: list[str] = []
    for root, dirs, files in os.walk(outdir):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", ":")))
        for name in sorted(files):
            if name.startswith((".", ":")):
                continue
            source = Path(root) / name
            if source.is_symlink() or not source.is_file():
                continue
            relative = source.relative_to(outdir)
            target = workdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.service-tmp")
            shutil.copyfile(source, temporary)
            if target.exists():
                shutil.copymode(target, temporary)
            os.replace(temporary, target)
            moved.append(relative.as_posix())
    return moved
