"""``<product>_containers_meta``: the meta env file of a product, as a buildtime service.

In OBS, listing ``kubevirt_containers_meta`` in a ``_service`` file makes the build install
``obs-service-kubevirt_containers_meta`` (built in step 1), whose
``/usr/lib/obs/service/kubevirt_containers_meta`` replace_using_env then sources. Running it
as a service does nothing. Here the service checks, before anything is replaced, that the
file is in the sysroot (where the rpms stage extracted that RPM) and parses, so a missing or
broken meta file is reported once, with what to do. The executable form is that file itself,
shipped by the meta RPM, so this module has no ``__main__``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from pipeline.obs.conventions import META_KEYS, SERVICE_DIR
from pipeline.services.base import (
    ServiceArgumentParser,
    ServiceContext,
    ServiceRun,
    ServiceSpec,
    new_parser,
)
from pipeline.services.envfile import load_env
from pipeline.services.evalparam import meta_file

NAME_RE = re.compile(r"[a-z0-9][a-z0-9.+-]*_containers_meta")
#: What the meta file must set for the Dockerfiles' tags and labels.


def service_for(name: str) -> ServiceSpec | None:
    if not NAME_RE.fullmatch(name):
        return None

    def build_parser(add_help: bool = False) -> ServiceArgumentParser:
        return new_parser(name, f"Check {SERVICE_DIR}/{name} in the sysroot", add_help=add_help)

    def run(args: argparse.Namespace, workdir: Path, context: ServiceContext) -> ServiceRun:
        path = meta_file(context.sysroot, name)
        env = load_env(path)
        missing = [key for key in META_KEYS if key not in env.as_dict()]
        if missing:
            from pipeline.core.errors import InputError

            raise InputError(
                path,
                f"meta file does not set {', '.join(missing)}",
                hint="rebuild the product's RPMs (rpms stage)",
            )
        return ServiceRun(details=(("meta", str(path)),))

    return ServiceSpec(name=name, summary=f"{name} meta file", build_parser=build_parser, run=run)
