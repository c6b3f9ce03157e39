"""Dockerfile instructions: the checks and the parts of them the pipeline uses.

Each instruction, continuation lines already joined, is checked for what buildah would refuse
later or build differently from OBS (an unknown keyword, an instruction before the first FROM, a
FROM option other than ``--platform=``, an unclosed quote); FROM, ARG and LABEL lines are kept
as :class:`From`, :class:`Arg` and :class:`Label` for resolving base images and checking labels.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location

#: Dockerfile instructions buildah understands, plus PREFIXEDLABEL, which the OBS label helper
#: service (``docker_label_helper``) turns into LABEL lines before the build.
# fmt: off
INSTRUCTIONS = frozenset((
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    "PREFIXEDLABEL",
))
# fmt: on

_ARG_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STAGE_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Arg:
    name: str
    default: str | None
    line: int
    #: Declared before the first FROM, so FROM lines may use it.
    is_global: bool


@dataclass(frozen=True)
class From:
    image: str
    name: str | None
    line: int
    platform: str | None = None


@dataclass(frozen=True)
class Label:
    key: str
    value: str
    line: int
    #: Written as PREFIXEDLABEL (the label helper service adds the prefix).
    prefixed: bool = False
    #: The ``# labelprefix=`` block this label sits in, if any.
    prefix: str | None = None


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int
    end_line: int


class Instructions:
    """The instructions of one Dockerfile, checked one at a time, in file order."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.args: list[Arg] = []
        self.stages: list[From] = []
        self.labels: list[Label] = []
        self.instructions: list[Instruction] = []
        #: Set by a ``# labelprefix=`` comment, until ``# endlabelprefix``.
        self.label_prefix: str | None = None

    def error(self, line: int, column: int, message: str, hint: str) -> InputError:
        return InputError(Location(self.path, line, column), message, hint=hint)

    def comment(self, stripped: str) -> None:
        """Follow the ``# labelprefix=`` blocks of the label helper service."""
        body = stripped[1:].strip()
        if body.startswith("labelprefix="):
            self.label_prefix = body[len("labelprefix=") :].strip() or None
        elif body == "endlabelprefix":
            self.label_prefix = None

    def add(self, text: str, line: int, end_line: int) -> None:
        """Check the instruction ``text``, read from lines ``line`` to ``end_line``."""
        keyword_text, _, arguments = text.partition(" ")
        if "\t" in keyword_text:
            keyword_text, _, more = keyword_text.partition("\t")
            arguments = f"{more} {arguments}"
        arguments = arguments.strip()
        keyword = keyword_text.upper()
        if keyword not in INSTRUCTIONS:
            close = difflib.get_close_matches(keyword, sorted(INSTRUCTIONS), n=1)
            hint = f"did you mean {close[0]}?" if close else "comments start with #"
            raise self.error(line, 1, f"{keyword_text} is not a Dockerfile instruction", hint)
        if not arguments:
            raise self.error(
                line, 1, f"{keyword} without arguments", f"complete the {keyword} instruction"
            )
        if not self.stages and keyword not in ("ARG", "FROM"):
            raise self.error(
                line, 1, f"{keyword} before the first FROM", "only ARG may come before FROM"
            )
        self.instructions.append(Instruction(keyword, arguments, line, end_line))
        if keyword == "FROM":
            self.from_(arguments, line)
        elif keyword == "ARG":
            self.arg(arguments, line)
        elif keyword in ("LABEL", "PREFIXEDLABEL"):
            self.label(arguments, line, prefixed=keyword == "PREFIXEDLABEL")
        elif keyword == "ONBUILD":
            self.onbuild(arguments, line)

    def from_(self, arguments: str, line: int) -> None:
        words = arguments.split()
        platform = None
        while words and words[0].startswith("--"):
            option = words.pop(0)
            if not option.startswith("--platform="):
                raise self.error(
                    line, 1, f"FROM option {option} is not supported", "only --platform= is"
                )
            platform = option[len("--platform=") :]
        if len(words) == 1:
            name = None
        elif len(words) == 3 and words[1].lower() == "as":
            name = words[2]
            if not _STAGE_NAME_RE.fullmatch(name):
                raise self.error(
                    line,
                    1,
                    f"stage name {name!r} is not valid",
                    "use letters, digits, '_', '.', '-'",
                )
            if any(s.name and s.name.lower() == name.lower() for s in self.stages):
                raise self.error(
                    line, 1, f"stage name {name!r} is used twice", "give each stage its own name"
                )
        else:
            raise self.error(
                line,
                1,
                f"FROM {arguments!r} is not 'image [AS name]'",
                "write FROM <image> or FROM <image> AS <name>",
            )
        self.stages.append(From(words[0], name, line, platform))

    def arg(self, arguments: str, line: int) -> None:
        for word, _ in self.words("ARG", arguments, line):
            name, eq, default = word.partition("=")
            if not _ARG_NAME_RE.fullmatch(name):
                raise self.error(
                    line,
                    0,
                    f"ARG name {name!r} is not valid",
                    "use letters, digits and _, not starting with a digit",
                )
            self.args.append(Arg(name, _unquote(default) if eq else None, line, not self.stages))

    def label(self, arguments: str, line: int, *, prefixed: bool) -> None:
        words = self.words("PREFIXEDLABEL" if prefixed else "LABEL", arguments, line)
        if "=" not in words[0][0]:
            # The legacy form "LABEL key value with spaces": one label, the rest is the value.
            key = _unquote(words[0][0])
            value = arguments[len(words[0][0]) :].strip()
            self.labels.append(Label(key, _unquote(value), line, prefixed, self.label_prefix))
            return
        for word, _ in words:
            key, eq, value = word.partition("=")
            if not eq or not _unquote(key):
                raise self.error(
                    line,
                    0,
                    f"LABEL {word!r} is not key=value",
                    'write LABEL key="value" key2="value 2"',
                )
            label = Label(_unquote(key), _unquote(value), line, prefixed, self.label_prefix)
            self.labels.append(label)

    def onbuild(self, arguments: str, line: int) -> None:
        keyword = arguments.split()[0].upper()
        if keyword not in INSTRUCTIONS or keyword in ("ONBUILD", "FROM", "MAINTAINER"):
            raise self.error(
                line,
                1,
                f"ONBUILD {keyword} is not allowed",
                "ONBUILD takes one ordinary instruction",
            )

    def words(self, keyword: str, text: str, line: int) -> list[tuple[str, int]]:
        def fail(offset: int, message: str) -> None:
            where = text[offset:][:24]
            raise self.error(
                line,
                0,
                f"{keyword} has an {message} at {where!r}",
                "close the quote, or escape it with \\",
            )

        return _split_words(text, fail)


