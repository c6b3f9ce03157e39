"""kiwi_metainfo_helper: build facts into ``%RELEASE%``, ``%BUILDTIME%``, ``%DISTURL%`` ... slots.

Placeholders as openSUSE's obs-service-kiwi_metainfo_helper defines them. Differences:
``%BUILDTIME%`` is SOURCE_DATE_EPOCH (reproducible), not the clock; a placeholder whose value
this build does not have is an error instead of being left in the image; values are inserted
literally and checked against their slot like replace_using_env's. The real helper has no
parameters and edits the recipe; here ``file`` names the files (default: Dockerfile).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from pipeline.core.files import read_text
from pipeline.obs.conventions import METAINFO_PLACEHOLDER
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
from pipeline.services.substitute import substitute

NAME = "kiwi_metainfo_helper"
SUMMARY = "Substitute build metadata (%RELEASE%, %BUILDTIME%, %DISTURL%, ...) in build recipes"
DESCRIPTION = (
    "Replaces %RELEASE%, %BUILDTIME%, %DISTURL%, %SOURCEURL% and the %OS_...% placeholders in "
    "the given files (default: Dockerfile) with the facts of this build."
)
_DISTURL_RE = re.compile(
    r"obs://(?P<host>[^/\s]+)/(?P<project>[^/\s]+)/[^/\s]+/"
    r"(?P<rev>[0-9a-f]+)-(?P<package>[^:/\s]+)(?::\S*)?"
)


def build_parser(add_help: bool = False) -> ServiceArgumentParser:
    parser = new_parser(NAME, DESCRIPTION, add_help=add_help)
    parser.add_argument(
        "--file", action="append", help="file to edit (repeatable); default: Dockerfile"
    )
    return parser


def buildtime(epoch: int) -> str:
    """SOURCE_DATE_EPOCH in the real helper's ``date --utc +%FT%T.%NZ`` shape."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")


def sourceurl_from_disturl(disturl: str) -> str | None:
    """The package's source URL as the real helper derives it from the DISTURL."""
    match = _DISTURL_RE.fullmatch(disturl)
    if match is None:
        return None
    if match["host"] == "build.suse.de":
        return f"https://sources.suse.com/{match['project']}/{match['package']}/{match['rev']}/"
    return (
        f"https://{match['host']}/package/show/{match['project']}/{match['package']}"
        f"?rev={match['rev']}"
    )


def _dashed(text: str) -> str:
    dashed = re.sub(r"[^0-9A-Za-z.]", "-", text).replace("--", "-")
    return dashed.rstrip("-")


def values(context: ServiceContext) -> dict[str, str | None]:
    """Each placeholder's value in this build (None: the build does not know it)."""
    pretty = context.os_pretty_name
    before_paren = pretty.split(" (", 1)[0] if pretty else None
    sourceurl = context.sourceurl or (
        sourceurl_from_disturl(context.disturl) if context.disturl else None
    )
    return {
        "RELEASE": context.release,
        "BUILDTIME": (
            buildtime(context.source_date_epoch) if context.source_date_epoch is not None else None
        ),
        "DISTURL": context.disturl,
        "SOURCEURL": sourceurl,
        "OS_VERSION_ID": context.os_version_id,
        "OS_VERSION_ID_SP": context.os_version_id_sp,
        "OS_PRETTY_NAME": pretty,
        "OS_VENDOR": pretty.split(" ", 1)[0] if pretty else None,
        "OS_PRETTY_NAME_DASHED": _dashed(pretty) if pretty else None,
        "OS_PRETTY_NAME_BEFORE_PAREN": before_paren,
        "OS_PRETTY_NAME_BEFORE_PAREN_DASHED": _dashed(before_paren) if before_paren else None,
        # VERSION of os-release is not part of the pipeline's facts.
        "OS_VERSION": None,
    }


def run(args: argparse.Namespace, workdir: Path, context: ServiceContext) -> ServiceRun:
    files = split_words(args.file) or ["Dockerfile"]
    table = values(context)
    written: list[str] = []
    used: dict[str, int] = {}
    for name in files:
        path = package_file(workdir, name)
        result = substitute(
            read_text(path),
            path,
            METAINFO_PLACEHOLDER,
            table,
            unknown_is_error=False,
            hint_missing="the build context sets RELEASE, SOURCE_DATE_EPOCH, DISTURL and the "
            "OS_* facts",
        )
        for var, count in result.used:
            used[var] = used.get(var, 0) + count
        write_output(args.outdir, name, result.text)
        written.append(name)
    details = tuple((var, table[var] or "") for var in sorted(used))
    return ServiceRun(written=tuple(written), details=details)


SERVICE = ServiceSpec(name=NAME, summary=SUMMARY, build_parser=build_parser, run=run)

if __name__ == "__main__":
    from pipeline.services.cli import main

    sys.exit(main(SERVICE))
