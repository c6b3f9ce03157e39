"""Strict YAML reading with positions: every value knows its file, line and column.

``pipeline.config.yaml_reader`` keeps the position of each key and value; the helpers here turn a
loaded mapping into checked Python values and raise ``InputError`` pointing at the offending spot
instead of a ``KeyError`` or a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.config.marked import MarkedMap, MarkedSeq
from pipeline.core.errors import InputError, Location


class Node:
    """A position-aware view of a loaded YAML mapping, for strict validation."""

    def __init__(self, path: Path, data: Any, where: Location, what: str) -> None:
        self.path = path
        self.data = data
        self.where = where
        self.what = what

    @classmethod
    def root(cls, path: Path, data: Any) -> Node:
        node = cls(path, data, Location(path, 1, 1), "the file")
        node.require_mapping()
        return node

    def error(self, message: str, hint: str | None = None) -> InputError:
        return InputError(self.where, message, hint=hint)

    def require_mapping(self) -> MarkedMap:
        if not isinstance(self.data, MarkedMap):
            raise self.error(f"{self.what} must be a mapping", hint="write `key: value` lines")
        return self.data

    def _key_location(self, key: str) -> Location:
        mapping = self.require_mapping()
        if key not in mapping.key_positions:
            return self.where
        return Location(self.path, *mapping.key_position(key))

    def _value_location(self, key: str) -> Location:
        mapping = self.require_mapping()
        if key not in mapping.value_positions:
            return self._key_location(key)
        return Location(self.path, *mapping.value_position(key))

    def check_keys(self, allowed: set[str], required: frozenset[str] = frozenset()) -> None:
        mapping = self.require_mapping()
        for key in mapping:
            if key not in allowed:
                raise InputError(
                    self._key_location(key),
                    f"unknown key {key!r} in {self.what}",
                    hint="expected one of: " + ", ".join(sorted(allowed)),
                )
        for key in sorted(required):
            if key not in mapping:
                raise self.error(f"{self.what} lacks the required key {key!r}")

    def child(self, key: str, what: str | None = None) -> Node:
        mapping = self.require_mapping()
        if key not in mapping:
            raise self.error(f"{self.what} lacks the required key {key!r}")
        return Node(self.path, mapping[key], self._value_location(key), what or f"{key!r}")

    def has(self, key: str) -> bool:
        return key in self.require_mapping()

    def is_mapping(self) -> bool:
        return isinstance(self.data, MarkedMap)

    def items(self, what: str) -> Iterator[tuple[str, Node]]:
        mapping = self.require_mapping()
        for key in mapping:
            if not isinstance(key, str):
                raise InputError(self._key_location(key), f"{self.what}: keys must be names")
            yield key, Node(self.path, mapping[key], self._value_location(key), f"{what} {key!r}")

    def elements(self, what: str) -> Iterator[Node]:
        if not isinstance(self.data, MarkedSeq):
            raise self.error(f"{self.what} must be a list", hint="write `- item` lines")
        for index, item in enumerate(self.data):
            where = Location(self.path, *self.data.item_position(index))
            yield Node(self.path, item, where, f"{what} #{index + 1}")

    def string(self, key: str, default: str | None = None) -> str:
        mapping = self.require_mapping()
        if key not in mapping:
            if default is None:
                raise self.error(f"{self.what} lacks the required key {key!r}")
            return default
        value = mapping[key]
        if not isinstance(value, str) or value == "":
            raise InputError(
                self._value_location(key),
                f"{key!r} in {self.what} must be a non-empty string, not {type(value).__name__}",
                hint='quote version numbers, e.g. "1.9.0"',
            )
        return value

    def optional_string(self, key: str) -> str | None:
        return self.string(key) if self.has(key) else None

    def boolean(self, key: str, default: bool) -> bool:
        mapping = self.require_mapping()
        if key not in mapping:
            return default
        value = mapping[key]
        if not isinstance(value, bool):
            raise InputError(self._value_location(key), f"{key!r} must be true or false")
        return value

    def string_list(self, key: str) -> tuple[str, ...]:
        node = self.child(key)
        values = []
        for element in node.elements(f"{key!r} entry"):
            if not isinstance(element.data, str) or not element.data:
                raise element.error(f"{element.what} must be a non-empty string")
            values.append(element.data)
        return tuple(values)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(key, default)
        if value not in choices:
            raise InputError(
                self._value_location(key),
                f"{key!r} is {value!r}",
                hint="expected one of: " + ", ".join(choices),
            )
        return value

    def file(self, key: str, root: Path) -> Path:
        """A path relative to the project root that must exist inside it."""
        text = self.string(key)
        candidate = Path(text)
        resolved = (root / candidate).resolve()
        if candidate.is_absolute() or not resolved.is_relative_to(root.resolve()):
            raise InputError(
                self._value_location(key),
                f"{key!r} must be a path inside the project, not {text!r}",
            )
        if not resolved.exists():
            raise InputError(
                self._value_location(key),
                f"{key!r} names {text!r}, which does not exist",
                hint="create it, or fix the path: it is relative to pipeline.yaml",
            )
        return root / candidate
