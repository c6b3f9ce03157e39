"""The prjconf's own macro language: macro references, ``%define``, and ``%if`` nesting.

This is the part of a prjconf that is evaluated while it is read, not copied into the build: the
predefined macros and the ``%define``/``%global``/``%undefine`` lines seen so far
(:class:`Scope`), and the ``%if``/``%ifarch``/``%ifnarch``/``%else``/``%endif`` branches that
decide which lines count (:class:`Conditionals`). The subset accepted is described in
:mod:`pipeline.obs.prjconf`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: Words after ``%`` that open, switch or close a branch, including those refused here.
CONDITIONAL_WORDS = frozenset(
    {"if", "ifarch", "ifnarch", "ifos", "ifnos", "else", "elif", "elifarch", "elifos", "endif"}
)
DEFINE_WORDS = frozenset({"define", "global", "undefine"})

_NAME_RE = re.compile(NAME)
_BRACED_RE = re.compile(rf"\{{(\??)({NAME})\}}")
_INTEGER_RE = re.compile(r"-?\d+")
_COMPARISON_RE = re.compile(r'(-?\d+|"[^"]*")\s*(==|!=|<=|>=|<|>)\s*(-?\d+|"[^"]*")')
_CONDITION_HINT = (
    'write an integer, !EXPR, or compare two integers or two "quoted" strings; '
    "&& and || are not supported"
)


@dataclass(frozen=True)
class Macro:
    """One macro: from a ``Macros:`` block, or a top-level ``%define``/``%global``."""

    name: str
    value: str
    line: int


class Scope:
    """The macros a prjconf line may use: the predefined ones and the ``%define``\\s so far."""

    def __init__(self, path: Path | str, predefined: Mapping[str, str]) -> None:
        self.path = path
        self.known: dict[str, str] = dict(predefined)
        #: The file's own ``%define``\\s and ``%global``\\s, without the predefined macros.
        self.defines: dict[str, Macro] = {}

    def error(self, line: int, column: int, message: str, hint: str) -> InputError:
        return InputError(Location(self.path, line, column), message, hint=hint)

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
        """``text`` with every macro reference replaced; ``column`` is where ``text`` starts."""
        out: list[str] = []
        pos = 0
        while (found := text.find("%", pos)) >= 0:
            out.append(text[pos:found])
            value, length = self._reference(text[found + 1 :], number, column + found)
            out.append(value)
            pos = found + 1 + length
        out.append(text[pos:])
        return "".join(out)

    def _reference(self, rest: str, number: int, column: int) -> tuple[str, int]:
        """The value of the reference ``rest`` starts with (after its ``%``) and its length."""
        if rest.startswith("%"):
            return "%", 1
        braced = _BRACED_RE.match(rest)
        if braced:
            optional, name = braced.groups()
            if optional:
                return self.known.get(name, ""), braced.end()
            return self.lookup(name, number, column), braced.end()
        plain = _NAME_RE.match(rest)
        if plain:
            return self.lookup(plain.group(0), number, column), plain.end()
        raise self.error(
            number,
            column,
            f"unsupported macro syntax: %{rest[:12]}",
            "use %name, %{name}, %{?name} or %% for a literal %",
        )

    def define(self, word: str, rest: str, number: int, column: int) -> None:
        """Apply ``%define``, ``%global`` (the same at this level) or ``%undefine``."""
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

    def condition(self, rest: str, number: int, column: int) -> bool:
        """The truth of a ``%if`` expression, after expansion."""
        text = self.expand(rest, number, column).strip()
        if not text:
            raise self.error(number, column, "%if without a condition", _CONDITION_HINT)
        if text.startswith("!"):
            # The negated rest is expanded a second time, so "%%" after a "!" needs doubling
            # (rpm expands once); kept as it was, a later change may align it with rpm.
            return not self.condition(text[1:], number, column)
        if _INTEGER_RE.fullmatch(text):
            return int(text) != 0
        compare = _COMPARISON_RE.fullmatch(text)
        if compare is None:
            raise self.error(number, column, f"unsupported %if expression: {text}", _CONDITION_HINT)
        left, op, right = compare.groups()
        if left.startswith('"') != right.startswith('"'):
            raise self.error(
                number, column, f"%if compares a string with a number: {text}", _CONDITION_HINT
            )
        if left.startswith('"'):
            if op not in ("==", "!="):
                raise self.error(
                    number,
                    column,
                    f"strings can only be compared with == or !=: {text}",
                    _CONDITION_HINT,
                )
            return (left == right) == (op == "==")
        a, b = int(left), int(right)
        results = {"==": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}
        return results[op]


@dataclass
class _Branch:
    line: int
    active: bool
    parent_active: bool
    seen_else: bool = False


class Conditionals:
    """The open ``%if`` branches: a line counts only while every one of them is on."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.branches: list[_Branch] = []

    @property
    def active(self) -> bool:
        return not self.branches or self.branches[-1].active

    def line(self, word: str, rest: str, number: int, column: int) -> None:
        """Apply the line ``%word rest``; ``word`` is one of :data:`CONDITIONAL_WORDS`."""
        error = self.scope.error
        if word == "endif":
            if not self.branches:
                raise error(number, column, "%endif without %if", "remove the %endif")
            self.branches.pop()
        elif word == "else":
            if not self.branches or self.branches[-1].seen_else:
                what = "%else without %if" if not self.branches else "second %else in one %if"
                raise error(number, column, what, "each %if takes at most one %else")
            branch = self.branches[-1]
            branch.seen_else = True
            branch.active = branch.parent_active and not branch.active
        elif word in ("if", "ifarch", "ifnarch"):
            parent = self.active
            # A branch inside an inactive one is not evaluated: its macros may well be unset.
            value = parent and self._test(word, rest, number, column)
            self.branches.append(_Branch(number, value, parent))
        else:
            raise error(
                number,
                column,
                f"%{word} is not supported",
                "use nested %if/%else/%endif, %ifarch or %ifnarch",
            )

    def _test(self, word: str, rest: str, number: int, column: int) -> bool:
        if word == "if":
            return self.scope.condition(rest, number, column)
        arches = self.scope.expand(rest, number, column).split()
        if not arches:
            raise self.scope.error(
                number,
                column,
                f"%{word} names no architecture",
                f"write e.g. %{word} x86_64 aarch64",
            )
        cpu = self.scope.lookup("_target_cpu", number, column)
        return (cpu in arches) == (word == "ifarch")

    def check_closed(self) -> None:
        if self.branches:
            raise self.scope.error(
                self.branches[-1].line,
                1,
                "%if is never closed",
                "add %endif after the conditional lines",
            )
