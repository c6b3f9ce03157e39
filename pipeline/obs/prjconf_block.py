"""The ``Macros:`` ... ``:Macros`` blocks of a prjconf: rpm macros for the build root.

OBS copies these lines verbatim into the build root's macro file, so rpmbuild expands them at build
time; nothing here expands them. Each line must be ``%name value``; a value ending in ``\\``
continues on the next line, as in an rpm macro file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.errors import InputError, Location
from pipeline.obs.prjconf_expand import CONDITIONAL_WORDS, DEFINE_WORDS, NAME

_MACRO_LINE_RE = re.compile(rf"%(?P<name>{NAME})(?P<params>\([^)]*\))?(?:[ \t]+(?P<body>.*))?")

#: Called with each macro of a block: name, value, line of its first line.
AddMacro = Callable[[str, str, int], None]


@dataclass
class _Continued:
    """A macro whose value ends in ``\\``: its lines so far."""

    name: str
    line: int
    parts: list[str] = field(default_factory=list)


def read_macros_block(
    lines: Sequence[str], index: int, opener: int, path: Path | str, add: AddMacro
) -> int:
    """Read the block whose ``Macros:`` is line ``opener``, from ``lines[index]`` up to its
    ``:Macros``, handing each macro to ``add`` as soon as it is complete (so a duplicate is
    reported before a later error in the block). Returns the index of the line after it."""
    pending: _Continued | None = None
    while index < len(lines):
        raw = lines[index]
        number = index + 1
        index += 1
        if pending is not None:
            if raw.rstrip().endswith("\\"):
                pending.parts.append(raw.rstrip()[:-1])
                continue
            pending.parts.append(raw)
            add(pending.name, "\n".join(pending.parts).strip(), pending.line)
            pending = None
            continue
        stripped = raw.strip()
        if stripped.lower() == ":macros":
            return index
        if stripped.lower() == "macros:":
            raise InputError(
                Location(path, number, 1),
                f"Macros: inside the Macros: block opened on line {opener}",
                hint="close the first block with :Macros",
            )
        if not stripped or stripped.startswith("#"):
            continue
        name, body = _macro_line(raw, number, path)
        if body.endswith("\\"):
            pending = _Continued(name, number, [body[:-1]])
        else:
            add(name, body, number)
    where = "a macro continued with \\ and" if pending else "the block"
    raise InputError(
        Location(path, opener, 1),
        f"Macros: is never closed ({where} runs to the end)",
        hint="end the block with a line holding only :Macros",
    )


def _macro_line(raw: str, number: int, path: Path | str) -> tuple[str, str]:
    """Name and value of the block line ``raw``; the value may still end in ``\\``."""
    where = Location(path, number, len(raw) - len(raw.lstrip()) + 1)
    match = _MACRO_LINE_RE.fullmatch(raw.strip())
    if match is None:
        raise InputError(
            where,
            "a Macros: block line must be %name value",
            hint="start the line with %name, or close the block with :Macros",
        )
    name, params, body = match.group("name", "params", "body")
    if params is not None:
        raise InputError(
            where,
            f"parametric macro %{name}{params} is not supported",
            hint="define it in the spec file instead",
        )
    if name in CONDITIONAL_WORDS or name in DEFINE_WORDS:
        raise InputError(
            where,
            f"%{name} is not allowed inside Macros:",
            hint="put conditionals and %define outside the Macros: block",
        )
    body = (body or "").rstrip()
    if not body:
        raise InputError(where, f"macro %{name} has no value", hint=f"write %{name} <value>")
    return name, body
