"""The prjconf's own macro language: macro expansion and ``%define``, as OBS reads a config.

This is the part of a prjconf that is evaluated while it is read, not copied into the build: the
macros OBS predefines (the architecture lists such as ``%ix86``, ``%_target_cpu``,
``%_repository``) and the ``%define``/``%global``/``%undefine`` lines seen so far
(:class:`Scope`). Expansion follows OBS's ``Build::Rpm::expandmacros``: ``%name``, ``%{name}``,
``%{?name}``, ``%{!?name}``, ``%{?name:text}``, ``%{!?name:text}``, ``%%``, ``%[expression]``,
parametric macros, and the built-ins ``expand``, ``defined``, ``undefined``, ``with``,
``without``, ``expr``, ``basename``, ``dirname``, ``suffix``, ``shrink``, ``sub``, ``len``,
``lower``, ``upper``, ``rep`` and ``reverse``.

Where OBS gives a reference a meaning that is easy to get wrong, the meaning is kept and a
warning names the line: an undefined ``%name`` stays in the text as written. What OBS itself
rejects (``%(shell)``, a nesting too deep) is an :class:`InputError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location
from pipeline.obs.prjconf_expr import ExprError, evaluate, stringify

__all__ = [
    "CONDITIONAL_WORDS",
    "DEFINE_WORDS",
    "NAME",
    "OBS_PREDEFINED",
    "Macro",
    "Scope",
    "Warn",
]

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: Words after ``%`` that open, switch or close a branch.
CONDITIONAL_WORDS = frozenset(
    {"if", "ifarch", "ifnarch", "ifos", "ifnos", "else", "elif", "elifarch", "elifos", "endif"}
)
DEFINE_WORDS = frozenset({"define", "global", "undefine"})

#: The architecture macros OBS's ``Build.pm`` defines before it reads any config (in step with
#: rpm 4.20, as obs-build's own table says).
# fmt: off
OBS_PREDEFINED: Mapping[str, str] = {
    "nil": "",
    "ix86": "i386 i486 i586 i686 pentium3 pentium4 athlon geode",
    "x86_64": "x86_64 x86_64_v2 x86_64_v3 x86_64_v4 amd64 em64t",
    "arm32": "armv3l armv4b armv4l armv4tl armv5tl armv5tel armv5tejl armv6l armv6hl armv7l "
             "armv7hl armv7hnl armv8l armv8hl armv8hnl armv8hcnl",
    "arm": "%{arm32}",
    "arml": "armv3l armv4l armv5l armv5tel armv6l armv6hl armv7l armv7hl armv7hnl",
    "armb": "armv4b armv5b armv5teb",
    "arm64": "aarch64",
    "mips32": "mips mipsel mipsr6 mipsr6el",
    "mips64": "mips64 mips64el mips64r6 mips64r6el",
    "mipseb": "mips mipsr6 mips64 mips64r6",
    "mipsel": "mipsel mipsr6el mips64el mips64r6el",
    "mips": "%{mips32} %{mips64}",
    "loongarch64": "loongarch64",
    "sparc": "sparc sparcv8 sparcv9 sparcv9v sparc64 sparc64v",
    "alpha": "alpha alphaev56 alphaev6 alphaev67",
    "power64": "ppc64 ppc64p7 ppc64le",
    "riscv32": "riscv32",
    "riscv64": "riscv64",
    "riscv128": "riscv128",
    "riscv": "%{riscv32} %{riscv64} %{riscv128}",
}
# fmt: on

_PLAIN_RE = re.compile(r"%([?!]*)(-?[0-9A-Za-z_]+)")
_DEFINE_RE = re.compile(rf"\s*({NAME})(?:\(([^)]*)\))?\s*(.*)", re.S)
_MAX_DEPTH = 64
_STRING_BUILTINS = frozenset({"sub", "len", "lower", "upper", "rep", "reverse"})
_PATH_BUILTINS = frozenset({"basename", "dirname", "suffix", "shrink"})
_TEST_BUILTINS = frozenset({"defined", "undefined", "with", "without"})

#: Called with a line, a column, a message and a hint, for a warning about that place.
Warn = Callable[[int, int, str, str], None]


@dataclass(frozen=True)
class Macro:
    """One macro: from a ``Macros:`` block, or a top-level ``%define``/``%global``.
    ``params`` are the options of a parametric macro (``%name(a:b)``), None for a plain one."""

    name: str
    value: str
    line: int
    params: str | None = None


class Scope:
    """The macros a prjconf line may use: OBS's predefined ones and the ``%define``\\s so far."""

    def __init__(self, path: Path | str, predefined: Mapping[str, str], warn: Warn) -> None:
        self.path = path
        self.warn = warn
        self.known: dict[str, Macro] = {
            name: Macro(name, value, 0) for name, value in predefined.items()
        }
        #: The file's own ``%define``\\s and ``%global``\\s, without the predefined macros.
        self.defines: dict[str, Macro] = {}

    def error(self, line: int, column: int, message: str, hint: str) -> InputError:
        return InputError(Location(self.path, line, column), message, hint=hint)

    def value(self, name: str) -> str | None:
        found = self.known.get(name)
        return None if found is None else found.value

    def expand(self, text: str, line: int, column: int, depth: int = 0) -> str:
        """``text`` with every macro reference replaced; ``column`` is where ``text`` starts."""
        if depth > _MAX_DEPTH:
            raise self.error(
                line,
                column,
                "macros nest too deeply (a macro that expands to itself?)",
                "OBS rejects this config too: break the loop",
            )
        out: list[str] = []
        pos = 0
        while (found := text.find("%", pos)) >= 0:
            out.append(text[pos:found])
            end = _reference_end(text, found)
            where = (line, column + found, depth)
            replaced, consumed = self.reference(text[found:end], text[end:], where)
            out.append(replaced)
            pos = len(text) if consumed else end
        out.append(text[pos:])
        return "".join(out)

    def reference(self, ref: str, rest: str, where: tuple[int, int, int]) -> tuple[str, bool]:
        """The text ``ref`` (one ``%...`` reference) stands for, and whether it consumed
        ``rest``, the text after it (``%define`` and a parametric ``%name`` take the line)."""
        line, column, depth = where
        if ref == "%%":
            return "%", False
        if ref.startswith("%("):
            raise self.error(
                line,
                column,
                f"{ref[:24]} runs a shell command",
                "OBS cannot run it either and rejects the config: write the value itself",
            )
        if ref.startswith("%["):
            return self.expression(ref[2:-1], line, column, depth), False
        if ref.startswith("%{"):
            return self.braced(ref[2:-1], where), False
        plain = _PLAIN_RE.fullmatch(ref)
        if plain is None:  # a lone "%" or "%" before a character no macro name starts with
            return ref, False
        flags, name = plain.groups()
        if not flags and name in ("define", "global", "undefine"):
            self.define(name, rest, line, column)
            return "", True
        macro = self.known.get(name)
        if macro is not None and macro.params is not None and not flags:
            return self.call(macro, rest.strip().split(), where), True
        return self.named(name, flags, None, where, ref), False

    def braced(self, inner: str, where: tuple[int, int, int]) -> str:
        line, column, _depth = where
        match = re.match(r"([?!]*)([^\s:]*)([\s:])?(.*)", inner, re.S)
        assert match is not None  # the pattern matches any text
        flags, name, separator, tail = match.groups()
        if name in ("define", "global", "undefine") and not flags:
            self.define(name, tail, line, column)
            return ""
        if separator is not None and not flags and name in _BUILTIN_NAMES:
            return self.builtin(name, tail, separator, where)
        macro = self.known.get(name)
        if macro is not None and macro.params is not None and separator != ":" and not flags:
            return self.call(macro, tail.split(), where)
        alt = tail if separator == ":" else None
        return self.named(name, flags, alt, where, "%{" + inner + "}")

    def named(
        self, name: str, flags: str, alt: str | None, where: tuple[int, int, int], written: str
    ) -> str:
        """``%name``, ``%{?name}``, ``%{!?name:alt}`` and their kin, as OBS expands them;
        ``written`` is the reference as it stands in the text."""
        line, column, depth = where
        test = -1 if "!" in flags and "?" in flags else 1 if "?" in flags else 0
        macro = self.known.get(name)
        if macro is not None:
            text = "" if test == -1 else macro.value if alt is None else alt
        elif test:
            text = "" if alt is None or test == 1 else alt
        else:
            if name not in _KEYWORDS and (name[:1].isalpha() or name[:1] == "_"):
                self.warn(
                    line,
                    column,
                    f"macro %{name} is not defined here, so OBS keeps the text {written} as it is",
                    f"define it before this line, or write %{{?{name}}} for an empty value",
                )
            return written
        return self.expand(text, line, column, depth + 1) if "%" in text else text

    def call(self, macro: Macro, args: list[str], where: tuple[int, int, int]) -> str:
        """A parametric macro's body with ``%1``..., ``%*``, ``%**``, ``%#`` and ``%0`` filled."""
        line, column, depth = where
        values = {str(n): arg for n, arg in enumerate(args, 1)}
        values.update({"*": " ".join(args), "**": " ".join(args), "#": str(len(args))})
        values["0"] = macro.name

        def fill(match: re.Match[str]) -> str:
            key = match.group(1) or match.group(2)
            return values.get(key, "")

        body = re.sub(r"%\{(\*\*|\*|#|[0-9]+)\}|%(\*\*|\*|#|[0-9]+)", fill, macro.value)
        return self.expand(body, line, column, depth + 1)

    def expression(self, inner: str, line: int, column: int, depth: int) -> str:
        text = self.expand(inner, line, column, depth + 1)
        try:
            return stringify(evaluate(text))
        except ExprError as exc:
            raise self.error(
                line,
                column,
                f"%[{inner}]: {exc}",
                "OBS rejects this config too: fix the expression",
            ) from None

    def builtin(self, name: str, tail: str, separator: str, where: tuple[int, int, int]) -> str:
        line, column, depth = where
        argument = self.expand(tail, line, column, depth + 1) if "%" in tail else tail
        if name == "expand":
            return self.expand(argument, line, column, depth + 1)
        if name == "expr":
            return self.expression(argument, line, column, depth)
        if name in _TEST_BUILTINS:
            words = argument.split()
            key = words[0] if words else ""
            key = f"with_{key}" if name in ("with", "without") else key
            return str(int((key in self.known) != (name in ("undefined", "without"))))
        args = [argument] if separator == ":" else argument.split()
        return (
            _string_builtin(name, args) if name in _STRING_BUILTINS else _path_builtin(name, args)
        )

    def define(self, word: str, rest: str, line: int, column: int) -> None:
        """Apply ``%define``, ``%global`` (its value expanded now) or ``%undefine``."""
        match = _DEFINE_RE.fullmatch(rest)
        if match is None:
            raise self.error(
                line,
                column,
                f"%{word} needs a macro name",
                f"write %{word} name value (OBS ignores the line otherwise)",
            )
        name, params, body = match.groups()
        if word == "undefine":
            self.defines.pop(name, None)
            self.known.pop(name, None)
            return
        body = body.rstrip()
        if word == "global":
            body = self.expand(body, line, column)
        macro = Macro(name, body, line, params)
        self.defines[name] = macro
        self.known[name] = macro


