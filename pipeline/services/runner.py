"""Run the buildtime services of a ``_service`` file on an image directory, as obs-build does.

For each ``mode="buildtime"`` service in file order: its parameters become ``--name value``
arguments plus ``--outdir <temporary dir>``, the service's own parser reads them, the service
reads the package directory and writes what it changes to the outdir, and the files are moved
back before the next service runs. Services of any other mode are skipped (they run on the
server or by hand, never during a build) and reported as such.

The caller passes a copy of the image directory: the services edit it.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location
from pipeline.obs.service import Service, ServiceFile
from pipeline.services import (
    containers_meta,
    docker_label_helper,
    kiwi_metainfo_helper,
    replace_using_env,
)
from pipeline.services.base import ServiceContext, ServiceSpec, ServiceUsageError, move_back

log = logging.getLogger("pipeline.services")

SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        replace_using_env.SERVICE,
        kiwi_metainfo_helper.SERVICE,
        docker_label_helper.SERVICE,
    )
}

_SKIP_REASONS = {
    None: "default mode: runs on the server after a commit, not during a build",
    "localonly": "localonly: runs only in a local checkout (osc service)",
    "trylocal": "trylocal: runs in a local checkout, its results are committed",
    "manual": "manual: runs only by hand (osc service manualrun)",
    "disabled": "disabled: runs only by hand (osc service disabledrun)",
    "serveronly": "serveronly: runs only on the server",
}


@dataclass(frozen=True)
class ServiceResult:
    """One ``<service>`` entry: run (``ran``) or skipped (``skipped`` says why)."""

    name: str
    mode: str | None
    line: int
    ran: bool
    skipped: str | None = None
    #: Files the service changed in the work directory, relative paths.
    changed: tuple[str, ...] = ()
    details: tuple[tuple[str, str], ...] = ()


def find_service(name: str) -> ServiceSpec | None:
    return SERVICES.get(name) or containers_meta.service_for(name)


def _usage_error(service_file: ServiceFile, service: Service, exc: ServiceUsageError) -> InputError:
    line = service.line
    if exc.option is not None:
        line = service.param_line(exc.option, exc.value)
    return InputError(
        Location(service_file.path, line), f"{service.name}: {exc.message}", hint=exc.hint
    )


def _run_one(
    service_file: ServiceFile,
    service: Service,
    spec: ServiceSpec,
    workdir: Path,
    context: ServiceContext,
) -> ServiceResult:
    where = Location(service_file.path, service.line)
    for (name, value), line in zip(service.params, service.param_lines, strict=False):
        # obs-build drops these silently; a dropped parameter is a mistake to show.
        if name == "outdir":
            raise InputError(
                Location(service_file.path, line),
                f"{service.name}: 'outdir' is set by the build, not a parameter",
            )
        if not value.strip():
            raise InputError(
                Location(service_file.path, line),
                f"{service.name}: parameter {name!r} is empty",
                hint="OBS would drop it silently; give it a value or remove it",
            )
    with tempfile.TemporaryDirectory(prefix=f"service-{service.name}-") as outdir:
        argv = [*service.argv(), "--outdir", outdir]
        try:
            args = spec.build_parser(False).parse_args(argv)
            result = spec.run(args, workdir, context)
        except ServiceUsageError as exc:
            raise _usage_error(service_file, service, exc) from None
        changed = move_back(Path(outdir), workdir)
    log.info("%s: ran %s (%s)", where, service.name, ", ".join(changed) or "no file changed")
    return ServiceResult(
        service.name, service.mode, service.line, True, None, tuple(changed), result.details
    )


def run_services(
    service_file: ServiceFile, workdir: Path, context: ServiceContext
) -> list[ServiceResult]:
    """Run the buildtime services of ``service_file`` in order on ``workdir``; report all."""
    # Check every name first: an unknown service fails before anything is edited.
    specs: dict[str, ServiceSpec] = {}
    for service in service_file.buildtime():
        spec = find_service(service.name)
        if spec is None:
            known = ", ".join([*sorted(SERVICES), "<product>_containers_meta"])
            raise InputError(
                Location(service_file.path, service.line),
                f"unknown buildtime service {service.name!r}",
                hint=f"the pipeline implements {known}",
            )
        specs[service.name] = spec
    results: list[ServiceResult] = []
    for service in service_file.services:
        if service.mode != "buildtime":
            reason = _SKIP_REASONS[service.mode]
            log.info(
                "%s:%d: skipped %s (%s)", service_file.path, service.line, service.name, reason
            )
            results.append(ServiceResult(service.name, service.mode, service.line, False, reason))
            continue
        results.append(_run_one(service_file, service, specs[service.name], workdir, context))
    return results
