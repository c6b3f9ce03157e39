"""YAML documents as plain dicts and lists that know where each key, value and item was written.

Both ``pipeline.yaml`` and the manifests that ``verify-tags`` reads need a line and column for
every error. ruamel.yaml's round-trip loader keeps them, but it is pure Python: it spent about 2 s
of a 5 s ``verify-tags`` run on the bench's 64 manifest files. Here the node graph is composed by
ruamel.yaml's C parser (``ruamel.yaml.clib``; the pure-Python parser when it is missing), whose
nodes carry marks, and turned into :class:`MarkedMap` / :class:`MarkedSeq` with the positions
copied over: 1.6 s became 0.25 s on those files. Scalars are resolved by ruamel's safe
constructor, so values mean what they mean in YAML 1.2. Duplicate keys are an error, as
Kubernetes' own decoder makes them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from pipeline.config.marked import MarkedMap, MarkedSeq, Position
from pipeline.core.errors import InputError, Location
from pipeline.core.files import read_text


def _at(node: Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns one composed document into marked containers and plain scalars."""

    def __init__(self, yaml: YAML, file: str) -> None:
        self.constructor = yaml.constructor
        self.file = file
        # Aliases share their anchor's node: build it once; a node that contains itself is refused.
        self.built: dict[int, Any] = {}
        self.building: set[int] = set()

    def value(self, node: Node) -> Any:
        if isinstance(node, ScalarNode):
            return self.constructor.construct_object(node, deep=True)
        key = id(node)
        if key in self.built:
            return self.built[key]
        if key in self.building:
            raise InputError(
                Location(self.file, *_at(node)),
                "malformed YAML: an alias refers to the mapping or list that contains it",
            )
        self.building.add(key)
        if isinstance(node, MappingNode):
            result: Any = self.mapping(node)
        elif isinstance(node, SequenceNode):
            result = self.sequence(node)
        else:
            raise InputError(Location(self.file, *_at(node)), "malformed YAML: unknown node")
        self.building.discard(key)
        self.built[key] = result
        return result

    def mapping(self, node: MappingNode) -> MarkedMap:
        written = {id(key_node) for key_node, _ in node.value}
        # `<<: *anchor` merge keys: the merged pairs go first, and keys written here override them.
        self.constructor.flatten_mapping(node)
        result = MarkedMap(*_at(node))
        seen: set[Any] = set()  # the keys written in this mapping, not merged into it
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, Hashable):
                raise InputError(
                    Location(self.file, *_at(key_node)),
                    "malformed YAML: a mapping key must be a scalar",
                )
            if id(key_node) in written:
                if key in seen:
                    first, _ = result.key_positions[key]
                    raise InputError(
                        Location(self.file, *_at(key_node)),
                        f"malformed YAML: found duplicate key {key!r} (first on line {first})",
                        hint="keep one of them",
                    )
                seen.add(key)
            result[key] = self.value(value_node)
            result.key_positions[key] = _at(key_node)
            result.value_positions[key] = _at(value_node)
        return result

    def sequence(self, node: SequenceNode) -> MarkedSeq:
        result = MarkedSeq(*_at(node))
        for item in node.value:
            result.append(self.value(item))
            result.item_positions.append(_at(item))
        return result


class _Yaml12Resolver(VersionedResolver):
    """YAML 1.2's scalar rules without asking, for every scalar, which version is being read.

    The C parser never reports a ``%YAML`` directive to the resolver, so with it the version is
    1.2 anyway; the question, answered by catching an AttributeError each time, was half of the
    time spent composing.
    """

    @property
    def processing_version(self) -> tuple[int, int]:
        return (1, 2)


def _compose(text: str) -> tuple[YAML, list[Node | None]]:
    """The document nodes of ``text``, by the C parser, or by the pure-Python one when the C
    parser refuses the text: its libyaml is older and rejects some valid YAML 1.2, such as a
    colon inside a plain scalar of a flow mapping (``{image: quay.io/x:1}``)."""
    fast = YAML(typ="safe", pure=False)
    fast.Resolver = _Yaml12Resolver
    try:
        return fast, list(fast.compose_all(text))
    except YAMLError:
        if fast.Parser is None or "CParser" not in fast.Parser.__name__:
            raise
    exact = YAML(typ="safe", pure=True)
    return exact, list(exact.compose_all(text))


def load_all(text: str, file: str) -> Iterator[tuple[Any, Position]]:
    """Each non-empty document of ``text`` with its position; errors name ``file`` and the line."""
    try:
        yaml, nodes = _compose(text)
        for node in nodes:
            value = None if node is None else _Builder(yaml, file).value(node)
            if value is not None and node is not None:  # not an empty document
                yield value, _at(node)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        problem = exc.problem or exc.context or "not YAML"
        raise InputError(Location(file, line, col), f"malformed YAML: {problem}") from None
    except YAMLError as exc:
        raise InputError(Location(file), f"malformed YAML: {' '.join(str(exc).split())}") from None


def load_file(path: Path) -> Any:
    """The one document of the YAML file ``path`` (None when empty)."""
    documents = load_all(read_text(path), str(path))
    first = next(documents, None)
    second = next(documents, None)
    if second is not None:
        raise InputError(
            Location(path, *second[1]),
            "a second YAML document: this file holds one",
            hint="remove the `---` line and what follows, or merge it into the first",
        )
    return None if first is None else first[0]
