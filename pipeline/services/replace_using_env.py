"""replace_using_env: put the values of the product's meta env file into ``%%VAR%%`` slots.

Same parameters as openSUSE's obs-service-replace_using_env (``file``, ``var``, ``eval``; each
may repeat and may list several whitespace-separated names), different guarantees:

- values come from the meta env file named by ``eval`` (parsed, see :mod:`envfile`), with
  PKG_VERSION and PKG_RELEASE taken from the ``pkg=`` RPM; nothing is sourced or evaluated;
- with no ``var``, every variable of the env file is replaced (the original replaced none);
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
from pipeline.services.evalparam import find_package, load_meta, parse_eval
from pipeline.services.substitute import substitute

NAME = "replace_using_env"
SUMMARY = "Replace %%VAR%% placeholders with the values of a meta env file"
DESCRIPTION = (
    "Replaces %%VAR%% placeholders in the given files with the values of the env file named "
    "by eval (parsed, never sourced). Strict: every placeholder needs a value and no value may "
    "change the structure of the file."
)
log = logging.getLogger("pipeline.services.replace_using_env")


def build_parser(add_help: bool = False) -> ServiceArgumentParser:
    parser = new_parser(NAME, DESCRIPTION, add_help=add_help)
    parser.add_argument(
        "--file",
        action="append",
        required=True,
        help="file to edit, relative to the package directory (repeatable)",
    )
    parser.add_argument(
        "--var",
        action="append",
        help="variable to replace (repeatable); default: all of the env file",
    )
    parser.add_argument(
        "--eval",
        action="append",
        required=True,
        help="'[pkg=NAME] source /usr/lib/obs/service/<meta>' (repeatable)",
    )
    return parser


def _values(
    evals: list[str], context: ServiceContext
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    values: dict[str, str] = {}
    details: list[tuple[str, str]] = []
    for raw in evals:
        spec = parse_eval(raw)
        env = load_meta(context.sysroot, spec)
        values.update(env.as_dict())
        details.append(("meta", str(env.path)))
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
    values, details = _values(args.eval, context)
    named = split_words(args.var)
    for name in named:
        if not KEY_RE.fullmatch(name):
            raise ServiceUsageError(f"invalid variable name {name!r}", option="var", value=name)
        if name not in values:
            raise ServiceUsageError(
                f"{name} is not set by the meta env file",
                option="var",
                value=name,
                hint="check the var parameters and the meta file",
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
            hint_missing="name it in a var parameter, and set it in the meta env file",
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
