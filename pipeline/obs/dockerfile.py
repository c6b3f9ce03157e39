"""Dockerfiles as OBS builds them: instructions plus the ``#!`` magic comments of Docker.pm.

The parser accepts unprocessed files: ``%%TAGPREFIX%%`` and ``%RELEASE%`` placeholders are plain
text until the buildtime services have replaced them; image references are only checked where
they are resolved (:func:`resolve_from`) or expanded (:func:`expand_build_tag`).

OBS ignores a ``#!`` comment it does not know; a misspelt ``#!BuildTags:`` would then build an
image with no tag at all, so here an unknown or unsupported magic comment is an error.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location
from pipeline.images.reference import parse_reference

#: Dockerfile instructions buildah understands, plus PREFIXEDLABEL, which the OBS label helper
#: service (``docker_label_helper``) turns into LABEL lines before the build.
# fmt: off
INSTRUCTIONS = frozenset((
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    "PREFIXEDLABEL",
))
# fmt: on
VALUE_MAGIC = (
    "BuildTag",
    "BuildName",
    "BuildVersion",
    "BuildRelease",
    "ExclusiveArch",
    "ExcludeArch",
)
FLAG_MAGIC = ("UseOBSRepositories", "NoSquash")
#: Known to OBS, but they change what is built in ways this pipeline does not reproduce.
UNSUPPORTED_MAGIC = (
    "BcntSyncTag",
    "BuildConstraint",
    "UnorderedRepos",
    "PlusRecommended",
    "Milestone",
    "ArchExclusiveLine",
    "ArchExcludedLine",
    "RemoteAsset",
    "RemoteAssetUrl",
    "ForceMultiVersion",
)
_SINGLE_VALUE_MAGIC = ("BuildName", "BuildVersion", "BuildRelease")

_MAGIC_RE = re.compile(r"#!(?P<name>[A-Za-z]\w*)(?P<colon>\s*:)?(?P<value>.*)")
_ARG_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STAGE_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_PLAIN_VAR_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_PLACEHOLDER_RE = re.compile(r"<([A-Z_]+)>")


@dataclass(frozen=True)
class Magic:
    """One ``#!Name: value`` (or ``#!Flag``) comment."""

    name: str
    value: str
    line: int


@dataclass(frozen=True)
class BuildTag:
    tag: str
    line: int
    column: int


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


@dataclass(frozen=True)
class Dockerfile:
    path: Path | str
    lines: tuple[str, ...]
    magic: tuple[Magic, ...]
    build_tags: tuple[BuildTag, ...]
    build_name: str | None
    build_version: str | None
    build_release: str | None
    use_obs_repositories: bool
    exclusive_arch: tuple[str, ...]
    exclude_arch: tuple[str, ...]
    no_squash: bool
    args: tuple[Arg, ...]
    stages: tuple[From, ...]
    labels: tuple[Label, ...]
    instructions: tuple[Instruction, ...]

    def tags(self) -> tuple[str, ...]:
        return tuple(t.tag for t in self.build_tags)

    def global_args(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if a.is_global)

    def builds_on(self, arch: str) -> bool:
        """Whether ``#!ExclusiveArch``/``#!ExcludeArch`` allow building for ``arch``."""
        if self.exclusive_arch and arch not in self.exclusive_arch:
            return False
        return arch not in self.exclude_arch


def load_dockerfile(path: Path) -> Dockerfile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            path,
            f"cannot read Dockerfile: {exc}",
            hint="check the image directory in pipeline.yaml",
        ) from exc
    return parse_dockerfile(text, path)


def parse_dockerfile(text: str, path: Path | str) -> Dockerfile:
    return _Parser(text, path).parse()


