"""OBS project configuration ("prjconf"), read as OBS's ``Build.pm`` ``read_config`` reads it.

A prjconf is ``Keyword: value`` lines, ``Macros:`` ... ``:Macros`` blocks copied verbatim into the
build root's rpm macros, and rpm-style ``%define``\\s and conditionals that only steer the reading
of the file itself. OBS first expands and follows the conditionals over the whole file
(:mod:`pipeline.obs.prjconf_expand`, :mod:`pipeline.obs.prjconf_cond`), then takes the keywords
of the lines that count; so does this module, with OBS's meaning for each keyword:

- a list keyword (``BuildFlags:``, ``Prefer:``, ``Preinstall:``, ...) adds its words, ``!word``
  removes a word added before and ``!*`` empties the list;
- ``Release:``, ``Type:`` and the other single-valued keywords: the last line wins (a warning
  names both lines); ``Release: A type:B`` means B for a build of that type (``spec`` here);
- ``BuildFlags: dockerarg:NAME=value``: the last value of a name wins, with a warning;
- ``DistMacro: name value`` defines a macro for OBS's recipe parser only (not for rpmbuild).

Where OBS would ignore a line, the line is refused with a hint instead (a typo there silently
changes a build); where OBS gives a line a meaning that is easy to get wrong, the meaning is kept
and a warning names the line. Warnings are logged as the file is loaded (``load_prjconf``) and
kept in :attr:`Prjconf.warnings`.
"""

from __future__ import annotations

import logging
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from pipeline.core.errors import InputError, Location
from pipeline.obs.notice import Notice
from pipeline.obs.prjconf_block import Block, is_closer, is_opener, read_block, rpm_macros
from pipeline.obs.prjconf_cond import Conditionals
from pipeline.obs.prjconf_directives import (
    DEFAULT_RELEASE,
    KNOWN_DIRECTIVES,
    Directive,
    Directives,
)
from pipeline.obs.prjconf_expand import OBS_PREDEFINED, Macro, Scope

__all__ = [
    "DEFAULT_RELEASE",
    "KNOWN_DIRECTIVES",
    "Directive",
    "Macro",
    "Notice",
    "Prjconf",
    "host_arch",
    "load_prjconf",
    "parse_prjconf",
]

log = logging.getLogger(__name__)

_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}
_MULTILINE_DEFINE_RE = re.compile(r"\s*%(?:define|global)\s")
_SWITCH_RE = re.compile(r"\s*%(else|endif|elif|elifarch|elifos)\b(.*)", re.S)
_TEST_RE = re.compile(r"\s*%(if|ifarch|ifnarch|ifos|ifnos)\b(.*)", re.S)


