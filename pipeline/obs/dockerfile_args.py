"""Filling in a Dockerfile's values: build args in FROM lines, ``<VERSION>`` in build tags.

:func:`substitute` expands ``$X``, ``${X}``, ``${X:-word}`` and ``${X:+word}`` as buildah does
in a FROM line; :func:`resolve_from` uses it to name the base image of each stage from the build
args (``BuildFlags: dockerarg:`` in the prjconf) and the ARG defaults; :func:`expand_build_tag`
fills the ``<VERSION>`` and ``<RELEASE>`` of a ``#!BuildTag`` as OBS does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from pipeline.core.errors import InputError, Location
from pipeline.images.reference import parse_reference
from pipeline.obs.dockerfile import Dockerfile
from pipeline.obs.dockerfile_instructions import Arg, From

_PLAIN_VAR_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_PLACEHOLDER_RE = re.compile(r"<([A-Z_]+)>")


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
        image = _stage_image(stage, lookup, declared, where)
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


def _stage_image(
    stage: From,
    lookup: Callable[[str], str | None],
    declared: Mapping[str, Arg],
    where: Location,
) -> str:
    """The FROM image of ``stage`` with its variables substituted."""
    try:
        return _substitute(stage.image, lookup)
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
