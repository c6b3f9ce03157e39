"""The ``Keyword: value`` lines of a prjconf, with the meaning OBS's ``read_config`` gives them.

Each line that counts (after expansion and conditionals) is split into words as OBS splits it:
the first word, lower-cased, must be a known keyword followed by its colon. Then a list keyword
adds, removes (``!word``) or clears (``!*``) words; ``Substitute:``/``FileProvides:`` set or
remove one key; single-valued keywords take the last line. OBS warns about an unknown keyword
and ignores it, and ignores ``BuildFlags:foo`` and ``BuildFlags :foo`` (no space after the
colon, or one before it) without a word: each is refused here, with the fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from pipeline.core.errors import InputError, Location
from pipeline.obs.notice import Notice
from pipeline.obs.prjconf_expand import Macro, Scope, Warn

__all__ = ["DEFAULT_RELEASE", "KNOWN_DIRECTIVES", "Directive", "Directives", "Found", "Notice"]

#: OBS's ``Release:`` when a prjconf has none.
DEFAULT_RELEASE = "<CI_CNT>.<B_CNT>"

#: Directive names OBS's ``read_config`` understands, lower case -> spelling used here.
# fmt: off
_DIRECTIVE_NAMES = (
    "Preinstall", "VMinstall", "Required", "Support", "Keep", "Prefer", "Ignore", "Conflict",
    "Runscripts", "ExpandFlags", "BuildFlags", "PublishFlags", "RepoURL", "RegistryURL",
    "AssetsURL", "OnlyNative", "AlsoNative", "IgnoreRebuild", "Substitute", "FileProvides",
    "ExportFilter", "PublishFilter", "Optflags", "Order", "Repotype", "Type", "BuildEngine",
    "Binarytype", "Patterntype", "Release", "CiCntStart", "ReleasePrg", "ReleaseSuffix",
    "ChangeTarget", "Target", "HostArch", "Constraint", "SingleExport", "FromScratch", "DistMacro",
)
_LIST_KEYWORDS = frozenset((
    "preinstall", "vminstall", "required", "support", "keep", "prefer", "ignore", "conflict",
    "runscripts", "expandflags", "buildflags", "publishflags", "repourl", "registryurl",
    "assetsurl", "onlynative", "alsonative", "ignorerebuild",
))
_UNIFIED = frozenset((
    "preinstall", "vminstall", "required", "support", "keep", "runscripts", "repotype",
    "patterntype", "ignorerebuild",
))
# fmt: on
KNOWN_DIRECTIVES: Mapping[str, str] = MappingProxyType({n.lower(): n for n in _DIRECTIVE_NAMES})
_TYPE_FROM_PREINSTALL = (
    ("rpm", "spec"),
    ("debianutils", "dsc"),
    ("pacman", "arch"),
    ("apk-tools", "apk"),
)

_RELEASE_TOKEN_RE = re.compile(r"<[^<>]*>?|[^<>]+|>")
_RELEASE_LITERAL_RE = re.compile(r"[A-Za-z0-9._+~^]+")
_DOCKERARG_RE = re.compile(r"dockerarg:(.*?)=(.*)", re.S)
_OBS_IGNORES = "OBS ignores this line"


@dataclass(frozen=True)
class Directive:
    """One ``Name: value`` line, kept verbatim (after macro expansion)."""

    name: str
    value: str
    line: int


@dataclass(frozen=True)
class Found:
    """What the keywords of a whole file add up to."""

    directives: tuple[Directive, ...]
    all_build_flags: tuple[str, ...]
    build_flags: tuple[str, ...]
    docker_args: dict[str, str]
    docker_arg_lines: dict[str, int]
    release_words: tuple[str, ...]
    release_template: str | None
    release_line: int
    type: str
    lists: dict[str, tuple[str, ...]]
    substitute: dict[str, tuple[str, ...]]
    dist_macros: dict[str, Macro] = field(default_factory=dict)


class Directives:
    """Collects the keywords of the lines that count, in file order."""

    def __init__(self, path: Path | str, warn: Warn) -> None:
        self.path = path
        self.warn = warn
        self.directives: list[Directive] = []
        #: Each list keyword's words, each with the line that added it.
        self.lists: dict[str, list[tuple[str, int]]] = {}
        self.keyed: dict[str, dict[str, tuple[str, ...]]] = {"substitute": {}, "fileprovides": {}}
        self.single: dict[str, Directive] = {}
        self.dist_macros: dict[str, Macro] = {}

    def error(self, line: int, column: int, message: str, hint: str) -> InputError:
        return InputError(Location(self.path, line, column), message, hint=hint)

    def line(self, text: str, number: int, column: int) -> None:
        """The keyword line ``text`` (already expanded) of line ``number``."""
        words = text.split()
        if not words:
            return
        name = self.keyword(words, number, column)
        value = text.strip()[len(words[0]) :].strip()
        self.directives.append(Directive(name, value, number))
        key = name.lower()
        if key in _LIST_KEYWORDS:
            self.list_words(key, words[1:], number, column)
        elif key in self.keyed:
            self.keyed_words(key, words[1:])
        elif key == "distmacro":
            self.dist_macro(value, number, column)
        elif key == "fromscratch" and len(self.directives) > 1:
            raise self.error(
                number, column, "FromScratch: must come first", "OBS rejects it too: move it up"
            )
        else:
            self.single_value(key, name, words[1:], number)

    def keyword(self, words: list[str], number: int, column: int) -> str:
        """The known keyword ``words`` start with; refuses what OBS would ignore."""
        first = words[0]
        if first.startswith("%"):
            raise self.error(
                number,
                column,
                f"{first} is not a prjconf keyword; {_OBS_IGNORES}",
                "only %define, %global, %undefine and %if/%ifarch/%ifos/%elif/%else/%endif "
                "may start a line; rpm macros go in a Macros: block",
            )
        name = KNOWN_DIRECTIVES.get(first[:-1].lower()) if first.endswith(":") else None
        if name is not None:
            return name
        written, _, rest = first.partition(":")
        known = KNOWN_DIRECTIVES.get(written.lower())
        if known and (rest or (len(words) > 1 and words[1].startswith(":"))):
            spacing = "no space after" if rest else "a space before"
            raise self.error(
                number,
                column,
                f"{_OBS_IGNORES}: {written} has {spacing} its colon",
                f"write {known}: <value>",
            )
        if ":" not in first:
            raise self.error(
                number,
                column,
                f"not a prjconf directive: {' '.join(words)[:40]}; {_OBS_IGNORES}",
                "write Name: value, a %define, or a # comment",
            )
        raise self.error(
            number, column, f"unknown prjconf directive {first} ({_OBS_IGNORES})", close(written)
        )

    def check_name(self, stripped: str, number: int, column: int) -> None:
        """A line of a branch that is not taken: OBS does not read it, but a misspelt keyword
        there would be a surprise once the branch is taken."""
        first = stripped.split(None, 1)[0]
        if not first.endswith(":") or first.startswith("%"):
            return
        written = first[:-1]
        if written.lower() not in KNOWN_DIRECTIVES and re.fullmatch(r"[A-Za-z]+", written):
            self.warn(
                number,
                column,
                f"unknown prjconf directive {first} in a branch not taken here; OBS would "
                "ignore it where the branch is taken",
                close(written),
            )

    def list_words(self, key: str, words: list[str], number: int, column: int) -> None:
        if not words:
            raise self.error(
                number, column, f"{KNOWN_DIRECTIVES[key]}: with no word; {_OBS_IGNORES}",
                "write a value, or remove the line",
            )  # fmt: skip
        current = self.lists.setdefault(key, [])
        for word in words:
            if word == "!*":
                current.clear()
            elif word.startswith("!"):
                current[:] = [(w, n) for w, n in current if w != word[1:]]
            else:
                current.append((word, number))

    def keyed_words(self, key: str, words: list[str]) -> None:
        if not words:
            return
        table = self.keyed[key]
        if words[0] == "!*":
            table.clear()
        elif words[0].startswith("!"):
            table.pop(words[0][1:], None)
        else:
            table[words[0]] = tuple(words[1:])

    def single_value(self, key: str, name: str, words: list[str], number: int) -> None:
        earlier = self.single.get(key)
        if earlier is not None and key == "release":
            self.warn(
                number,
                1,
                f"Release: is set again (first on line {earlier.line}); OBS takes this later one",
                "keep one Release: line",
            )
        self.single[key] = Directive(name, " ".join(words), number)

    def dist_macro(self, value: str, number: int, column: int) -> None:
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\(([^)]*)\))?\s+(.*)", value, re.S)
        if match is None:
            raise self.error(
                number, column, f"DistMacro: {value!r} is not 'name value'; {_OBS_IGNORES}",
                "write DistMacro: name value",
            )  # fmt: skip
        name, params, body = match.groups()
        self.dist_macros[name] = Macro(name, body, number, params)

    def finish(self, macros: Mapping[str, Macro], scope: Scope) -> Found:
        """Everything the file's keywords add up to; ``macros`` are its ``Macros:`` blocks."""
        flags = self.lists.get("buildflags", [])
        args, arg_lines = self.docker_args(flags)
        words = tuple(self.single["release"].value.split()) if "release" in self.single else ()
        template = self.release_template(words, macros, scope) if words else None
        lists = {
            key: tuple(_unify([w for w, _ in found]) if key in _UNIFIED else [w for w, _ in found])
            for key, found in self.lists.items()
        }
        return Found(
            directives=tuple(self.directives),
            all_build_flags=tuple(w for w, _ in flags),
            build_flags=tuple(w for w, _ in flags if not w.startswith("dockerarg:")),
            docker_args=args,
            docker_arg_lines=arg_lines,
            release_words=words,
            release_template=template,
            release_line=self.single["release"].line if "release" in self.single else 0,
            type=_recipe_type(self.single, lists),
            lists=lists,
            substitute={k: tuple(_unify(v)) for k, v in self.keyed["substitute"].items()},
            dist_macros=self.dist_macros,
        )

    def docker_args(self, flags: list[tuple[str, int]]) -> tuple[dict[str, str], dict[str, int]]:
        """``dockerarg:NAME=value`` flags as OBS's Docker.pm collects them: the last one wins."""
        args: dict[str, str] = {}
        lines: dict[str, int] = {}
        for flag, number in flags:
            if not flag.startswith("dockerarg:"):
                continue
            match = _DOCKERARG_RE.fullmatch(flag)
            if match is None or not match.group(1):
                raise self.error(
                    number,
                    0,
                    f"{flag} names no build arg and value, so OBS ignores it",
                    "write BuildFlags: dockerarg:NAME=value",
                )
            key, value = match.groups()
            if key in args and args[key] != value:
                self.warn(
                    number,
                    0,
                    f"dockerarg:{key} is set again (first on line {lines[key]}); OBS takes this "
                    "later value",
                    "remove the line that should not count",
                )
            args[key], lines[key] = value, number
        return args, lines

    def release_template(
        self, words: tuple[str, ...], macros: Mapping[str, Macro], scope: Scope
    ) -> str:
        """The template of an rpm build: the ``spec:`` word, else the first (OBS's scheduler
        picks a ``TYPE:`` word for a build of that type). A macro left in it is filled from the
        ``Macros:`` blocks, as rpm fills it in the spec's ``Release:`` on OBS."""
        number = self.single["release"].line
        chosen = words[0]
        for word in words[1:]:
            if word.startswith("spec:"):
                chosen = word[len("spec:") :]
        if "%" in chosen:
            rpm_scope = Scope(self.path, {n: m.value for n, m in macros.items()}, self.warn)
            rpm_scope.known.update(scope.known)
            chosen = rpm_scope.expand(chosen, number, 1)
        _check_release_template(chosen, Location(self.path, number, 0))
        return chosen


