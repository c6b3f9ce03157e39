"""Env files (``KEY=value`` lines), parsed, never sourced.

The shell original ``source``s the meta file, so any shell code in it runs inside the build.
Here the file is data: only the forms below are accepted, and every other line is an error
naming the file and line. The accepted forms mean the same to ``/bin/sh`` as they do here::

    #!/bin/sh                 first line: comment, as any line starting with '#'
    # comment
    REGISTRY=registry.example.org
    export TAGPREFIX=kubevirt
    LABELPREFIX='org.opensuse.kubevirt'
    PKG_VERSION="1.2.3"

Refused: ``$`` expansions, backticks, backslashes, command separators (``;`` ``&`` ``|``),
redirections, an unquoted space (``A=b c`` would run ``c``), a quote left open, text after a
closing quote, control characters, a key that is not a shell name, and a key set twice.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location

KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN_RE = re.compile(r"(?P<export>export[ \t]+)?(?P<key>[^=]*)=(?P<rest>.*)")
#: Characters a bare (unquoted) value may not hold: /bin/sh would give them a meaning.
_BARE_SPECIAL = set(" \t'\"\\$`;&|<>()~")
_HINT = "env files hold KEY=value lines only; they are parsed, never run by a shell"


@dataclass(frozen=True)
class EnvEntry:
    key: str
    value: str
    line: int


@dataclass(frozen=True)
class EnvFile:
    path: Path
    entries: tuple[EnvEntry, ...]

    def as_dict(self) -> dict[str, str]:
        return {entry.key: entry.value for entry in self.entries}

    def line_of(self, key: str) -> int:
        for entry in self.entries:
            if entry.key == key:
                return entry.line
        return 0


def _control_char(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp") and char != "\t":
            return char
    return None


def parse_value(rest: str, where: Location | None) -> str:
    """The value of ``KEY=rest`` as ``/bin/sh`` would assign it, or an error if the shell
    would do more than assign (expand, run, redirect)."""

    def fail(message: str) -> InputError:
        return InputError(where, message, hint=_HINT)

    if rest[:1] in ("'", '"'):
        quote = rest[0]
        end = rest.find(quote, 1)
        if end < 0:
            raise fail(f"unbalanced {quote} quote")
        value, after = rest[1:end], rest[end + 1 :]
        if after.strip():
            raise fail(f"unexpected text after the closing quote: {after.strip()!r}")
        if quote == '"':
            for char in "$`\\":
                if char in value:
                    raise fail(
                        f"{char!r} inside double quotes is shell expansion; "
                        "use single quotes for a literal value"
                    )
        return value
    value = rest.rstrip(" \t")
    for char in value:
        if char in (" ", "\t"):
            raise fail(
                f"unquoted space in value {value!r}: the shell would run the rest as a command"
            )
        if char in _BARE_SPECIAL:
            what = "command substitution" if char in "`(" else "shell syntax"
            if value.startswith("$(") or char == "$":
                what = "a shell expansion"
            raise fail(
                f"{char!r} in value {value!r} is {what}; quote the value with '...' "
                "if it is meant literally"
            )
    return value


def parse_env(text: str, path: Path | str) -> EnvFile:
    """Parse env-file text; ``path`` is used in messages."""
    path = Path(path)
    entries: list[EnvEntry] = []
    seen: dict[str, int] = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        where = Location(path, number)
        bad = _control_char(line)
        if bad is not None:
            name = "carriage return (CRLF line ending?)" if bad == "\r" else f"U+{ord(bad):04X}"
            raise InputError(where, f"control character {name} in env file", hint=_HINT)
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        match = _ASSIGN_RE.fullmatch(stripped)
        if match is None:
            raise InputError(where, f"not a KEY=value line: {stripped[:60]!r}", hint=_HINT)
        key = match["key"]
        if not KEY_RE.fullmatch(key):
            raise InputError(
                where,
                f"invalid variable name {key!r}",
                hint="a name is [A-Za-z_][A-Za-z0-9_]*, with no space before '='",
            )
        if key in seen:
            raise InputError(
                where,
                f"{key} is set twice (first on line {seen[key]})",
                hint="set each variable once",
            )
        seen[key] = number
        entries.append(EnvEntry(key, parse_value(match["rest"], where), number))
    return EnvFile(path, tuple(entries))


def load_env(path: Path | str) -> EnvFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"env file is not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read env file: {exc.strerror}") from None
    return parse_env(text, path)
