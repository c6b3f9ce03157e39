"""The YAML reader: plain dicts and lists that know the line and column of what they hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config.marked import MarkedMap, MarkedSeq, position
from pipeline.config.yaml_reader import load_all, load_file
from pipeline.core.errors import EXIT_INPUT, InputError

TEXT = """\
# a comment
kind: Pod
spec:
  containers:
    - name: a
      image: "quay.io/x/a:1"
    - {name: b, image: quay.io/x/b:2}
---
---
- 1
- yes
- 0o10
- null
"""


def test_positions_of_keys_values_and_items() -> None:
    docs = list(load_all(TEXT, "t.yaml"))
    assert [where for _, where in docs] == [(2, 1), (10, 1)]
    pod, listing = docs[0][0], docs[1][0]
    assert isinstance(pod, MarkedMap) and isinstance(listing, MarkedSeq)
    assert pod == {
        "kind": "Pod",
        "spec": {
            "containers": [
                {"name": "a", "image": "quay.io/x/a:1"},
                {"name": "b", "image": "quay.io/x/b:2"},
            ]
        },
    }
    assert pod.key_position("kind") == (2, 1)
    assert pod.value_position("kind") == (2, 7)
    containers = pod["spec"]["containers"]
    assert position(containers) == (5, 5)
    assert containers.item_position(1) == (7, 7)
    assert containers[0].key_position("image") == (6, 7)
    assert containers[0].value_position("image") == (6, 14)
    assert containers[1].key_position("image") == (7, 17)
    # Scalars mean what they mean in YAML 1.2: `yes` is a string, 0o10 octal.
    assert listing == [1, "yes", 8, None]
    # Not a container: no position.
    assert position("text") == (0, 0)


def test_merge_keys_and_aliases() -> None:
    text = "base: &b {image: q.io/a:1, name: a}\nover:\n  <<: *b\n  name: c\nsame: *b\n"
    ((doc, _),) = load_all(text, "m.yaml")
    assert doc["over"] == {"image": "q.io/a:1", "name": "c"}
    assert doc["over"].key_position("name") == (4, 3)
    assert doc["same"] is doc["base"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: 1\nb: 2\na: 3\n",
            "d.yaml:3:1: malformed YAML: found duplicate key 'a' (first on line 1)",
        ),
        ("a: [1\n", "d.yaml:2:1: malformed YAML"),
        ("a: &x [*x]\n", "d.yaml:1:4: malformed YAML: an alias refers to the mapping or list"),
        ("? [1, 2]\n: v\n", "d.yaml:1:3: malformed YAML: a mapping key must be a scalar"),
        ("a: *nowhere\n", "d.yaml:1:4: malformed YAML: found undefined alias"),
    ],
)
def test_malformed_yaml_is_one_line_with_position(text: str, expected: str) -> None:
    with pytest.raises(InputError) as info:
        list(load_all(text, "d.yaml"))
    assert info.value.one_line().startswith(expected), info.value.one_line()
    assert info.value.exit_code == EXIT_INPUT


def test_load_file(tmp_path: Path) -> None:
    one = tmp_path / "one.yaml"
    one.write_text("a: 1\n")
    assert load_file(one) == {"a": 1}
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert load_file(empty) is None
    two = tmp_path / "two.yaml"
    two.write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(InputError, match="a second YAML document") as info:
        load_file(two)
    assert info.value.one_line().startswith(f"{two}:3:1:")
    with pytest.raises(InputError, match="file not found"):
        load_file(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="not UTF-8"):
        load_file(binary)
