"""The ``eval`` parameter of replace_using_env, read as data instead of run by bash.

The shell original runs each ``eval`` with bash. Here only its forms that are data are
accepted, each parsed and nothing executed::

    source ./my.env                                   an env file in the package directory
    source /usr/lib/obs/service/kubevirt_containers_meta       a meta file OBS installed
    pkg=kubevirt-virt-api source /usr/lib/obs/service/kubevirt_containers_meta
    VERSION=1.2 NAME='a b'                            plain assignments

``.`` is accepted for ``source``. ``pkg=`` before a file under ``/usr/lib/obs/service/`` is
openSUSE's KubeVirt and CDI form: PKG_VERSION and PKG_RELEASE come from that package's RPM (the
meta script does ``rpm -qp --queryformat=%{version}`` on ``./repos/${pkg}*.rpm``). Values follow
the env file rules (:mod:`envfile`): literal, quoted with ``'...'`` or ``"..."`` when they hold
a blank. Anything else (other prefixes, ``;``, ``&&``, ``$(...)``, another path) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline.core.errors import InputError
from pipeline.obs.conventions import SERVICE_DIR
from pipeline.services.base import ServiceUsageError, package_file
from pipeline.services.envfile import KEY_RE, EnvFile, load_env, parse_value
from pipeline.tools.run import run

_META_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_RPM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
#: A shell word made of bare text and quoted strings (no backslashes: refused before).
_WORD = re.compile(r"""(?:[^\s'"]+|'[^']*'|"[^"]*")+""")
_FORMS = (
    "'source ./FILE' (an env file in the package directory), "
    f"'[pkg=RPM] source {SERVICE_DIR}/NAME' or 'NAME=value ...'"
)


@dataclass(frozen=True)
class EvalSpec:
    """One ``eval``: the env file it sources (if any), the package whose VERSION and RELEASE
    override PKG_VERSION and PKG_RELEASE, and its plain assignments in order."""

    raw: str
    #: The path as written: relative (package directory) or under SERVICE_DIR.
    source: str | None = None
    pkg: str | None = None
    assignments: tuple[tuple[str, str], ...] = ()

    @property
    def meta(self) -> str | None:
        """The file name under SERVICE_DIR, when the source is there."""
        if self.source is None or not self.source.startswith(f"{SERVICE_DIR}/"):
            return None
        return self.source.removeprefix(f"{SERVICE_DIR}/")

    @property
    def meta_path(self) -> str:
        return f"{SERVICE_DIR}/{self.meta}"


@dataclass(frozen=True)
class PackageVersion:
    name: str
    version: str
    release: str
    rpm: Path


def _refuse(raw: str, reason: str) -> ServiceUsageError:
    return ServiceUsageError(
        f"unsupported eval {raw.strip()!r}: {reason}",
        option="eval",
        value=raw,
        hint=f"use {_FORMS}; nothing is executed",
    )


def _shell_reason(text: str) -> str | None:
    if "$(" in text or "`" in text:
        return "it contains command substitution"
    if any(sep in text for sep in (";", "&&", "||", "|", "&", "\n")):
        return "it chains shell commands"
    if "\\" in text:
        return "backslashes are shell syntax"
    return None


def _words(raw: str) -> list[str]:
    text = raw.strip()
    reason = _shell_reason(text)
    if reason is not None:
        raise _refuse(raw, reason)
    words = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _WORD.match(text, position)
        if match is None:
            raise _refuse(raw, "a quote is left open")
        words.append(match.group())
        position = match.end()
    return words


def _assignment(word: str, raw: str) -> tuple[str, str] | None:
    key, equals, rest = word.partition("=")
    if not equals or not KEY_RE.fullmatch(key):
        return None
    try:
        return key, parse_value(rest, None)
    except InputError as exc:
        raise _refuse(raw, f"{key}: {exc.message}") from None


def _check_source(path: str, prefix: list[tuple[str, str]], raw: str) -> str | None:
    """The ``pkg=`` of a source, after checking the path and what comes before it."""
    if path.startswith("/"):
        name = path.removeprefix(f"{SERVICE_DIR}/")
        if name == path or not _META_NAME.fullmatch(name):
            raise _refuse(
                raw, f"only files in the package directory or under {SERVICE_DIR}/ can be read"
            )
    elif ".." in PurePosixPath(path).parts:
        raise _refuse(raw, f"{path!r} leaves the package directory")
    pkg = None
    for key, value in prefix:
        if key != "pkg" or pkg is not None:
            raise _refuse(raw, "only one 'pkg=' may come before source")
        if not path.startswith("/"):
            raise _refuse(raw, f"pkg= goes with a meta file under {SERVICE_DIR}/")
        if not _RPM_NAME.fullmatch(value):
            raise _refuse(raw, f"pkg={value!r} is not a package name")
        pkg = value
    return pkg


def parse_eval(raw: str) -> EvalSpec:
    words = _words(raw)
    prefix: list[tuple[str, str]] = []
    for index, word in enumerate(words):
        if word in ("source", "."):
            if len(words) != index + 2:
                raise _refuse(raw, "source takes exactly one file")
            path = words[index + 1]
            return EvalSpec(raw, path, _check_source(path, prefix, raw))
        assignment = _assignment(word, raw)
        if assignment is None:
            raise _refuse(raw, "it is not one of the supported forms")
        prefix.append(assignment)
    if not prefix:
        raise _refuse(raw, "it is empty")
    return EvalSpec(raw, assignments=tuple(prefix))


def meta_file(sysroot: Path, meta: str, *, option: str = "eval", value: str | None = None) -> Path:
    """Where ``/usr/lib/obs/service/<meta>`` is in the sysroot (the step-1 meta RPM extracted)."""
    path = sysroot / SERVICE_DIR.lstrip("/") / meta
    hint = (
        "run the rpms stage first: it extracts the obs-service-*_containers_meta RPM into "
        f"{sysroot}"
    )
    if not path.exists():
        raise ServiceUsageError(
            f"meta file {SERVICE_DIR}/{meta} not found in {sysroot}",
            option=option,
            value=value or meta,
            hint=hint,
        )
    real_root = sysroot.resolve()
    if real_root not in path.resolve().parents:
        raise ServiceUsageError(
            f"{SERVICE_DIR}/{meta} points outside {sysroot}", option=option, value=value or meta
        )
    if not path.is_file():
        raise ServiceUsageError(
            f"{SERVICE_DIR}/{meta} in {sysroot} is not a file",
            option=option,
            value=value or meta,
            hint=hint,
        )
    return path


def load_source(spec: EvalSpec, sysroot: Path, workdir: Path) -> EnvFile | None:
    """The env file ``spec`` sources: a meta file from the sysroot, or a package file."""
    if spec.source is None:
        return None
    if spec.meta is not None:
        return load_env(meta_file(sysroot, spec.meta, value=spec.raw))
    return load_env(package_file(workdir, spec.source, option="eval"))


_QUERY_FORMAT = "%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n"


def find_package(rpms_dir: Path, name: str) -> PackageVersion:
    """VERSION and RELEASE of the one binary RPM called ``name`` under ``rpms_dir``.

    File names only preselect (``<name>-*.rpm``); the NAME rpm reports decides, so
    ``kubevirt-virt-api`` does not match ``kubevirt-virt-api-debuginfo``.
    """
    hint = "run the rpms stage first, or check the pkg= name in the _service file"
    if not rpms_dir.is_dir():
        raise InputError(rpms_dir, f"RPM directory not found while looking for {name}", hint=hint)
    candidates = sorted(
        path
        for path in rpms_dir.rglob(f"{name}-*.rpm")
        if path.is_file() and not path.name.endswith((".src.rpm", ".nosrc.rpm"))
    )
    found: list[PackageVersion] = []
    if candidates:
        result = run(
            ["rpm", "-qp", "--nosignature", "--nodigest", "--qf", _QUERY_FORMAT, *candidates]
        )
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        if len(lines) != len(candidates):
            raise InputError(
                rpms_dir,
                f"rpm reported {len(lines)} packages for "
                f"{len(candidates)} files while looking for {name}",
            )
        for path, line in zip(candidates, lines, strict=True):
            fields = line.split("\t")
            if len(fields) == 4 and fields[0] == name:
                found.append(PackageVersion(name, fields[1], fields[2], path))
    if not found:
        raise InputError(rpms_dir, f"no binary RPM named {name!r} in {rpms_dir}", hint=hint)
    if len(found) > 1:
        listed = ", ".join(p.rpm.name for p in found)
        raise InputError(
            rpms_dir,
            f"{len(found)} RPMs named {name!r}: {listed}",
            hint="keep only the RPMs of one build in the directory",
        )
    return found[0]