def _recipe_type(single: Mapping[str, Directive], lists: Mapping[str, tuple[str, ...]]) -> str:
    """``Type:``, else what OBS guesses from ``Preinstall:``."""
    if "type" in single and single["type"].value:
        return single["type"].value.split()[0]
    preinstall = lists.get("preinstall", ())
    return next((kind for word, kind in _TYPE_FROM_PREINSTALL if word in preinstall), "UNDEFINED")


def _unify(words: list[str] | tuple[str, ...]) -> list[str]:
    """The words without repeats, first occurrence kept; ``name=`` counts as ``name``."""
    return list(dict.fromkeys(w[:-1] if w.endswith("=") else w for w in words))


def close(written: str) -> str:
    """A hint naming the known directive closest to ``written``."""
    found = difflib.get_close_matches(written.lower(), list(KNOWN_DIRECTIVES), n=1)
    if found:
        return f"did you mean {KNOWN_DIRECTIVES[found[0]]}:?"
    return "known: " + ", ".join(KNOWN_DIRECTIVES.values())


def _check_release_template(value: str, where: Location) -> None:
    """Refuse a ``Release:`` template rpm would not accept once filled in, or one with a
    ``<WORD>`` this pipeline does not fill: OBS would build it, this pipeline cannot."""
    hint = "write e.g. Release: <CI_CNT>.<B_CNT> (only <CI_CNT>, <B_CNT>, letters, digits, ._+~)"
    why = "cannot be honoured here"
    offset = 0
    for token in _RELEASE_TOKEN_RE.findall(value):
        at = Location(where.path, where.line, where.column + offset if where.column else 0)
        if token.startswith("<") and not token.endswith(">"):
            raise InputError(at, f"Release: template has an unclosed {token}", hint=hint)
        if token.startswith("<") and token not in ("<CI_CNT>", "<B_CNT>"):
            raise InputError(
                at, f"Release: template uses {token}, which this pipeline does not fill ({why})",
                hint=hint,
            )  # fmt: skip
        if not token.startswith("<") and not _RELEASE_LITERAL_RE.fullmatch(token):
            raise InputError(
                at, f"Release: template has {token!r}, which is not an rpm release ({why})",
                hint=hint,
            )  # fmt: skip
        offset += len(token)
