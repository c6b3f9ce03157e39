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

The pieces: :mod:`pipeline.obs.prjconf_expand` expands macros and follows the conditionals,
:mod:`pipeline.obs.prjconf_block` reads the ``Macros:`` blocks, and this module dispatches the
lines and checks the directives the pipeline uses (``BuildFlags: dockerarg:``, ``Release:``).
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
from pipeline.obs.prjconf_block import read_macros_block
from pipeline.obs.prjconf_expand import (
    CONDITIONAL_WORDS,
    DEFINE_WORDS,
    NAME,
    Conditionals,
    Macro,
    Scope,
)

__all__ = [
    "DEFAULT_RELEASE",
    "KNOWN_DIRECTIVES",
    "Directive",
    "Macro",
    "Prjconf",
    "host_arch",
    "load_prjconf",
    "parse_prjconf",
]

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

_DIRECTIVE_RE = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_-]*)\s*:(?P<value>.*)")
_PERCENT_WORD_RE = re.compile(rf"%({NAME})(.*)")
_DOCKER_ARG_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RELEASE_TOKEN_RE = re.compile(r"<[^<>]*>?|[^<>]+|>")
_RELEASE_LITERAL_RE = re.compile(r"[A-Za-z0-9._+~^]+")
_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


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


class _Parser:
    """Reads the lines in order and hands each to the piece that understands it."""

    def __init__(self, text: str, path: Path | str, predefined: Mapping[str, str] | None) -> None:
        self.path = path
        self.lines = text.splitlines()
        known = {"_target_cpu": host_arch(), "_target_os": "linux"}
        known.update(predefined or {})
        self.scope = Scope(path, known)
        self.conditionals = Conditionals(self.scope)
        self.macros: dict[str, Macro] = {}
        self.flags = _BuildFlags(path)
        self.directives: list[Directive] = []
        self.release: Directive | None = None

    def error(self, line: int, column: int, message: str, hint: str) -> InputError:
        return InputError(Location(self.path, line, column), message, hint=hint)

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
                index = read_macros_block(self.lines, index, number, self.path, self.add_macro)
            elif stripped.lower() == ":macros":
                raise self.error(
                    number,
                    column,
                    ":Macros without a Macros: line before it",
                    "open the block with a line holding only Macros:",
                )
            else:
                self.directive(stripped, number, column)
        self.conditionals.check_closed()
        return self.result()

    def result(self) -> Prjconf:
        return Prjconf(
            path=self.path,
            macros=MappingProxyType(self.macros),
            defines=MappingProxyType(self.scope.defines),
            docker_args=MappingProxyType(self.flags.docker_args),
            docker_arg_lines=MappingProxyType(self.flags.docker_arg_lines),
            build_flags=tuple(self.flags.build_flags),
            release_template=self.release.value if self.release else None,
            release_line=self.release.line if self.release else 0,
            directives=tuple(self.directives),
        )

    def percent_line(self, stripped: str, number: int, column: int) -> None:
        match = _PERCENT_WORD_RE.match(stripped)
        word = match.group(1) if match else ""
        rest = match.group(2).strip() if match else ""
        if word in CONDITIONAL_WORDS:
            self.conditionals.line(word, rest, number, column)
        elif word in DEFINE_WORDS:
            if self.conditionals.active:
                self.scope.define(word, rest, number, column)
        else:
            raise self.error(
                number,
                column,
                f"unsupported directive %{word or stripped[1:2]}",
                "only %define, %global, %undefine, %if, %ifarch, %ifnarch, %else "
                "and %endif may start a line; rpm macros go in a Macros: block",
            )

    def add_macro(self, name: str, value: str, number: int) -> None:
        if not self.conditionals.active:
            return
        if name in self.macros:
            raise self.error(
                number,
                1,
                f"macro %{name} is already set on line {self.macros[name].line}",
                "keep one definition",
            )
        self.macros[name] = Macro(name, value, number)

    def directive(self, stripped: str, number: int, column: int) -> None:
        match = _DIRECTIVE_RE.fullmatch(stripped)
        if match is None:
            raise self.error(
                number,
                column,
                f"not a prjconf directive: {stripped[:40]}",
                "write Name: value, a %define, or a # comment",
            )
        name = self.known_name(match.group("name"), number, column)
        if not self.conditionals.active:
            return
        value_column = column + match.start("value")
        raw_value = match.group("value")
        value = self.scope.expand(raw_value, number, value_column).strip()
        value_column += len(raw_value) - len(raw_value.lstrip())
        self.directives.append(Directive(name, value, number))
        if name == "BuildFlags":
            self.flags.add_line(value, number, value_column)
        elif name == "Release":
            self.release_line(value, number, value_column)

    def known_name(self, written: str, number: int, column: int) -> str:
        """The directive ``written`` names, spelt as OBS does; checked in inactive branches
        too, so a typo cannot hide behind an %if."""
        name = KNOWN_DIRECTIVES.get(written.lower())
        if name is None:
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
        return name

    def release_line(self, value: str, number: int, column: int) -> None:
        if self.release is not None:
            raise self.error(
                number,
                column,
                f"Release: is already set on line {self.release.line}",
                "keep one Release: line",
            )
        _check_release_template(value, Location(self.path, number, column))
        self.release = Directive("Release", value, number)


class _BuildFlags:
    """The ``BuildFlags:`` lines: ``dockerarg:NAME=value`` build args apart, other flags kept."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.docker_args: dict[str, str] = {}
        self.docker_arg_lines: dict[str, int] = {}
        self.build_flags: list[str] = []

    def error(self, line: int, column: int, message: str, hint: str) -> InputError:
        return InputError(Location(self.path, line, column), message, hint=hint)

    def add_line(self, value: str, number: int, column: int) -> None:
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


def _check_release_template(value: str, where: Location) -> None:
    """Refuse a ``Release:`` template rpm would not accept once filled in, or one with a
    ``<WORD>`` this pipeline does not fill. ``where`` is the start of the value."""
    hint = "write e.g. Release: <CI_CNT>.<B_CNT> (only <CI_CNT>, <B_CNT>, letters, digits, ._+~)"
    if not value or len(value.split()) != 1:
        raise InputError(where, f"Release: needs one template, got {value!r}", hint=hint)
    offset = 0
    for token in _RELEASE_TOKEN_RE.findall(value):
        at = Location(where.path, where.line, where.column + offset)
        if token.startswith("<") and not token.endswith(">"):
            raise InputError(at, f"Release: template has an unclosed {token}", hint=hint)
        if token.startswith("<") and token not in ("<CI_CNT>", "<B_CNT>"):
            raise InputError(
                at,
                f"Release: template uses {token}, which this pipeline does not fill in",
                hint=hint,
            )
        if not token.startswith("<") and not _RELEASE_LITERAL_RE.fullmatch(token):
            raise InputError(
                at,
                f"Release: template has {token!r}, which is not allowed in an rpm release",
                hint=hint,
            )
        offset += len(token)
