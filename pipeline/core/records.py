"""Frozen dataclasses to and from JSON, strictly: what the pipeline writes, it reads back typed.

Why not ``dataclass(**raw)``: a report written by another version, or edited by hand, would then
fail somewhere later with a ``KeyError`` or a wrong type deep inside a stage. Here every key is
checked once, where the file is read, and a problem is one ``StateError`` naming the file, the
line of the offending value and the path to it.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``X | None``, ``tuple[X, ...]``,
``dict[str, X]`` and nested dataclasses. Tuples are JSON lists.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pipeline.core.errors import Location, StateError

T = TypeVar("T")


def to_json(value: Any) -> Any:
    """``value`` as plain JSON data: dataclasses become objects, tuples lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return value


class _Mismatch(Exception):
    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(kind: Any, data: Any, path: tuple[str | int, ...]) -> Any:
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(kind)
        if data is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _convert(inner, data, path)
    if dataclasses.is_dataclass(kind):
        return _dataclass(kind, data, path)  # type: ignore[arg-type]
    if origin is tuple:
        items = _expect(list, data, path, "a list")
        return tuple(_convert(typing.get_args(kind)[0], x, (*path, n)) for n, x in enumerate(items))
    if origin is dict:
        value_kind = typing.get_args(kind)[1]
        mapping = _expect(dict, data, path, "an object")
        return {key: _convert(value_kind, item, (*path, key)) for key, item in mapping.items()}
    if kind is float:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
        raise _Mismatch(path, f"expected a number, found {data!r}")
    if kind is int and isinstance(data, bool):
        raise _Mismatch(path, f"expected an integer, found {data!r}")
    if kind in (str, int, bool):
        what = {str: "a string", int: "an integer", bool: "true or false"}[kind]
        return _expect(kind, data, path, what)
    if kind is Any:
        return data
    raise TypeError(f"records: unsupported field type {kind!r}")


def _expect(kind: type[T], data: Any, path: tuple[str | int, ...], what: str) -> T:
    if not isinstance(data, kind):
        raise _Mismatch(path, f"expected {what}, found {json.dumps(data)[:40]}")
    return data


def _dataclass(cls: type[T], data: Any, path: tuple[str | int, ...]) -> T:
    mapping = _expect(dict, data, path, "an object")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise _Mismatch((*path, unknown[0]), f"unknown key {unknown[0]!r}")
    values = {}
    hints = _hints(typing.cast(type, cls))
    for name, field in fields.items():
        if name not in mapping:
            has_default = (
                field.default is not dataclasses.MISSING
                or field.default_factory is not dataclasses.MISSING
            )
            if has_default:
                continue
            raise _Mismatch(path, f"key {name!r} is missing")
        values[name] = _convert(hints[name], mapping[name], (*path, name))
    return cls(**values)


def from_json(cls: type[T], data: Any, file: Path, *, where: tuple[str, ...] = ()) -> T:
    """``data`` (as read from ``file``, at key path ``where``) as a ``cls``, or ``StateError``."""
    try:
        return _dataclass(cls, data, where)
    except _Mismatch as exc:
        dotted = ".".join(str(p) for p in exc.path) or "(top)"
        raise StateError(
            Location(file, _line_of(file, exc.path)),
            f"{dotted}: {exc.message}",
            hint="the file was written by another version of the pipeline or edited by hand: "
            "re-run the stage that writes it",
        ) from None


def _line_of(file: Path, path: tuple[str | int, ...]) -> int:
    """The line of the value at ``path`` in ``file`` (0 when it cannot be told): JSON is YAML,
    and the YAML reader knows positions. Only run for an error, never on the normal path."""
    # Imported here: ruamel is slow to import and only an error needs it.
    from pipeline.config.marked import MarkedMap, MarkedSeq
    from pipeline.config.yaml_reader import load_file

    try:
        node: Any = load_file(file)
    except Exception:  # the line is a courtesy; the message is the error
        return 0
    line = node.line if isinstance(node, MarkedMap | MarkedSeq) else 0
    for key in path:
        if isinstance(node, MarkedSeq) and isinstance(key, int) and key < len(node):
            line = node.item_position(key)[0]
        elif isinstance(node, MarkedMap) and key in node:
            line = node.value_position(key)[0]
        else:
            break
        node = node[key]
    return line
