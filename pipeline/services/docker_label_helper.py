"""docker_label_helper: duplicate labels under a vendor prefix, as openSUSE's helper does.

After ``# labelprefix=P`` each ``PREFIXEDLABEL a.b.c=V`` (old form) or ``LABEL a.b.c=V`` (new
form, up to ``# endlabelprefix``) becomes two lines, the prefixed one first::

    LABEL P.c=V
    LABEL a.b.c=V

and the two marker comments are removed; ``V`` is copied as written, quotes included. Where
the real helper silently leaves a line it cannot expand (and docker then fails on
``PREFIXEDLABEL``, or a label is not duplicated), this one stops with the line: a
PREFIXEDLABEL outside a prefix block, several labels or a line continuation on one LABEL line
inside a block, an empty prefix or one with blanks.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pipeline.core.errors import InputError, Location
from pipeline.core.files import read_text
from pipeline.services.base import (
    ServiceArgumentParser,
    ServiceContext,
    ServiceRun,
    ServiceSpec,
    new_parser,
    package_file,
    split_words,
    write_output,
)

NAME = "docker_label_helper"
SUMMARY = "Duplicate Dockerfile labels under the prefix given by '# labelprefix='"
DESCRIPTION = (
    "Expands PREFIXEDLABEL lines, and LABEL lines between '# labelprefix=<prefix>' and "
    "'# endlabelprefix', into a '<prefix>.<last part of the key>' label plus the original one."
)
_PREFIX_RE = re.compile(r"# labelprefix=(?P<prefix>.*)")
_END_RE = re.compile(r"# endlabelprefix.*")
_LABEL_RE = re.compile(r"(?P<kw>PREFIXEDLABEL|LABEL)(?P<sep>[ \t]+)(?P<key>[^\s=]+)=(?P<value>.*)")
_HINT = "one 'LABEL key=value' per line between '# labelprefix=' and '# endlabelprefix'"


def build_parser(add_help: bool = False) -> ServiceArgumentParser:
    parser = new_parser(NAME, DESCRIPTION, add_help=add_help)
    parser.add_argument(
        "--file", action="append", help="Dockerfile to expand (repeatable); default: Dockerfile"
    )
    return parser


def _single_value(value: str, where: Location) -> None:
    """Refuse a LABEL line holding more than one key=value, or continuing on the next line."""
    text = value.rstrip()
    if text.endswith("\\"):
        raise InputError(where, "line continuation in a prefixed label", hint=_HINT)
    if text.startswith('"'):
        index = 1
        while index < len(text):
            if text[index] == "\\":
                index += 2
                continue
            if text[index] == '"':
                break
            index += 1
        else:
            raise InputError(where, "unbalanced '\"' in a prefixed label", hint=_HINT)
        rest = text[index + 1 :]
    else:
        rest = text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else ""
    if rest.strip():
        raise InputError(
            where, f"more than one label on a prefixed LABEL line: {rest.strip()!r}", hint=_HINT
        )


def expand(text: str, path: Path | str) -> str:
    """The Dockerfile text with its prefixed labels expanded."""
    prefix = ""
    out: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        where = Location(path, number)
        body = line.rstrip("\r")
        start = _PREFIX_RE.fullmatch(body)
        if start is not None:
            prefix = start["prefix"].strip()
            if not prefix or any(char.isspace() for char in prefix):
                raise InputError(
                    where,
                    f"invalid label prefix {start['prefix']!r}",
                    hint="'# labelprefix=org.example.product'",
                )
            continue
        if _END_RE.fullmatch(body):
            prefix = ""
            continue
        label = _LABEL_RE.fullmatch(body)
        if label is None:
            out.append(line)
            continue
        if not prefix:
            if label["kw"] == "PREFIXEDLABEL":
                raise InputError(
                    where, "PREFIXEDLABEL without a '# labelprefix=' line before it", hint=_HINT
                )
            out.append(line)
            continue
        _single_value(label["value"], where)
        short = label["key"].rsplit(".", 1)[-1]
        eol = line[len(body) :]
        out.append(f"LABEL {prefix}.{short}={label['value']}{eol}")
        out.append("LABEL" + line[len(label["kw"]) :])
    return "\n".join(out)


def run(args: argparse.Namespace, workdir: Path, context: ServiceContext) -> ServiceRun:
    files = split_words(args.file) or ["Dockerfile"]
    written: list[str] = []
    for name in files:
        path = package_file(workdir, name)
        write_output(args.outdir, name, expand(read_text(path), path))
        written.append(name)
    return ServiceRun(written=tuple(written))


SERVICE = ServiceSpec(name=NAME, summary=SUMMARY, build_parser=build_parser, run=run)

if __name__ == "__main__":
    from pipeline.services.cli import main

    sys.exit(main(SERVICE))