@dataclass(frozen=True)
class Prjconf:
    path: Path | str
    #: The rpm macros of the ``Macros:`` blocks, as rpmbuild reads them from the build root.
    macros: Mapping[str, Macro]
    defines: Mapping[str, Macro]
    docker_args: Mapping[str, str]
    #: Line of each ``dockerarg:`` key, for messages about a build arg.
    docker_arg_lines: Mapping[str, int]
    #: Every BuildFlags token that is not a ``dockerarg:``, in file order.
    build_flags: tuple[str, ...]
    #: The ``Release:`` template of an rpm build (``spec:`` word, else the first), filled in.
    release_template: str | None
    release_line: int
    #: Every directive of an active branch, in file order, including BuildFlags and Release.
    directives: tuple[Directive, ...] = field(default=())
    #: The text OBS writes into the build root's ``.rpmmacros``.
    macros_text: str = ""
    #: Every BuildFlags token (``dockerarg:`` too), as OBS keeps the list.
    all_build_flags: tuple[str, ...] = ()
    #: Every word of the last ``Release:`` line (``type:template`` words included).
    release_words: tuple[str, ...] = ()
    #: ``Type:``, or what OBS derives from ``Preinstall:`` (``UNDEFINED`` when nothing says).
    type: str = "UNDEFINED"
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    substitute: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``DistMacro:`` macros: for OBS's recipe parser only, never given to rpmbuild.
    dist_macros: Mapping[str, Macro] = field(default_factory=dict)
    warnings: tuple[Notice, ...] = ()

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
        into the build root (a parametric macro as ``name(opts)``, a body of several lines with
        rpm's ``\\`` continuations). Top-level ``%define``\\s and ``DistMacro:``\\s are left out
        on purpose: on OBS they never reach rpmbuild."""
        return [
            (m.name if m.params is None else f"{m.name}({m.params})", m.value.replace("\n", "\\\n"))
            for m in self.macros.values()
        ]


def load_prjconf(path: Path, *, predefined: Mapping[str, str] | None = None) -> Prjconf:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            path, f"cannot read project config: {exc}", hint="check the path in pipeline.yaml"
        ) from exc
    conf = parse_prjconf(text, path, predefined=predefined)
    for notice in conf.warnings:
        log.warning("%s", notice.one_line())
    return conf


def host_arch() -> str:
    machine = platform.machine().lower()
    return _ARCH_ALIASES.get(machine, machine)


def parse_prjconf(
    text: str, path: Path | str, *, predefined: Mapping[str, str] | None = None
) -> Prjconf:
    """Parse a prjconf. ``predefined`` are macros known before the first line, besides OBS's
    own (the architecture lists, ``_target_cpu`` = the host's arch, ``_target_os``); OBS's
    source server adds ``_repository``. They are visible to ``%if`` and expansion but are not
    part of :attr:`Prjconf.defines`."""
    return _Parser(text, path, predefined).parse()


class _Parser:
    """Reads the lines in order and hands each to the piece that understands it."""

    def __init__(self, text: str, path: Path | str, predefined: Mapping[str, str] | None) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.notices: list[Notice] = []
        known = {**OBS_PREDEFINED, "_target_cpu": host_arch(), "_target_os": "linux"}
        known.update(predefined or {})
        self.scope = Scope(path, known, self.warn)
        self.conditionals = Conditionals(self.scope)
        self.directives = Directives(path, self.warn)
        self.blocks: list[Block] = []

    def warn(self, line: int, column: int, message: str, hint: str) -> None:
        self.notices.append(Notice(Location(self.path, line, column), message, hint))

    def parse(self) -> Prjconf:
        index = 0
        while index < len(self.lines):
            raw, number = self.lines[index], index + 1
            if is_opener(raw):
                block, index = read_block(self.lines, index)
                self.block(block)
                continue
            index = self.logical_line(index)
            if is_closer(raw):
                raise self.scope.error(
                    number,
                    1,
                    ":Macros without a Macros: line before it, which OBS ignores",
                    "open the block with a line holding only Macros:",
                )
            self.line(raw, number)
        self.conditionals.check_closed()
        return self.result()

    def logical_line(self, index: int) -> int:
        """The index after the line at ``index``: a ``%define`` whose value ends in ``\\``
        takes the next lines too (joined into ``self.lines[index]``), as OBS reads it."""
        text = self.lines[index]
        end = index + 1
        if _MULTILINE_DEFINE_RE.match(text):
            while text.endswith("\\") and end < len(self.lines):
                text = text[:-1] + "\n" + self.lines[end]
                end += 1
            self.lines[index] = text
        return end

    def block(self, block: Block) -> None:
        if not self.conditionals.active:
            return
        if not block.closed:
            self.warn(
                block.opener,
                1,
                "Macros: is not closed, so the block runs to the end of the file (as OBS reads it)",
                "end the block with a line holding only :Macros",
            )
        if block.resets:
            self.blocks = [Block(block.opener, block.lines[1:], block.closed)]
        else:
            self.blocks.append(block)

    def line(self, raw: str, number: int) -> None:
        stripped = raw.strip()
        column = len(raw) - len(raw.lstrip()) + 1
        if not stripped or stripped.startswith("#"):
            return
        text = raw
        if self.conditionals.active and "%" in raw:
            text = self.scope.expand(raw, number, 1)
        switch = _SWITCH_RE.match(text)
        if switch:
            word, rest = switch.groups()
            if self.conditionals.switch(word, rest, number, column):
                expanded = self.scope.expand(rest, number, column)
                self.conditionals.retest(word, expanded, number, column)
            return
        if not self.conditionals.active:
            self.conditionals.skipped(stripped, number)
            self.directives.check_name(stripped, number, column)
            return
        test = _TEST_RE.match(text)
        if test:
            self.conditionals.test(test.group(1), test.group(2), number, column)
            return
        self.directives.line(text, number, column)

    def result(self) -> Prjconf:
        macros = rpm_macros(self.blocks, self.path, self.warn)
        found = self.directives.finish(macros, self.scope)
        return Prjconf(
            path=self.path,
            macros=MappingProxyType(macros),
            defines=MappingProxyType(self.scope.defines),
            docker_args=MappingProxyType(found.docker_args),
            docker_arg_lines=MappingProxyType(found.docker_arg_lines),
            build_flags=found.build_flags,
            release_template=found.release_template,
            release_line=found.release_line,
            directives=found.directives,
            macros_text="".join(line + "\n" for b in self.blocks for _, line in b.lines),
            all_build_flags=found.all_build_flags,
            release_words=found.release_words,
            type=found.type,
            lists=MappingProxyType(found.lists),
            substitute=MappingProxyType(found.substitute),
            dist_macros=MappingProxyType(found.dist_macros),
            warnings=tuple(self.notices),
        )
