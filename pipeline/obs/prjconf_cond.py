"""The ``%if`` branches of a prjconf, followed as OBS's ``Build::Rpm`` follows them.

``%if EXPR``, ``%ifarch``/``%ifnarch`` (against ``%_target_cpu``), ``%ifos``/``%ifnos``
(against ``%_target_os``), ``%elif``/``%elifarch``/``%elifos``, ``%else`` and ``%endif``,
nested. The state is OBS's own counter, so every line counts exactly when it counts on OBS; the
stack beside it only finds the lines a reader gets wrong: an ``%endif`` without ``%if`` (OBS
ignores it: refused), a stray or second ``%else`` or an ``%if`` never closed (OBS gives them a
meaning, kept with a warning).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.obs.prjconf_expand import Scope
from pipeline.obs.prjconf_expr import ExprError, boolify, evaluate

__all__ = ["Conditionals"]

_OBS_REJECTS = "OBS rejects this config too"


@dataclass
class _Open:
    line: int
    seen_else: bool = False


class Conditionals:
    """Which lines count: ``skip`` is OBS's counter (0 = this line counts)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.skip = 0
        self.open: list[_Open] = []

    @property
    def active(self) -> bool:
        return self.skip == 0

    def switch(self, word: str, rest: str, number: int, column: int) -> bool:
        """Apply ``%else``, ``%endif`` or ``%elif...``; True when the line is an ``%elif`` whose
        condition must now be tested (its branch is the first one that can be taken)."""
        if word == "endif":
            if not self.open:
                raise self.scope.error(
                    number, column, "%endif without %if, which OBS ignores", "remove the %endif"
                )
            self.open.pop()
            self.skip = self.skip - 2 if self.skip > 2 else 0
            return False
        self.check_else(word, number, column)
        if word == "else":
            if self.skip <= 2:
                self.skip = 2 - self.skip
            return False
        if self.skip == 0:
            self.skip = 1
        if self.skip <= 2:
            self.skip = 2 - self.skip
        return self.skip == 0

    def check_else(self, word: str, number: int, column: int) -> None:
        if not self.open:
            self.scope.warn(
                number,
                column,
                f"%{word} without %if: OBS takes it as the start of a branch that is not taken",
                f"add the %if this %{word} belongs to, or remove it",
            )
            self.open.append(_Open(number, seen_else=word == "else"))
            return
        if self.open[-1].seen_else:
            self.scope.warn(
                number,
                column,
                f"%{word} after the %else of the %if on line {self.open[-1].line}: OBS switches "
                "the branch again",
                "each %if takes at most one %else, which comes last",
            )
        self.open[-1].seen_else = self.open[-1].seen_else or word == "else"

    def skipped(self, stripped: str, number: int) -> None:
        """A line inside a branch that is not taken: only a nested ``%if`` matters."""
        word = stripped[1:].split(None, 1)[0] if stripped.startswith("%") else ""
        if word in ("if", "ifarch", "ifnarch", "ifos", "ifnos"):
            self.skip += 2
            self.open.append(_Open(number))

    def test(self, word: str, rest: str, number: int, column: int) -> None:
        """Open a branch with ``%if``/``%ifarch``/``%ifnarch``/``%ifos``/``%ifnos``."""
        if word == "if":
            taken = self.condition(rest, number, column)
        else:
            what = "_target_cpu" if "arch" in word else "_target_os"
            current = self.scope.value(what) or "unknown"
            taken = (current in rest.split()) != word.startswith("ifn")
        if not taken:
            self.skip = 2
        self.open.append(_Open(number))

    def retest(self, word: str, rest: str, number: int, column: int) -> None:
        """The test of an ``%elif...`` whose branch can still be taken."""
        self.open.pop()
        self.test(word[2:], rest, number, column)

    def condition(self, rest: str, number: int, column: int) -> bool:
        try:
            return boolify(evaluate(rest))
        except ExprError as exc:
            raise self.scope.error(
                number, column, f"%if {rest.strip()}: {exc}", f"{_OBS_REJECTS}: fix the expression"
            ) from None

    def check_closed(self) -> None:
        for branch in self.open:
            self.scope.warn(
                branch.line,
                1,
                "%if is never closed: OBS takes every line after it as its branch",
                "add %endif after the conditional lines",
            )
