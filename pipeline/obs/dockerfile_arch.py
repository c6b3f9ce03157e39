"""``#!ArchExclusiveLine:`` and ``#!ArchExcludedLine:``: an instruction for some architectures
only.

OBS's ``Docker.pm`` reads the Dockerfile once per architecture: after ``#!ArchExclusiveLine: a b``
the next instruction (continuation lines joined, comment and blank lines skipped) counts only on
``a`` and ``b``, after ``#!ArchExcludedLine: a b`` on every architecture but those; a later such
comment before the instruction replaces the earlier. Its packages are then not in the other
architectures' build roots, so an image built for one of those would fail on that line. Here
the line is left out of the Dockerfile built for those architectures: each of its physical lines
becomes a comment, so every other line keeps its number and errors still name the maintainer's
file and line.
"""

from __future__ import annotations

import re

_ARCH_LINE = re.compile(r"#!(ArchExclusiveLine|ArchExcludedLine):\s*(.*?)\s*$")
_CONTINUED = re.compile(r"\\[ \t]*$")
#: What a left-out line starts with, so the built Dockerfile says why it is a comment.
LEFT_OUT = "# (left out for {arch}) "


def for_arch(text: str, arch: str) -> str:
    """``text`` as built for ``arch`` (an rpm name, as OBS's arch lists use)."""
    lines = text.split("\n")
    excluded = False
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        if stripped.startswith("#"):
            found = _ARCH_LINE.fullmatch(stripped)
            if found:
                listed = arch in found.group(2).split()
                excluded = not listed if found.group(1) == "ArchExclusiveLine" else listed
            index += 1
            continue
        if not stripped:
            index += 1
            continue
        end = _instruction_end(lines, index)
        if excluded:
            for number in range(index, end):
                if lines[number].strip() and not lines[number].lstrip().startswith("#"):
                    lines[number] = LEFT_OUT.format(arch=arch) + lines[number]
            excluded = False
        index = end
    return "\n".join(lines)


def _instruction_end(lines: list[str], start: int) -> int:
    """The index after the last physical line of the instruction starting at ``start``."""
    index = start
    while _CONTINUED.search(lines[index]):
        index += 1
        while index < len(lines) and lines[index].lstrip().startswith("#"):
            index += 1
        if index >= len(lines):
            return index
    return index + 1
