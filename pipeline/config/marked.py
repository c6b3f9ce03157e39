"""Plain dicts and lists that know where each key, value and item was written in a YAML file.

Kept apart from ``yaml_reader`` (which loads ruamel.yaml) so that code which only looks at loaded
documents, such as the schema helpers, does not pay the YAML parser's import at start-up.
"""

from __future__ import annotations

from typing import Any

#: A 1-based (line, column).
Position = tuple[int, int]


class MarkedMap(dict[Any, Any]):
    """A mapping with its own position and the position of each key and of each value."""

    __slots__ = ("column", "key_positions", "line", "value_positions")

    def __init__(self, line: int, column: int) -> None:
        super().__init__()
        self.line, self.column = line, column
        self.key_positions: dict[Any, Position] = {}
        self.value_positions: dict[Any, Position] = {}

    def key_position(self, key: Any) -> Position:
        return self.key_positions.get(key, (self.line, self.column))

    def value_position(self, key: Any) -> Position:
        return self.value_positions.get(key) or self.key_position(key)


class MarkedSeq(list[Any]):
    """A sequence with its own position and the position of each item."""

    __slots__ = ("column", "item_positions", "line")

    def __init__(self, line: int, column: int) -> None:
        super().__init__()
        self.line, self.column = line, column
        self.item_positions: list[Position] = []

    def item_position(self, index: int) -> Position:
        try:
            return self.item_positions[index]
        except IndexError:
            return self.line, self.column


def position(value: Any) -> Position:
    """Where a loaded mapping or sequence starts; (0, 0) for anything else."""
    if isinstance(value, MarkedMap | MarkedSeq):
        return value.line, value.column
    return 0, 0