class _Parser:
    def __init__(self, text: str, path: Path | str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.magic: list[Magic] = []
        self.tags: list[BuildTag] = []
        self.args: list[Arg] = []
        self.stages: list[From] = []
        self.labels: list[Label] = []
        self.instructions: list[Instruction] = []
        self.label_prefix: str | None = None

    def error(self, line: int, column: int, message: str, hint: str) -> InputError:
        return InputError(Location(self.path, line, column), message, hint=hint)

    def parse(self) -> Dockerfile:
        self.parser_directives()
        index = 0
        while index < len(self.lines):
            raw = self.lines[index]
            stripped = raw.strip()
            column = len(raw) - len(raw.lstrip()) + 1
            index += 1
            if not stripped:
                continue
            if stripped.startswith("#!"):
                self.magic_comment(stripped, index, column)
            elif stripped.startswith("#"):
                self.comment(stripped)
            else:
                index = self.instruction(index - 1)
        if not self.stages:
            raise self.error(
                0,
                0,
                "the Dockerfile has no FROM",
                "add FROM <image> (OBS files use ARG KUBEVIRTFROM / FROM $KUBEVIRTFROM)",
            )
        return self.result()

    def result(self) -> Dockerfile:
        def single(name: str) -> str | None:
            found = [m.value for m in self.magic if m.name == name]
            return found[0] if found else None

        def words(name: str) -> tuple[str, ...]:
            return tuple(w for m in self.magic if m.name == name for w in m.value.split())

        def flag(name: str) -> bool:
            return any(m.name == name for m in self.magic)

        return Dockerfile(
            path=self.path,
            lines=tuple(self.lines),
            magic=tuple(self.magic),
            build_tags=tuple(self.tags),
            build_name=single("BuildName"),
            build_version=single("BuildVersion"),
            build_release=single("BuildRelease"),
            use_obs_repositories=flag("UseOBSRepositories"),
            exclusive_arch=words("ExclusiveArch"),
            exclude_arch=words("ExcludeArch"),
            no_squash=flag("NoSquash"),
            args=tuple(self.args),
            stages=tuple(self.stages),
            labels=tuple(self.labels),
            instructions=tuple(self.instructions),
        )

    def parser_directives(self) -> None:
        """Only ``# escape=\\`` is accepted: another escape character changes how every
        following line continues, and OBS's own parser only knows the backslash."""
        for number, raw in enumerate(self.lines, 1):
            match = re.fullmatch(r"\s*#\s*(\w+)\s*=\s*(.*?)\s*", raw)
            if match is None or match.group(1).lower() not in ("escape", "syntax", "check"):
                return
            if match.group(1).lower() == "escape" and match.group(2) != "\\":
                raise self.error(
                    number,
                    1,
                    f"escape character {match.group(2)!r} is not supported",
                    "use the default escape character \\",
                )

    # --- comments -------------------------------------------------------------------------

    def comment(self, stripped: str) -> None:
        body = stripped[1:].strip()
        if body.startswith("labelprefix="):
            self.label_prefix = body[len("labelprefix=") :].strip() or None
        elif body == "endlabelprefix":
            self.label_prefix = None

    def magic_comment(self, stripped: str, number: int, column: int) -> None:
        match = _MAGIC_RE.fullmatch(stripped)
        name = match.group("name") if match else stripped[2:].split(":")[0].strip()
        if match is None or name not in VALUE_MAGIC + FLAG_MAGIC:
            if name in UNSUPPORTED_MAGIC:
                raise self.error(
                    number,
                    column,
                    f"#!{name} is not supported by this pipeline",
                    "remove it, or build this image on OBS",
                )
            known = {n.lower(): n for n in VALUE_MAGIC + FLAG_MAGIC}
            close = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.6)
            hint = (
                f"did you mean #!{known[close[0]]}?"
                if close
                else (
                    "known: "
                    + ", ".join(f"#!{n}" for n in VALUE_MAGIC + FLAG_MAGIC)
                    + "; a plain comment is '# text'"
                )
            )
            raise self.error(number, column, f"unknown OBS magic comment #!{name}", hint)
        value = match.group("value").strip()
        value_column = (
            column
            + match.start("value")
            + (len(match.group("value")) - len(match.group("value").lstrip()))
        )
        if name in FLAG_MAGIC:
            if match.group("colon") or value:
                raise self.error(
                    number, column, f"#!{name} takes no value", f"write the line as just #!{name}"
                )
            self.magic.append(Magic(name, "", number))
            return
        if not match.group("colon"):
            raise self.error(
                number, column, f"#!{name} needs a ':' before its value", f"write #!{name}: <value>"
            )
        if not value:
            what = "tag" if name == "BuildTag" else "value"
            raise self.error(
                number,
                column,
                f"#!{name}: with no {what}",
                f"write #!{name}: <{what}>, or remove the line",
            )
        if name in _SINGLE_VALUE_MAGIC:
            if len(value.split()) != 1:
                raise self.error(
                    number,
                    value_column,
                    f"#!{name}: takes one word, got {value!r}",
                    "remove the spaces",
                )
            earlier = [m.line for m in self.magic if m.name == name]
            if earlier:
                raise self.error(
                    number, column, f"#!{name}: is already set on line {earlier[0]}", "keep one"
                )
        if name == "BuildTag":
            for token in re.finditer(r"\S+", value):
                self.tags.append(BuildTag(token.group(0), number, value_column + token.start()))
        self.magic.append(Magic(name, value, number))

    # --- instructions ---------------------------------------------------------------------

    def instruction(self, index: int) -> int:
        """Read one instruction starting at ``self.lines[index]``; returns the next index."""
        start = index + 1
        text = self.lines[index]
        index += 1
        last = start
        while re.search(r"\\[ \t]*$", text):
            text = re.sub(r"\\[ \t]*$", "", text)
            while index < len(self.lines) and (
                not self.lines[index].strip() or self.lines[index].lstrip().startswith("#")
            ):
                if self.lines[index].lstrip().startswith("#!"):
                    raise self.error(
                        index + 1,
                        1,
                        "OBS magic comment inside a continued instruction",
                        "move it above the instruction",
                    )
                index += 1
            if index >= len(self.lines):
                raise self.error(
                    last,
                    0,
                    "the last instruction ends with \\ but the file ends",
                    "remove the trailing \\ or add the missing line",
                )
            text += self.lines[index]
            index += 1
            last = index
        self.dispatch(text.strip(), start, index)
        return index

    def dispatch(self, text: str, line: int, end_line: int) -> None:
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


