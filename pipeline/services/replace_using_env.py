"""replace_using_env: put the values of env files and assignments into ``%%VAR%%`` slots.

A generic OBS service, with the parameters of openSUSE's obs-service-replace_using_env
(``file``, ``var``, ``eval``; each may repeat and may list several whitespace-separated names),
and stricter guarantees:

- values come from the ``eval`` parameters, read as data (:mod:`evalparam`): an env file named
  by ``source <path>`` (in the package directory, or a meta file under /usr/lib/obs/service/
  such as KubeVirt's ``kubevirt_containers_meta``, with PKG_VERSION and PKG_RELEASE taken from
  the ``pkg=`` RPM), or plain ``NAME=value`` assignments; nothing is sourced or evaluated;
- with no ``var``, every variable the evals set is replaced (the original replaced none);
- every ``%%NAME%%`` in the files must get a value: one left over is an error at its line;
- values are inserted literally and checked against the slot they land in (:mod:`substitute`);
- a named variable that occurs in no file is logged as a warning.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipeline.core.errors import InputError
from pipeline.core.files import read_text
from pipeline.obs.conventions import ENV_PLACEHOLDER
from pipeline.services.base import (
    ServiceArgumentParser,
    ServiceContext,
    ServiceRun,
    ServiceSpec,
    ServiceUsageError,
    new_parser,
    package_file,
    split_words,
    write_output,
)
from pipeline.services.envfile import KEY_RE
from pipeline.services.evalparam import find_package, load_source, parse_eval
from pipeline.services.substitute import substitute

NAME = "replace_using_env"
SUMMARY = "Replace %%VAR%% placeholders with the values of env files and assignments"
DESCRIPTION = (
    "Replaces %%VAR%% placeholders in the given files with the values the eval parameters set "
    "(parsed, never run by a shell). Strict: every placeholder needs a value and no value may "
    "change the structure of the file."
)
EPILOG = """examples:
  an env file of the package, and a plain assignment:
    replace_using_env --file Dockerfile --eval 'source ./my.env' --eval 'CHANNEL=stable' \\
        --outdir OUT
  KubeVirt's images (the meta file of the product's RPM, PKG_VERSION/PKG_RELEASE of one RPM):
    replace_using_env --file Dockerfile \\
        --eval 'pkg=kubevirt-virt-api source /usr/lib/obs/service/kubevirt_containers_meta' \\
        --outdir OUT
"""
log = logging.getLogger("pipeline.services.replace_using_env")


def build_parser(add_help: bool = False) -> ServiceArgumentParser:
    parser = new_parser(NAME, DESCRIPTION, add_help=add_help, epilog=EPILOG)
    parser.add_argument(
        "--file",
        action="append",
        required=True,
        help="file to edit, relative to the package directory (repeatable)",
    )
    parser.add_argument(
        "--var",
        action="append",
        help="variable to replace (repeatable); default: every variable the evals set",
    )
    parser.add_argument(
        "--eval",
        action="append",
        required=True,
        help="'source ./FILE' (an env file in the package directory), 'NAME=value ...', or "
        "'[pkg=RPM] source /usr/lib/obs/service/NAME' (repeatable; later values win)",
    )
    return parser


def _values(
    evals: list[str], workdir: Path, context: ServiceContext
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Every eval in order (a later value overrides an earlier one)."""
    values: dict[str, str] = {}
    details: list[tuple[str, str]] = []
    for raw in evals:
        spec = parse_eval(raw)
        env = load_source(spec, context.sysroot, workdir)
        if env is not None:
            values.update(env.as_dict())
            details.append(("meta" if spec.meta else "env", str(env.path)))
        values.update(spec.assignments)
        if spec.pkg is not None:
            version, release = _package(spec.pkg, raw, context)
            values["PKG_VERSION"] = version
            values["PKG_RELEASE"] = release
            details.append(("pkg", f"{spec.pkg}-{version}-{release}"))
    return values, details


def _package(name: str, raw: str, context: ServiceContext) -> tuple[str, str]:
    """VERSION and RELEASE of the step-1 RPM ``name`` (planned ones in a dry run)."""
    if context.planned_packages is not None:
        if name not in context.planned_packages:
            raise ServiceUsageError(
                f"the spec builds no RPM named {name!r}",
                option="eval",
                value=raw,
                hint="pkg= must name one of the product's subpackages",
            )
        return context.planned_packages[name]
    try:
        package = find_package(context.rpms_dir, name)
    except InputError as exc:
        # The fix is in the _service file (pkg=) or in running the rpms stage: point at the
        # eval line, name the directory in the message.
        raise ServiceUsageError(
            f"{exc.location}: {exc.message}", option="eval", value=raw, hint=exc.hint
        ) from None
    return package.version, package.release


def run(args: argparse.Namespace, workdir: Path, context: ServiceContext) -> ServiceRun:
    files = split_words(args.file)
    if not files:
        raise ServiceUsageError("no file to edit", option="file")
    paths = {name: package_file(workdir, name) for name in files}
    values, details = _values(args.eval, workdir, context)
    named = split_words(args.var)
    for name in named:
        if not KEY_RE.fullmatch(name):
            raise ServiceUsageError(f"invalid variable name {name!r}", option="var", value=name)
        if name not in values:
            raise ServiceUsageError(
                f"{name} is not set by any eval",
                option="var",
                value=name,
                hint="check the var parameters and the env files the evals read",
            )
    selected = {name: values[name] for name in (named or sorted(values))}
    used: dict[str, int] = {}
    written: list[str] = []
    for name, path in paths.items():
        result = substitute(
            read_text(path),
            path,
            ENV_PLACEHOLDER,
            selected,
            unknown_is_error=True,
            hint_missing="name it in a var parameter, and set it in an env file or eval",
        )
        for var, count in result.used:
            used[var] = used.get(var, 0) + count
        write_output(args.outdir, name, result.text)
        written.append(name)
    for name in named:
        if name not in used:
            log.warning("%s: variable %s occurs in none of %s", NAME, name, ", ".join(files))
    details += [(name, selected[name]) for name in sorted(used)]
    return ServiceRun(written=tuple(written), details=tuple(details))


SERVICE = ServiceSpec(name=NAME, summary=SUMMARY, build_parser=build_parser, run=run)

if __name__ == "__main__":
    from pipeline.services.cli import main

    sys.exit(main(SERVICE))
