"""OBS project configuration ("prjconf"): the subset this pipeline reads, parsed strictly.

A prjconf is what OBS's ``Build.pm`` ``read_config`` reads: ``Name: value`` directives, ``Macros:``
... ``:Macros`` blocks copied verbatim into the build root's rpm macros, top-level ``%define`` /
``%global`` that only apply while the prjconf itself is read, and rpm-style conditionals.

OBS warns about an unknown keyword and carries on; a typo there silently changes a build, so here
every line must be understood or it is an :class:`InputError` naming the line.

Conditionals: a small, exact subset of rpm's is evaluated, because real project configs select
flags per architecture or repository: ``%ifarch``/``%ifnarch`` (against ``_target_cpu``),
``%if EXPR`` where ``EXPR`` is an integer, ``!EXPR``, or a comparison of two integers
(``== != < > <= >=``) or of two double-quoted strings (``== !=``), ``%else`` and ``%endif``,
nested. ``%elif`` and ``&&``/``||`` are refused.

Macro references in directive values, ``%define`` bodies and ``%if`` expressions are expanded
from the ``%define``\\s seen so far and the predefined macros: ``%name``, ``%{name}``,
``%{?name}`` (empty when undefined) and ``%%``. Anything else is refused. The ``Macros:`` blocks
are not expanded: rpmbuild expands them at build time, as on OBS.
"""

from __future__ import annotations

import difflib
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from pipeline.core.errors import InputError, Location

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
# fmt: on
KNOWN_DIRECTIVES: Mapping[str, str] = MappingProxyType({n.lower(): n for n in _DIRECTIVE_NAMES})

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NAME_RE = re.compile(_NAME)
_DIRECTIVE_RE = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_-]*)\s*:(?P<value>.*)")
_MACRO_LINE_RE = re.compile(rf"%(?P<name>{_NAME})(?P<params>\([^)]*\))?(?:[ \t]+(?P<body>.*))?")
_DOCKER_ARG_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RELEASE_TOKEN_RE = re.compile(r"<[^<>]*>?|[^<>]+|>")
_RELEASE_LITERAL_RE = re.compile(r"[A-Za-z0-9._+~^]+")
_CONDITIONAL_WORDS = frozenset(
    {"if", "ifarch", "ifnarch", "ifos", "ifnos", "else", "elif", "elifarch", "elifos", "endif"}
)
_DEFINE_WORDS = frozenset({"define", "global", "undefine"})
_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


@dataclass(frozen=True)
class Macro:
    """One macro: from a ``Macros:`` block, or a top-level ``%define``/``%global``."""

    name: str
    value: str
    line: int


@dataclass(frozen=True)
class Directive:
    """One ``Name: value`` line, kept verbatim (after ``%define`` expansion)."""

    name: str
    value: str
    line: int


@dataclass(frozen=True)
class Prjconf:
    path: Path | str
    macros: Mapping[str, Macro]
    defines: Mapping[str, Macro]
    docker_args: Mapping[str, str]
    #: Line of each ``dockerarg:`` key, for messages about a build arg.
    docker_arg_lines: Mapping[str, int]
    #: Every BuildFlags token that is not a ``dockerarg:``, in file order.
    build_flags: tuple[str, ...]
    release_template: str | None
    release_line: int
    #: Every directive of an active branch, in file order, including BuildFlags and Release.
    directives: tuple[Directive, ...] = field(default=())

    def macro(self, name: str) -> str | None:
        found = self.macros.get(name)
        return None if found is None else found.value

    def directive_values(self, name: str) -> tuple[str, ...]:
        """The values of every directive called ``name`` (any case), in file order."""
        key = name.lower()
        return tuple(d.value for d in self.directives if d.name.lower() == key)

    def render_release(self, ci_cnt: int, b_cnt: int) -> str:
        """The rpm Release for these counters; OBS's default template when none is set."""
        if ci_cnt < 0 or b_cnt < 0:
            raise ValueError(f"release counters must not be negative: {ci_cnt}, {b_cnt}")
        template = self.release_template or DEFAULT_RELEASE
        return template.replace("<CI_CNT>", str(ci_cnt)).replace("<B_CNT>", str(b_cnt))

    def rpm_defines(self) -> list[tuple[str, str]]:
        """``(name, body)`` for ``rpmbuild --define``: the ``Macros:`` blocks, as OBS puts them
        into the build root. Top-level ``%define``\\s are left out on purpose: on OBS they only
        steer the reading of the prjconf, they never reach rpmbuild."""
        return [(m.name, m.value) for m in self.macros.values()]