def _split_words(text: str, fail: Callable[[int, str], None]) -> list[tuple[str, int]]:
    """Split on white space outside quotes, keeping quotes and escapes in each word (as the
    Dockerfile key=value forms do); ``fail`` is called for an unterminated quote."""
    words: list[tuple[str, int]] = []
    current: list[str] = []
    start = 0
    quote: str | None = None
    quote_at = 0
    pos = 0
    while pos < len(text):
        char = text[pos]
        if quote is None and char.isspace():
            if current:
                words.append(("".join(current), start))
                current = []
            pos += 1
            continue
        if not current:
            start = pos
        if char == "\\" and quote != "'" and pos + 1 < len(text):
            current.append(text[pos : pos + 2])
            pos += 2
            continue
        if char in "\"'" and quote is None:
            quote, quote_at = char, pos
        elif char == quote:
            quote = None
        current.append(char)
        pos += 1
    if quote is not None:
        fail(quote_at, f"unclosed {quote} quote")
    if current:
        words.append(("".join(current), start))
    return words


def _unquote(word: str) -> str:
    out: list[str] = []
    quote: str | None = None
    pos = 0
    while pos < len(word):
        char = word[pos]
        if char == "\\" and quote != "'" and pos + 1 < len(word):
            out.append(word[pos + 1])
            pos += 2
            continue
        if char in "\"'" and quote is None:
            quote = char
        elif char == quote:
            quote = None
        else:
            out.append(char)
        pos += 1
    return "".join(out)
