"""The ``eval`` parameter of replace_using_env, read as data instead of run by bash.

openSUSE's KubeVirt and CDI container packages give it exactly these two forms::

    source /usr/lib/obs/service/kubevirt_containers_meta
    pkg=kubevirt-virt-api source /usr/lib/obs/service/kubevirt_containers_meta

that is: read the meta env file shipped by ``obs-service-<product>_containers_meta`` and, when
``pkg=`` is given, take PKG_VERSION and PKG_RELEASE from that package's RPM instead (the meta
script does ``rpm -qp --queryformat=%{version}`` on ``./repos/${pkg}*.rpm``). ``.`` is accepted
for ``source``. Anything else (other variables, ``;``, ``&&``, ``$(...)``, quotes, another
path) is refused: nothing in a ``_service`` file is executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError
from pipeline.obs.conventions import SERVICE_DIR
from pipeline.services.base import ServiceUsageError
from pipeline.services.envfile import EnvFile, load_env
from pipeline.tools.run import run

_META_NAME = r"[A-Za-z0-9][A-Za-z0-9_.+-]*"
_RPM_NAME = r"[A-Za-z0-9][A-Za-z0-9_.+-]*"
_EVAL_RE = re.compile(
    rf"(?:pkg=(?P<pkg>{_RPM_NAME})\s+)?(?:source|\.)\s+{re.escape(SERVICE_DIR)}/(?P<meta>{_META_NAME})"
)
_FORMS = (
    f"'source {SERVICE_DIR}/<name>_containers_meta' or "
    f"'pkg=<rpm name> source {SERVICE_DIR}/<name>_containers_meta'"
)


@dataclass(frozen=True)
class EvalSpec:
    """One supported ``eval``: the meta file to read and the package whose VERSION and
    RELEASE override PKG_VERSION and PKG_RELEASE."""

    meta: str
    pkg: str | None
    raw: str

    @property
    def meta_path(self) -> str:
        return f"{SERVICE_DIR}/{self.meta}"


@dataclass(frozen=True)
class PackageVersion:
    name: str
    version: str
    release: str
    rpm: Path


def parse_eval(raw: str) -> EvalSpec:
    text = raw.strip()
    match = _EVAL_RE.fullmatch(text)
    if match is not None:
        return EvalSpec(meta=match["meta"], pkg=match["pkg"], raw=raw)
    reason = "it is not one of the supported forms"
    if "$(" in text or "`" in text:
        reason = "it contains command substitution"
    elif any(sep in text for sep in (";", "&&", "||", "|", "&", "\n")):
        reason = "it chains shell commands"
    elif re.search(r"(?:^|\s)(?:source|\.)\s+(\S+)", text) and SERVICE_DIR not in text:
        reason = f"only meta files under {SERVICE_DIR}/ can be read"
    elif re.match(r"[A-Za-z_][A-Za-z0-9_]*=", text) and not text.startswith("pkg="):
        reason = "only the variable 'pkg' can be set"
    raise ServiceUsageError(
        f"unsupported eval {text!r}: {reason}",
        option="eval",
        value=raw,
        hint=f"use {_FORMS}; nothing is executed",
    )


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


def load_meta(sysroot: Path, spec: EvalSpec) -> EnvFile:
    return load_env(meta_file(sysroot, spec.meta, value=spec.raw))


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
