"""The ``Macros:`` ... ``:Macros`` blocks of a prjconf: rpm macros for the build root.

OBS copies the lines of every active block verbatim, joined in file order, into the build root's
``.rpmmacros`` (a block whose first line is ``!`` throws away what the blocks before it held), so
rpmbuild reads them as a macro file. :func:`read_block` takes a block as OBS does: up to the first
``:Macros`` line, or to the end of the file. :func:`rpm_macros` reads the joined text as rpm reads
a macro file: ``%name body`` or ``%name(opts) body``, continued while a line ends in ``\\`` or a
``%{`` is open, other lines ignored, a later definition replacing an earlier one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location
from pipeline.obs.prjconf_expand import CONDITIONAL_WORDS, DEFINE_WORDS, NAME, Macro, Warn

__all__ = ["Block", "is_closer", "is_opener", "read_block", "rpm_macros"]

_OPENER_RE = re.compile(r"\s*macros:\s*", re.IGNORECASE)
_CLOSER_RE = re.compile(r"\s*:macros\s*", re.IGNORECASE)
_MACRO_LINE_RE = re.compile(
    rf"%(?P<name>{NAME})(?:\((?P<params>[^)]*)\))?(?:[ \t\n]+(?P<body>.*))?", re.S
)


@dataclass(frozen=True)
class Block:
    """One ``Macros:`` block: the line of its opener and its lines, each with its number."""

    opener: int
    lines: tuple[tuple[int, str], ...]
    closed: bool

    @property
    def resets(self) -> bool:
        """A first line ``!`` drops the blocks before this one."""
        return bool(self.lines) and self.lines[0][1] == "!"


def is_opener(raw: str) -> bool:
    return _OPENER_RE.fullmatch(raw) is not None


def is_closer(raw: str) -> bool:
    return _CLOSER_RE.fullmatch(raw) is not None


def read_block(lines: Sequence[str], index: int) -> tuple[Block, int]:
    """The block whose ``Macros:`` is ``lines[index]``; and the index after its ``:Macros``
    (or the end of the file: OBS lets a block run to the end, as its config merger writes it)."""
    opener = index + 1
    taken: list[tuple[int, str]] = []
    index += 1
    while index < len(lines):
        if is_closer(lines[index]):
            return Block(opener, tuple(taken), True), index + 1
        taken.append((index + 1, lines[index]))
        index += 1
    return Block(opener, tuple(taken), False), index


def rpm_macros(blocks: Sequence[Block], path: Path | str, warn: Warn) -> dict[str, Macro]:
    """The macros rpm defines from the joined text of ``blocks`` (already cut at a reset)."""
    macros: dict[str, Macro] = {}
    lines = [numbered for block in blocks for numbered in block.lines]
    for number, text in _logical_lines(lines, warn):
        macro = _macro(text, number, path)
        if macro is None:
            continue
        earlier = macros.pop(macro.name, None)
        if earlier is not None:
            warn(
                number,
                1,
                f"macro %{macro.name} is set again (first on line {earlier.line}); "
                "rpm takes this later value, as on OBS",
                "remove the line that should not count",
            )
        macros[macro.name] = macro
    return macros


def _logical_lines(lines: list[tuple[int, str]], warn: Warn) -> list[tuple[int, str]]:
    """Join continued lines as rpm does: the ``\\`` goes, the newline stays."""
    joined: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, text in lines:
        if not current:
            start = number
        continued, text = _continues(text, "\n".join([*current, text]))
        current.append(text)
        if not continued:
            joined.append((start, "\n".join(current)))
            current = []
    if current:
        warn(
            start,
            1,
            "the macro on this line is continued with \\ past the end of its Macros: block",
            "end its last line without \\",
        )
        joined.append((start, "\n".join(current)))
    return joined


def _continues(text: str, so_far: str) -> tuple[bool, str]:
    """Whether the logical line goes on after ``text``, and ``text`` without its ``\\``."""
    stripped = text.rstrip()
    if stripped.endswith("\\") and not stripped.endswith("\\\\"):
        return True, stripped[:-1]
    return _open_braces(so_far) > 0, text


def _open_braces(text: str) -> int:
    """How many ``%{`` and ``%(`` are still open at the end of ``text``."""
    depth, pos = 0, 0
    while pos < len(text):
        pair = text[pos : pos + 2]
        if pair in ("%%", "\\\\") or text[pos] == "\\":
            pos += 2
            continue
        if pair in ("%{", "%("):
            depth += 1
            pos += 2
            continue
        if text[pos] in "})" and depth:
            depth -= 1
        pos += 1
    return depth


def _macro(text: str, number: int, path: Path | str) -> Macro | None:
    """The macro one logical line of the macro file defines; None for a line rpm skips."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    where = Location(path, number, len(text) - len(text.lstrip()) + 1)
    match = _MACRO_LINE_RE.fullmatch(stripped)
    if match is None:
        raise InputError(
            where,
            "a Macros: block line must be %name value; rpm ignores this one",
            hint="start the line with %name (a comment with #), or close the block with :Macros",
        )
    name, params, body = match.group("name", "params", "body")
    if name in CONDITIONAL_WORDS or name in DEFINE_WORDS:
        raise InputError(
            where,
            f"%{name} cannot be honoured inside Macros: (OBS copies it and rpm defines a macro "
            f"named {name!r})",
            hint="put conditionals and %define outside the Macros: block",
        )
    body = (body or "").rstrip()
    if not body:
        raise InputError(
            where, f"macro %{name} has no value, so rpm refuses it", hint=f"write %{name} <value>"
        )
    return Macro(name, body, number, params)
