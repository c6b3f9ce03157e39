"""Literal, single-pass, structure-preserving placeholder substitution.

The shell services run ``sed "s#%%VAR%%#${VAR}#g"``: a value with ``#`` ends the sed command,
``&`` inserts the match, ``\\`` escapes, a newline adds Dockerfile lines. Here each placeholder
is replaced by its value character for character, in one pass over the original text (a value
containing ``%%X%%`` stays as it is), and a value is refused where it would change the shape of
the file rather than fill a slot in it:

- any control character (newline, CR, NUL, tab, ...): it would add or split lines;
- a value ending in the escape character (``\\``, or the file's ``# escape=`` character), even
  before trailing blanks: it would continue the line into the next instruction, or escape the
  quote that follows;
- ``<<``: a heredoc marker would swallow the following lines;
- in a bare word (unquoted, or in a ``#`` comment such as ``#!BuildTag:``): blanks (they split
  one tag or argument into two) and quotes (they open a string);
- inside ``"..."``: a double quote; inside ``'...'``: a single quote;
- inside a JSON array (``CMD ["..."]``, the exec form): also a backslash, which JSON would read
  as an escape (an invalid one turns the exec form into the shell form);
- an empty value, where it is used (the shell original silently made ``1.2-`` tags from it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location

_DIRECTIVE_RE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S*)\s*")
#: An instruction in exec (JSON array) form, flags such as ``--chown=1:1`` allowed before it.
_JSON_FORM_RE = re.compile(r"\s*[A-Za-z]+\s+(?:--\S+\s+)*\[")

BARE, DOUBLE, SINGLE, JSON = "bare", "double", "single", "json"


@dataclass(frozen=True)
class Substituted:
    text: str
    #: Names whose placeholder occurred (and was replaced), with the count of replacements.
    used: tuple[tuple[str, int], ...]


def escape_char(text: str) -> str:
    """The Dockerfile escape character: ``\\`` unless a leading ``# escape=`` directive says."""
    for line in text.split("\n"):
        match = _DIRECTIVE_RE.fullmatch(line.rstrip("\r"))
        if match is None:
            break
        if match[1].lower() == "escape" and len(match[2]) == 1:
            return match[2]
    return "\\"


def _contexts(line: str, spans: list[tuple[int, int]], escape: str) -> list[str]:
    """Quoting context at the start of each placeholder span, placeholders read as opaque."""
    if line.lstrip().startswith("#"):
        return [BARE] * len(spans)
    quoted = JSON if _JSON_FORM_RE.match(line) else DOUBLE
    result: list[str] = []
    state = BARE
    position = 0
    for start, end in spans:
        index = position
        while index < start:
            char = line[index]
            if char == escape and state != SINGLE:
                index += 2
                continue
            if state == BARE and char in "\"'":
                state = DOUBLE if char == '"' else SINGLE
            elif (state == DOUBLE and char == '"') or (state == SINGLE and char == "'"):
                state = BARE
            index += 1
        result.append(quoted if state == DOUBLE else state)
        position = max(index, end)
    return result


def value_problem(value: str, context: str, escape: str = "\\") -> str | None:
    """Why ``value`` cannot be put in a slot of this quoting ``context``, or None."""
    if value == "":
        return "the value is empty"
    for char in value:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            name = {
                "\n": "a newline",
                "\r": "a carriage return",
                "\0": "a NUL byte",
                "\t": "a tab",
            }.get(char, f"control character U+{ord(char):04X}")
            return f"the value contains {name}, which would change the lines of the file"
    tail = value.rstrip(" ")
    if tail.endswith(("\\", escape)):
        return (
            "the value ends with an escape character, which would continue the line or "
            "escape the character after it"
        )
    if "<<" in value:
        return "the value contains '<<', which would start a heredoc"
    if context == BARE:
        if any(char.isspace() for char in value):
            return "the value contains a space, which would split this word in two"
        if "'" in value or '"' in value:
            return "the value contains a quote, which would open a quoted string here"
    elif context in (DOUBLE, JSON) and '"' in value:
        return "the value contains '\"', which would end the quoted string around it"
    elif context == JSON and "\\" in value:
        return "the value contains a backslash, which JSON would read as an escape"
    elif context == SINGLE and "'" in value:
        return 'the value contains "\'", which would end the quoted string around it'
    return None


def substitute(
    text: str,
    path: Path | str,
    pattern: re.Pattern[str],
    values: Mapping[str, str | None],
    *,
    unknown_is_error: bool,
    hint_missing: str | None = None,
) -> Substituted:
    """Replace every ``pattern`` match whose group 1 names a key of ``values``.

    A name not in ``values`` is an error when ``unknown_is_error`` (else left alone); a name
    whose value is None has no value in this build and is always an error.
    """
    escape = escape_char(text)
    counts: dict[str, int] = {}
    out: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        matches = list(pattern.finditer(line))
        if not matches:
            out.append(line)
            continue
        contexts = _contexts(line, [m.span() for m in matches], escape)
        pieces: list[str] = []
        position = 0
        for match, context in zip(matches, contexts, strict=True):
            name = match[1]
            where = Location(path, number, match.start() + 1)
            if name not in values:
                if unknown_is_error:
                    raise InputError(
                        where, f"placeholder {match[0]} has no value", hint=hint_missing
                    )
                continue
            value = values[name]
            if value is None:
                raise InputError(
                    where, f"placeholder {match[0]} has no value in this build", hint=hint_missing
                )
            problem = value_problem(value, context, escape)
            if problem is not None:
                raise InputError(where, f"refusing to replace {match[0]} with {value!r}: {problem}")
            pieces += [line[position : match.start()], value]
            position = match.end()
            counts[name] = counts.get(name, 0) + 1
        pieces.append(line[position:])
        out.append("".join(pieces))
    return Substituted("\n".join(out), tuple(sorted(counts.items())))