_KEYWORDS = CONDITIONAL_WORDS | DEFINE_WORDS
_BUILTIN_NAMES = frozenset({"expand", "expr"} | _STRING_BUILTINS | _PATH_BUILTINS | _TEST_BUILTINS)


def _reference_end(text: str, start: int) -> int:
    """The index just after the macro reference that starts at ``text[start]`` (a ``%``)."""
    opener = text[start + 1 : start + 2]
    closer = {"{": "}", "(": ")", "[": "]"}.get(opener)
    if opener == "%":
        return start + 2
    if closer is None:
        plain = _PLAIN_RE.match(text, start)
        return plain.end() if plain else start + 1
    depth, pos = 0, start + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            pos += 2
            continue
        depth += 1 if char == opener else -1 if char == closer else 0
        if depth == 0:
            return pos + 1
        pos += 1
    return len(text)


def _string_builtin(name: str, args: list[str]) -> str:
    """rpm's string macros (``%{sub s 2 3}``, ``%{upper:s}``...), as OBS implements them."""
    text = args[0] if args else ""
    numbers = [int(a) if re.fullmatch(r"-?[0-9]+", a) else 0 for a in args[1:]]
    if name == "lower":
        return text.lower()
    if name == "upper":
        return text.upper()
    if name == "len":
        return str(len(text))
    if name == "reverse":
        return text[::-1]
    if name == "rep":
        return text * (numbers[0] if numbers else 0)
    first, last = (numbers + [1, -1][len(numbers) :])[:2]
    first = first - 1 if first > 0 else len(text) + first if first < 0 else first
    last = last - 1 if last > 0 else len(text) + last if last < 0 else last
    first = max(first, 0)
    return text[first : last + 1] if first <= last else ""


def _path_builtin(name: str, args: list[str]) -> str:
    text = " ".join(args)
    if name == "basename":
        return text.rsplit("/", 1)[-1]
    if name == "dirname":
        return text.rsplit("/", 1)[0] if "/" in text else text
    if name == "suffix":
        return text.rsplit(".", 1)[1] if "." in text else ""
    return " ".join(text.split())
