"""The ``%if`` expressions of a prjconf, evaluated as OBS's ``Build::Rpm`` evaluates them.

A value is an ``int``, or a ``str`` that starts with ``"`` (a string) or ``v`` (a version, written
``v"1.2"``): that is how OBS keeps them apart, and how it compares them. Numbers compare as
numbers, strings byte by byte, versions with rpm's version comparison. A bare word such as the
expansion of ``%_repository`` in ``%if %_repository == "images"`` is a string, as on OBS (rpm
itself refuses bare words since 4.16). Operators, loosest first: ``?:``, ``|| &&``,
``== != < > <= >=``, ``+ -``, ``* /``, then ``! -`` and parentheses.

A malformed expression is an :class:`ExprError`: OBS records it as the project config's parse
error, so the config is refused here too.
"""

from __future__ import annotations

import re

Value = int | str

__all__ = ["ExprError", "Value", "boolify", "evaluate", "rpm_vercmp", "stringify"]

_NUMBER_RE = re.compile(r"[0-9]+")
_WORD_RE = re.compile(r"[a-zA-Z][a-zA-Z_0-9]*")
_VERSION_PART_RE = re.compile(r"[0-9]+|[a-zA-Z]+|~|\^")
_COMPARISONS = {"<=": 3, ">=": 6, "==": 2, "!=": 5, "<": 1, ">": 4}
_LOOSEST_LEVEL = 0


class ExprError(ValueError):
    """The expression cannot be read; the message says where it stopped."""


def boolify(value: Value | None) -> bool:
    """OBS's truth: 0, an empty string and every version are false."""
    if value is None:
        return False
    if isinstance(value, int):
        return value != 0
    return value != '"' and not value.startswith("v")


def stringify(value: Value) -> str:
    return str(value) if isinstance(value, int) else value[1:]


def evaluate(text: str) -> Value:
    """The value of the whole expression ``text``."""
    value, rest = _Parser().expr(text, _LOOSEST_LEVEL)
    if rest.strip():
        raise ExprError(f"syntax error in expression at {rest.strip()[:20]!r}")
    return value


def rpm_vercmp(a: str, b: str) -> int:
    """rpm's ``rpmvercmp``: -1, 0 or 1."""
    if a == b:
        return 0
    left, right = _version_parts(a), _version_parts(b)
    for x, y in zip(left, right, strict=False):
        if x == y:
            continue
        if x in ("~", "^") or y in ("~", "^"):
            return _tilde_caret(x, y)
        if x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        if x.isdigit():
            return 1 if int(x) > int(y) else -1
        return 1 if x > y else -1
    return _longer(left[len(right) :], right[len(left) :])


def _version_parts(text: str) -> list[str]:
    return _VERSION_PART_RE.findall(text)


def _tilde_caret(x: str, y: str) -> int:
    """A ``~`` sorts before anything, a ``^`` before anything but a ``~`` or the end."""
    if x == "~" or y == "~":
        return -1 if x == "~" else 1
    return -1 if x == "^" else 1


def _longer(left_rest: list[str], right_rest: list[str]) -> int:
    """The comparison once one side has no parts left."""
    if left_rest:
        return -1 if left_rest[0] == "~" else 1
    if right_rest:
        return 1 if right_rest[0] == "~" else -1
    return 0


def _both_strings(left: Value, right: Value) -> bool:
    return all(isinstance(v, str) and v.startswith('"') for v in (left, right))


def _numeric(value: Value) -> int:
    """A value used as a number: a string or version counts as 0, as Perl reads ``"x``."""
    return value if isinstance(value, int) else 0


def _compare(left: Value, right: Value, mask: int) -> int:
    """1 when ``left OP right`` holds; ``mask`` has bit 1 for <, 2 for ==, 4 for >."""
    if isinstance(left, str) and left.startswith("v"):
        order = rpm_vercmp(left[1:], str(right)[1:])
    elif isinstance(left, str):
        other = str(right)
        order = (left > other) - (left < other)
    else:
        number = _numeric(right)
        order = (left > number) - (left < number)
    return 1 if mask & (1 if order < 0 else 4 if order > 0 else 2) else 0


