"""Comparing the two sides field by field, the known gaps of an older obs-build, the tally.

A field agrees when both sides give the same value. A field whose meaning changed in obs-build
after the installed release is a *gap*: it is excused only in a file that uses the construct
that changed (the gap's ``trigger``) and only while the installed obs-build is older than the
release that changed it; everything else that differs is a disagreement, and fails the test.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Gap:
    kind: str
    fields: tuple[str, ...]
    #: A file that matches this uses the construct whose meaning changed.
    trigger: str
    #: The first obs-build release (a date tag of openSUSE/obs-build) with today's meaning.
    since: str
    why: str


# Each dated by the first openSUSE/obs-build tag holding the change (`git log -S`, then
# `git tag --contains`), in the history up to 99e6f465, which OBS runs today.
GAPS = (
    Gap(
        "prjconf",
        ("buildflags", "docker_args", "prefer", "support", "preinstall", "substitute", "type"),
        r"%\{(sub|len|lower|upper|rep|reverse|basename|dirname|suffix|shrink)[\s:]",
        "20230208",
        "rpm's string macros in a config (Build/Rpm.pm, 'Implement lua string macros')",
    ),
    Gap(
        "prjconf",
        ("buildflags", "docker_args", "prefer", "support", "preinstall", "substitute", "type"),
        r"%\{?(x86_64|riscv|riscv32|riscv64|loongarch64|arm32)\b",
        "20250829",
        "arch macros added to Build.pm's predefined table (synced with rpm 4.20)",
    ),
    Gap(
        "prjconf",
        ("buildflags", "prefer", "support", "preinstall", "substitute", "type", "rawmacros"),
        r"(?m)^\s*%(define|global)\s.*\\$",
        "20210819",
        "%define continued over several lines (Build/Rpm.pm, 'Support parsing of multiline "
        "defines in specfiles')",
    ),
    Gap(
        "dockerfile",
        ("release",),
        r"(?m)^#!BuildRelease:",
        "20230628",
        "#!BuildRelease (Build/Docker.pm)",
    ),
    Gap(
        "dockerfile",
        ("exclusive_arch", "exclude_arch"),
        r"(?m)^#!Exclu(sive|de)Arch:",
        "20220307",
        "#!ExclusiveArch/#!ExcludeArch (Build/Docker.pm)",
    ),
    Gap(
        "dockerfile",
        ("base",),
        r"(?ims)^\s*FROM\s.*^\s*FROM\s",
        "20240913",
        "the base of a multi-stage build is the final stage's image, stage names followed "
        "(Build/Docker.pm; older releases take the first FROM)",
    ),
)


def excused(kind: str, name: str, text: str, version: str) -> Gap | None:
    for gap in GAPS:
        applies = gap.kind == kind and name in gap.fields and version < gap.since
        if applies and re.search(gap.trigger, text):
            return gap
    return None


def normal(value: Any) -> Any:
    """Empty lists and missing values are the same answer (Perl leaves an empty list out)."""
    if value in ([], {}, None):
        return None
    return value


#: kind -> origin -> counter name -> count
TALLY: dict[str, dict[str, dict[str, int]]] = defaultdict(
    lambda: defaultdict(lambda: defaultdict(int))
)


def compare(
    kind: str, origin: str, ours: dict[str, Any], theirs: dict[str, Any], text: str, version: str
) -> list[str]:
    """The disagreements, one line each; counts every field into the tally."""
    counts = TALLY[kind][origin]
    counts["files"] += 1
    problems = []
    for name, value in ours.items():
        reference = theirs.get(name)
        if normal(value) == normal(reference):
            counts["agree"] += 1
        elif excused(kind, name, text, version):
            counts["gap"] += 1
        else:
            counts["disagree"] += 1
            problems.append(f"{name}: ours {value!r} != obs-build {reference!r}")
    if not problems:
        counts["files agreeing"] += 1
    return problems


def refused(kind: str, origin: str) -> None:
    TALLY[kind][origin]["files"] += 1
    TALLY[kind][origin]["refused"] += 1


def summary() -> list[str]:
    lines = []
    for kind in sorted(TALLY):
        for origin, counts in sorted(TALLY[kind].items()):
            lines.append(
                f"{kind:10} {origin:8} files {counts['files']:3} (agreeing "
                f"{counts['files agreeing']:3}, refused {counts['refused']:2})  fields agree "
                f"{counts['agree']:4}, gap {counts['gap']:2}, disagree {counts['disagree']}"
            )
    return lines