# --- resolving FROM and tags -------------------------------------------------------------------


class _Unset(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def substitute(text: str, lookup: Callable[[str], str | None]) -> str:
    """Expand ``$X``, ``${X}``, ``${X:-word}`` and ``${X:+word}`` as Dockerfile FROM lines do.
    ``lookup`` returns None for a variable without value; a plain reference to such a variable
    raises ``ValueError`` naming it (an unset FROM would otherwise build on an empty name)."""
    try:
        return _substitute(text, lookup)
    except _Unset as exc:
        raise ValueError(exc.name) from exc


def _substitute(text: str, lookup: Callable[[str], str | None]) -> str:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text.startswith("\\$", pos):
            out.append("$")
            pos += 2
            continue
        if text.startswith("${", pos):
            end = _closing_brace(text, pos + 2)
            out.append(_braced(text[pos + 2 : end], lookup))
            pos = end + 1
            continue
        plain = _PLAIN_VAR_RE.match(text, pos)
        if plain:
            out.append(_required(plain.group(1), lookup))
            pos = plain.end()
            continue
        out.append(text[pos])
        pos += 1
    return "".join(out)


def _closing_brace(text: str, pos: int) -> int:
    depth = 1
    while pos < len(text):
        if text.startswith("${", pos):
            depth += 1
            pos += 2
            continue
        if text[pos] == "}":
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    raise ValueError("${ without a closing }")


def _braced(inner: str, lookup: Callable[[str], str | None]) -> str:
    form = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?::([-+])(.*))?", inner, re.S)
    if form is None:
        raise ValueError(
            f"${{{inner}}} is not a supported substitution (use $X, ${{X}}, ${{X:-default}} "
            "or ${X:+alt})"
        )
    name, op, word = form.groups()
    if op is None:
        return _required(name, lookup)
    value = lookup(name) or ""
    if op == "-":
        return value if value else _substitute(word, lookup)
    return _substitute(word, lookup) if value else ""


def _required(name: str, lookup: Callable[[str], str | None]) -> str:
    value = lookup(name)
    if value is None:
        raise _Unset(name)
    return value


def resolve_from(df: Dockerfile, build_args: Mapping[str, str]) -> list[str]:
    """The image of each FROM, in order, with build args (then ARG defaults) substituted.

    A FROM naming an earlier stage, or ``scratch``, stays as written; anything else must be a
    valid image reference once resolved."""
    declared = {a.name: a for a in df.global_args()}

    def lookup(name: str) -> str | None:
        if name in build_args and name in declared:
            return build_args[name]
        arg = declared.get(name)
        return arg.default if arg else None

    images: list[str] = []
    stage_names: set[str] = set()
    for stage in df.stages:
        where = Location(df.path, stage.line)
        try:
            image = _substitute(stage.image, lookup)
        except _Unset as exc:
            if exc.name not in declared:
                raise InputError(
                    where,
                    f"FROM uses ${exc.name}, which no ARG before the first FROM declares",
                    hint=f"add ARG {exc.name} above the first FROM",
                ) from None
            raise InputError(
                where,
                f"FROM needs build arg {exc.name}, which neither the "
                f"build args nor the ARG {exc.name} default set",
                hint=f"add 'BuildFlags: dockerarg:{exc.name}=<image>' to the "
                f"target's prjconf, or give ARG {exc.name} a default",
            ) from None
        except ValueError as exc:
            raise InputError(
                where, f"FROM {stage.image}: {exc}", hint="simplify the FROM line"
            ) from None
        if image.lower() not in stage_names and image != "scratch":
            try:
                parse_reference(image)
            except ValueError as exc:
                raise InputError(
                    where,
                    f"FROM resolves to {image!r}, not a valid image reference: {exc}",
                    hint="fix the FROM line or the build arg that feeds it",
                ) from None
        images.append(image)
        if stage.name:
            stage_names.add(stage.name.lower())
    return images


def expand_build_tag(tag: str, version: str | None, release: str | None) -> str:
    """Fill ``<VERSION>`` and ``<RELEASE>`` in a ``#!BuildTag:`` as OBS does. Raises
    ``ValueError`` for another ``<WORD>`` or for a placeholder whose value is None."""
    values = {"VERSION": version, "RELEASE": release}

    def fill(match: re.Match[str]) -> str:
        word = match.group(1)
        if word not in values:
            raise ValueError(f"unknown placeholder <{word}> in build tag {tag!r}")
        value = values[word]
        if value is None:
            raise ValueError(f"build tag {tag!r} needs <{word}>, which is not known")
        return value

    return _PLACEHOLDER_RE.sub(fill, tag)
