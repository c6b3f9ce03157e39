"""What the pipeline reads from and writes into a spec file besides rpmbuild's own parse."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from pipeline.core.errors import InputError, Location, ToolError

RELEASE_LINE = re.compile(r"^Release:[ \t]*\S.*$", re.MULTILINE | re.IGNORECASE)
CHANGELOG_DATE = re.compile(r"^\*\s+\w{3}\s+(\w{3})\s+(\d{1,2})\s+(?:[\d:]+\s+)?(\d{4})", re.M)
#: rpmbuild's last words when a section's script fails: ``Bad exit status from ... (%build)``.
FAILED_SECTION = re.compile(r"Bad exit status from \S+ \((%\w+)\)")
RPMSPEC_LINE = re.compile(r"\bline (\d+):")


def source_date_epoch(spec_text: str, spec: Path) -> int:
    """The newest %changelog entry's date, as rpm's source_date_epoch_from_changelog reads it."""
    _, _, changelog = spec_text.partition("\n%changelog")
    found = CHANGELOG_DATE.search(changelog)
    if not found:
        raise InputError(
            spec,
            "the spec has no dated %changelog entry",
            hint="add `* Mon Jan 01 2026 Name <mail> - 1.0-1`: it fixes the build time",
        )
    month, day, year = found.groups()
    when = datetime.strptime(f"{day} {month} {year}", "%d %b %Y").replace(tzinfo=UTC)
    return int(when.timestamp())


def with_release(spec_text: str, spec: Path, release: str) -> str:
    """The spec with its ``Release:`` set, as OBS's build script rewrites it."""
    text, count = RELEASE_LINE.subn(f"Release:        {release}", spec_text, count=1)
    if count != 1:
        raise InputError(spec, "the spec has no Release: line", hint="add `Release: 0`")
    return text


def failed_section(spec: Path, spec_text: str, rpmbuild_output: str) -> Location:
    """The spec and the line of the section rpmbuild names in ``Bad exit status from ...
    (%build)``; the spec alone when the output names none."""
    found = FAILED_SECTION.search(rpmbuild_output)
    if found:
        pattern = re.compile(rf"^{re.escape(found.group(1))}\b", re.MULTILINE)
        start = pattern.search(spec_text)
        if start:
            return Location(spec, spec_text.count("\n", 0, start.start()) + 1)
    return Location(spec)


def rpmspec_error(exc: ToolError, spec: Path) -> InputError:
    """rpmspec's refusal of ``spec`` as an input error at the line it names."""
    detail = exc.stderr_tail or exc.message
    line = RPMSPEC_LINE.search(detail)
    first = detail.splitlines()[0] if detail else ""
    return InputError(
        Location(spec, int(line.group(1)) if line else 0),
        f"rpmspec cannot parse the spec: {first.removeprefix('error: ')}",
        hint="check the spec with `rpmspec -P`",
    )


def version_code(version: str) -> int:
    """The version as the one number the spec files' version switches compare (X.Y.Z ->
    X*10000 + Y*100 + Z): an integer comparison that rpm and OBS's scheduler, which cannot run
    the spec's Lua, both evaluate."""
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() and int(p) < 100 for p in parts):
        raise ValueError(f"version {version!r} is not X.Y.Z with each part below 100")
    major, minor, patch = (int(p) for p in parts)
    return major * 10000 + minor * 100 + patch


def version_code_macro(version_macro: str) -> str:
    """The spec's macro holding :func:`version_code`: ``kubevirt_version_code``."""
    return f"{version_macro}_code"