def load_prjconf(path: Path, *, predefined: Mapping[str, str] | None = None) -> Prjconf:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            path, f"cannot read project config: {exc}", hint="check the path in pipeline.yaml"
        ) from exc
    return parse_prjconf(text, path, predefined=predefined)


def host_arch() -> str:
    machine = platform.machine().lower()
    return _ARCH_ALIASES.get(machine, machine)


def parse_prjconf(
    text: str, path: Path | str, *, predefined: Mapping[str, str] | None = None
) -> Prjconf:
    """Parse a prjconf. ``predefined`` are macros known before the first line, e.g.
    ``_target_cpu`` (default: the host's arch) or ``_repository``; they are visible to ``%if``
    and expansion but are not part of :attr:`Prjconf.defines`."""
    return _Parser(text, path, predefined).parse()


@dataclass
class _Branch:
    line: int
    active: bool
    parent_active: bool
    seen_else: bool = False


class _Parser:
    def __init__(self, text: str, path: Path | str, predefined: Mapping[str, str] | None) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.known: dict[str, str] = {"_target_cpu": host_arch(), "_target_os": "linux"}
        self.known.update(predefined or {})
        self.defines: dict[str, Macro] = {}
        self.macros: dict[str, Macro] = {}
        self.docker_args: dict[str, str] = {}
        self.docker_arg_lines: dict[str, int] = {}
        self.build_flags: list[str] = []
        self.directives: list[Directive] = []
        self.release: Directive | None = None
        self.branches: list[_Branch] = []

    def error(self, line: int, column: int, message: str, hint: str) -> InputError:
        return InputError(Location(self.path, line, column), message, hint=hint)

    @property
    def active(self) -> bool:
        return not self.branches or self.branches[-1].active

    def parse(self) -> Prjconf:
        index = 0
        while index < len(self.lines):
            number = index + 1
            raw = self.lines[index]
            stripped = raw.strip()
            column = len(raw) - len(raw.lstrip()) + 1
            index += 1
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith("%"):
                self.percent_line(stripped, number, column)
            elif stripped.lower() == "macros:":
                index = self.macros_block(index, number)
            elif stripped.lower() == ":macros":
                raise self.error(
                    number,
                    column,
                    ":Macros without a Macros: line before it",
                    "open the block with a line holding only Macros:",
                )
            else:
                self.directive(stripped, number, column)
        if self.branches:
            raise self.error(
                self.branches[-1].line,
                1,
                "%if is never closed",
                "add %endif after the conditional lines",
            )
        return Prjconf(
            path=self.path,
            macros=MappingProxyType(self.macros),
            defines=MappingProxyType(self.defines),
            docker_args=MappingProxyType(self.docker_args),
            docker_arg_lines=MappingProxyType(self.docker_arg_lines),
            build_flags=tuple(self.build_flags),
            release_template=self.release.value if self.release else None,
            release_line=self.release.line if self.release else 0,
            directives=tuple(self.directives),
        )

    # --- % lines: conditionals and defines -------------------------------------------------

    def percent_line(self, stripped: str, number: int, column: int) -> None:
        match = re.match(rf"%({_NAME})(.*)", stripped)
        word = match.group(1) if match else ""
        rest = match.group(2).strip() if match else ""
        if word in _CONDITIONAL_WORDS:
            self.conditional(word, rest, number, column)
        elif word in _DEFINE_WORDS:
            if self.active:
                self.define(word, rest, number, column)
        else:
            raise self.error(
                number,
                column,
                f"unsupported directive %{word or stripped[1:2]}",
                "only %define, %global, %undefine, %if, %ifarch, %ifnarch, %else "
                "and %endif may start a line; rpm macros go in a Macros: block",
            )

    def conditional(self, word: str, rest: str, number: int, column: int) -> None:
        if word == "endif":
            if not self.branches:
                raise self.error(number, column, "%endif without %if", "remove the %endif")
            self.branches.pop()
            return
        if word == "else":
            if not self.branches or self.branches[-1].seen_else:
                what = "%else without %if" if not self.branches else "second %else in one %if"
                raise self.error(number, column, what, "each %if takes at most one %else")
            branch = self.branches[-1]
            branch.seen_else = True
            branch.active = branch.parent_active and not branch.active
            return
        if word not in ("if", "ifarch", "ifnarch"):
            raise self.error(
                number,
                column,
                f"%{word} is not supported",
                "use nested %if/%else/%endif, %ifarch or %ifnarch",
            )
        parent = self.active
        value = False
        if parent:
            if word == "if":
                value = self.condition(rest, number, column)
            else:
                arches = self.expand(rest, number, column).split()
                if not arches:
                    raise self.error(
                        number,
                        column,
                        f"%{word} names no architecture",
                        f"write e.g. %{word} x86_64 aarch64",
                    )
                cpu = self.lookup("_target_cpu", number, column)
                value = (cpu in arches) == (word == "ifarch")
        self.branches.append(_Branch(number, parent and value, parent))

    def condition(self, rest: str, number: int, column: int) -> bool:
        text = self.expand(rest, number, column).strip()
        hint = (
            'write an integer, !EXPR, or compare two integers or two "quoted" strings; '
            "&& and || are not supported"
        )
        if not text:
            raise self.error(number, column, "%if without a condition", hint)
        if text.startswith("!"):
            return not self.condition(text[1:], number, column)
        if re.fullmatch(r"-?\d+", text):
            return int(text) != 0
        compare = re.fullmatch(r'(-?\d+|"[^"]*")\s*(==|!=|<=|>=|<|>)\s*(-?\d+|"[^"]*")', text)
        if compare is None:
            raise self.error(number, column, f"unsupported %if expression: {text}", hint)
        left, op, right = compare.groups()
        if left.startswith('"') != right.startswith('"'):
            raise self.error(number, column, f"%if compares a string with a number: {text}", hint)
        if left.startswith('"'):
            if op not in ("==", "!="):
                raise self.error(
                    number, column, f"strings can only be compared with == or !=: {text}", hint
                )
            return (left == right) == (op == "==")
        a, b = int(left), int(right)
        results = {"==": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}
        return results[op]

    def define(self, word: str, rest: str, number: int, column: int) -> None:
        parts = rest.split(None, 1)
        if not parts or not _NAME_RE.fullmatch(parts[0]):
            raise self.error(
                number, column, f"%{word} needs a macro name", f"write %{word} name value"
            )
        name = parts[0]
        if word == "undefine":
            if len(parts) > 1:
                raise self.error(
                    number, column, "%undefine takes only a name", "remove the text after the name"
                )
            self.defines.pop(name, None)
            self.known.pop(name, None)
            return
        if len(parts) < 2:
            raise self.error(
                number,
                column,
                f"%{word} {name} has no value",
                f"write %{word} {name} <value>, or %undefine {name}",
            )
        value = self.expand(parts[1], number, column)
        self.defines[name] = Macro(name, value, number)
        self.known[name] = value

    # --- macro expansion -------------------------------------------------------------------

    def lookup(self, name: str, number: int, column: int) -> str:
        if name not in self.known:
            raise self.error(
                number,
                column,
                f"macro %{name} is not defined",
                f"%define {name} before this line, or use %{{?{name}}}",
            )
        return self.known[name]

    def expand(self, text: str, number: int, column: int) -> str:
        out: list[str] = []
        pos = 0
        while True:
            found = text.find("%", pos)
            if found < 0:
                out.append(text[pos:])
                return "".join(out)
            out.append(text[pos:found])
            rest = text[found + 1 :]
            where = column + found
            if rest.startswith("%"):
                out.append("%")
                pos = found + 2
                continue
            braced = re.match(rf"\{{(\??)({_NAME})\}}", rest)
            plain = re.match(_NAME, rest)
            if braced:
                optional, name = braced.groups()
                if optional:
                    out.append(self.known.get(name, ""))
                else:
                    out.append(self.lookup(name, number, where))
                pos = found + 1 + braced.end()
            elif plain:
                out.append(self.lookup(plain.group(0), number, where))
                pos = found + 1 + plain.end()
            else:
                raise self.error(
                    number,
                    where,
                    f"unsupported macro syntax: %{rest[:12]}",
                    "use %name, %{name}, %{?name} or %% for a literal %",
                )

    # --- Macros: blocks ----------------------------------------------------------------------

    def macros_block(self, index: int, opener: int) -> int:
        """Read up to ``:Macros``; returns the index of the line after it."""
        pending: tuple[str, int, list[str]] | None = None  # a macro whose body continues
        while index < len(self.lines):
            raw = self.lines[index]
            number = index + 1
            index += 1
            stripped = raw.strip()
            if pending is not None:
                name, start, parts = pending
                if raw.rstrip().endswith("\\"):
                    parts.append(raw.rstrip()[:-1])
                    continue
                parts.append(raw)
                self.add_macro(name, "\n".join(parts).strip(), start)
                pending = None
                continue
            if stripped.lower() == ":macros":
                return index
            if stripped.lower() == "macros:":
                raise self.error(
                    number,
                    1,
                    f"Macros: inside the Macros: block opened on line {opener}",
                    "close the first block with :Macros",
                )
            if not stripped or stripped.startswith("#"):
                continue
            match = _MACRO_LINE_RE.fullmatch(stripped)
            column = len(raw) - len(raw.lstrip()) + 1
            if match is None:
                raise self.error(
                    number,
                    column,
                    "a Macros: block line must be %name value",
                    "start the line with %name, or close the block with :Macros",
                )
            name, params, body = match.group("name", "params", "body")
            if params is not None:
                raise self.error(
                    number,
                    column,
                    f"parametric macro %{name}{params} is not supported",
                    "define it in the spec file instead",
                )
            if name in _CONDITIONAL_WORDS or name in _DEFINE_WORDS:
                raise self.error(
                    number,
                    column,
                    f"%{name} is not allowed inside Macros:",
                    "put conditionals and %define outside the Macros: block",
                )
            body = (body or "").rstrip()
            if body.endswith("\\"):
                pending = (name, number, [body[:-1]])
                continue
            if not body:
                raise self.error(
                    number, column, f"macro %{name} has no value", f"write %{name} <value>"
                )
            self.add_macro(name, body, number)
        where = "a macro continued with \\ and" if pending else "the block"
        raise self.error(
            opener,
            1,
            f"Macros: is never closed ({where} runs to the end)",
            "end the block with a line holding only :Macros",
        )

    def add_macro(self, name: str, value: str, number: int) -> None:
        if not self.active:
            return
        if name in self.macros:
            raise self.error(
                number,
                1,
                f"macro %{name} is already set on line {self.macros[name].line}",
                "keep one definition",
            )
        self.macros[name] = Macro(name, value, number)

    # --- Name: value directives --------------------------------------------------------------

    def directive(self, stripped: str, number: int, column: int) -> None:
        match = _DIRECTIVE_RE.fullmatch(stripped)
        if match is None:
            raise self.error(
                number,
                column,
                f"not a prjconf directive: {stripped[:40]}",
                "write Name: value, a %define, or a # comment",
            )
        name = KNOWN_DIRECTIVES.get(match.group("name").lower())
        if name is None:
            written = match.group("name")
            close = difflib.get_close_matches(written.lower(), list(KNOWN_DIRECTIVES), n=1)
            hint = (
                f"did you mean {KNOWN_DIRECTIVES[close[0]]}:?"
                if close
                else "known: " + ", ".join(KNOWN_DIRECTIVES.values())
            )
            raise self.error(number, column, f"unknown prjconf directive {written}:", hint)
        if name == "DistMacro":
            raise self.error(
                number, column, "DistMacro: is not supported", "put the macro in a Macros: block"
            )
        if not self.active:
            return
        value_column = column + match.start("value")
        raw_value = match.group("value")
        value = self.expand(raw_value, number, value_column).strip()
        value_column += len(raw_value) - len(raw_value.lstrip())
        self.directives.append(Directive(name, value, number))
        if name == "BuildFlags":
            self.build_flag_line(value, number, value_column)
        elif name == "Release":
            self.release_line(value, number, value_column)

    def build_flag_line(self, value: str, number: int, column: int) -> None:
        if not value:
            raise self.error(
                number,
                column,
                "BuildFlags: with no flag",
                "write BuildFlags: <flag>, or remove the line",
            )
        for token in re.finditer(r"\S+", value):
            flag = token.group(0)
            where = column + token.start()
            if flag.startswith("!"):
                raise self.error(
                    number,
                    where,
                    f"BuildFlags removal {flag} is not supported",
                    "delete the flag where it is set instead",
                )
            if flag.lower().startswith("dockerarg:"):
                self.docker_arg(flag[len("dockerarg:") :], number, where)
            else:
                self.build_flags.append(flag)

    def docker_arg(self, spec: str, number: int, column: int) -> None:
        hint = "write BuildFlags: dockerarg:NAME=value (NAME of letters, digits and _)"
        key, eq, value = spec.partition("=")
        if not eq:
            raise self.error(number, column, f"dockerarg:{spec} has no '='", hint)
        if not key:
            raise self.error(number, column, "dockerarg: with an empty name", hint)
        if not _DOCKER_ARG_KEY_RE.fullmatch(key):
            raise self.error(
                number, column, f"dockerarg name {key!r} is not a valid build arg name", hint
            )
        if key in self.docker_args:
            raise self.error(
                number,
                column,
                f"dockerarg:{key} is already set on line {self.docker_arg_lines[key]}",
                "keep one dockerarg per name",
            )
        self.docker_args[key] = value
        self.docker_arg_lines[key] = number

    def release_line(self, value: str, number: int, column: int) -> None:
        hint = (
            "write e.g. Release: <CI_CNT>.<B_CNT> (only <CI_CNT>, <B_CNT>, letters, digits, ._+~)"
        )
        if self.release is not None:
            raise self.error(
                number,
                column,
                f"Release: is already set on line {self.release.line}",
                "keep one Release: line",
            )
        if not value or len(value.split()) != 1:
            raise self.error(number, column, f"Release: needs one template, got {value!r}", hint)
        offset = 0
        for token in _RELEASE_TOKEN_RE.findall(value):
            if token.startswith("<") and not token.endswith(">"):
                raise self.error(
                    number, column + offset, f"Release: template has an unclosed {token}", hint
                )
            if token.startswith("<") and token not in ("<CI_CNT>", "<B_CNT>"):
                raise self.error(
                    number,
                    column + offset,
                    f"Release: template uses {token}, which this pipeline does not fill in",
                    hint,
                )
            if not token.startswith("<") and not _RELEASE_LITERAL_RE.fullmatch(token):
                raise self.error(
                    number,
                    column + offset,
                    f"Release: template has {token!r}, which is not allowed in an rpm release",
                    hint,
                )
            offset += len(token)
        self.release = Directive("Release", value, number)