class _Parser:
    """Recursive descent over the text; each method returns the value and the text after it."""

    def expr(self, text: str, level: int) -> tuple[Value, str]:
        value, text = self.operand(text.lstrip())
        if level >= 6:
            return value, text
        while True:
            text = text.lstrip()
            step = self.binary(value, text, level)
            if step is None:
                return value, text
            value, text = step

    def operand(self, text: str) -> tuple[Value, str]:
        if text.startswith("("):
            value, rest = self.expr(text[1:], _LOOSEST_LEVEL)
            if not rest.lstrip().startswith(")"):
                raise ExprError("unmatched (")
            return value, rest.lstrip()[1:]
        if text.startswith("!"):
            value, rest = self.expr(text[1:], 6)
            return (0 if boolify(value) else 1), rest
        if text.startswith("-"):
            value, rest = self.expr(text[1:], 6)
            if not isinstance(value, int):
                raise ExprError("argument of - is not a number")
            return -value, rest
        return self.literal(text)

    def literal(self, text: str) -> tuple[Value, str]:
        number = _NUMBER_RE.match(text)
        if number:
            return int(number.group(0)), text[number.end() :]
        if text.startswith('v"') or text.startswith('"'):
            start = 2 if text.startswith("v") else 1
            end = text.find('"', start)
            if end < 0:
                raise ExprError("unterminated string")
            prefix = "v" if start == 2 else '"'
            return prefix + text[start:end], text[end + 1 :]
        word = _WORD_RE.match(text)
        if word and not text[word.end() :].startswith("("):
            return '"' + word.group(0), text[word.end() :]
        if word:
            raise ExprError(f"unsupported expression function {word.group(0)}")
        raise ExprError("syntax error in expression")

    def binary(self, left: Value, text: str, level: int) -> tuple[Value, str] | None:
        """Apply the operator ``text`` starts with, if it binds at ``level``; None to stop."""
        for op, op_level in (("&&", 2), ("||", 2)):
            if text.startswith(op):
                if level >= op_level:
                    return None
                right, rest = self.expr(text[2:], op_level)
                keep_left = boolify(left) if op == "||" else not boolify(left)
                return (left if keep_left else right), rest
        for op, mask in _COMPARISONS.items():
            if text.startswith(op):
                if level >= 3:
                    return None
                right, rest = self.expr(text[len(op) :], 3)
                return _compare(left, right, mask), rest
        return self.arithmetic(left, text, level)

    def arithmetic(self, left: Value, text: str, level: int) -> tuple[Value, str] | None:
        if text[:1] in ("+", "-") and level < 4:
            right, rest = self.expr(text[1:], 4)
            if text[0] == "+" and _both_strings(left, right):
                return str(left) + str(right)[1:], rest
            return self.number_op(left, right, text[0]), rest
        if text[:1] in ("*", "/"):
            right, rest = self.expr(text[1:], 5)
            return self.number_op(left, right, text[0]), rest
        if text.startswith("?") and level <= 1:
            return self.ternary(left, text[1:])
        if text[:1] in ("=", "&", "|"):
            raise ExprError(f"syntax error while parsing {text[0] * 2}")
        return None

    def number_op(self, left: Value, right: Value, op: str) -> int:
        if not isinstance(left, int) or not isinstance(right, int):
            raise ExprError(f"argument of {op} is not a number")
        if op == "/" and right == 0:
            raise ExprError("division by zero")
        results = {"+": left + right, "-": left - right, "*": left * right}
        return results[op] if op in results else int(left / right)

    def ternary(self, condition: Value, text: str) -> tuple[Value, str]:
        yes, rest = self.expr(text, 1)
        rest = rest.lstrip()
        if not rest.startswith(":"):
            raise ExprError("syntax error while parsing ternary")
        no, rest = self.expr(rest[1:], 1)
        return (yes if boolify(condition) else no), rest
