"""The figures of a benchmark run: each a ratio measured in that run, beside its target.

Pure logic only (no tools, no network): ratios, target checks, the rich table and the JSON
written to ``bench/results.json``, so the test can check all of it quickly.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; infinite when only the denominator is zero, 0/0 is 0."""
    if numerator < 0 or denominator < 0:
        raise ValueError(
            f"a ratio of durations or sizes cannot be negative: {numerator}, {denominator}"
        )
    if denominator == 0:
        return 0.0 if numerator == 0 else math.inf
    return numerator / denominator


@dataclass(frozen=True)
class Target:
    """``value <op> bound``, printed as ``text`` (e.g. "<= 1.5x of the floor")."""

    op: str
    bound: float
    text: str

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"unknown comparison {self.op!r}; use one of {', '.join(_OPS)}")

    def met(self, value: float) -> bool:
        return _OPS[self.op](value, self.bound)


@dataclass(frozen=True)
class Figure:
    """One measured figure. ``value`` is what the target checks (None: not measured, and
    ``reason`` says why); ``ratio`` is the same-run ratio that puts it in proportion (for most
    figures the two are the same number); ``detail`` holds the raw measurements."""

    key: str
    title: str
    target: Target
    value: float | None = None
    unit: str = "x"
    ratio: float | None = None
    summary: str = ""
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def measured(self) -> bool:
        return self.value is not None

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.target.met(self.value)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "measured": self.measured,
            "value": _finite(self.value),
            "unit": self.unit,
            "ratio": _finite(self.ratio),
            "target": {"op": self.target.op, "bound": self.target.bound, "text": self.target.text},
            "met": self.met,
            "summary": self.summary,
            "reason": self.reason,
            "detail": self.detail,
        }


def not_measured(key: str, title: str, target: Target, reason: str) -> Figure:
    return Figure(key, title, target, reason=reason)


def _finite(value: float | None) -> float | str | None:
    """JSON has no infinity; write it as the string "inf" rather than an invalid token."""
    if value is None:
        return None
    if math.isinf(value):
        return "inf"
    return round(value, 4)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    if unit == "%":
        return f"{value * 100:.1f} %"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "n":
        return f"{value:.0f}"
    if unit == "B":
        return f"{value:,.0f} B"
    return f"{value:.2f}x"


def short(text: str, limit: int = 160) -> str:
    """A reason cut to table size (results.json keeps it whole)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(figures: Sequence[Figure], title: str = "bench") -> Table:
    result = Table(title=title, title_justify="left")
    for column in ("figure", "value", "ratio", "target", "", "measured"):
        result.add_column(column, overflow="fold")
    for fig in figures:
        mark = {None: "[yellow]?[/]", True: "[green]✓[/]", False: "[red]✗[/]"}[fig.met]
        result.add_row(
            fig.title,
            format_value(fig.value, fig.unit),
            format_value(fig.ratio, "x"),
            fig.target.text,
            mark,
            fig.summary if fig.measured else f"not measured: {short(fig.reason)}",
        )
    return result


def results_json(
    figures: Sequence[Figure], machine: dict[str, Any], command: str
) -> dict[str, Any]:
    return {
        "format": 1,
        "command": command,
        "machine": machine,
        "figures": [fig.as_json() for fig in figures],
        "all_met": all(fig.met for fig in figures),
    }
