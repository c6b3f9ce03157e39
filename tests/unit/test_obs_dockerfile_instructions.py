"""Dockerfile instructions on their own, continuation lines already joined: what is kept of
FROM, ARG and LABEL, quoting, label prefix blocks, and what is refused."""

from __future__ import annotations

import pytest

from pipeline.core.errors import InputError
from pipeline.obs.dockerfile_instructions import Arg, From, Instruction, Instructions, Label


def add(*texts: str) -> Instructions:
    """Each text as one instruction on its own line."""
    found = Instructions("D")
    for number, text in enumerate(texts, 1):
        found.add(text, number, number + 1)
    return found


def test_args_before_the_first_from_are_global() -> None:
    found = add("ARG A B=2", "FROM $A AS build", "ARG C='x y'", "from --platform=linux/arm64 b")
    assert found.args == [
        Arg("A", None, 1, True),
        Arg("B", "2", 1, True),
        Arg("C", "x y", 3, False),
    ]
    assert found.stages == [From("$A", "build", 2), From("b", None, 4, "linux/arm64")]
    assert found.instructions[3] == Instruction("FROM", "--platform=linux/arm64 b", 4, 5)


def test_labels_unquote_values_and_follow_the_prefix_block() -> None:
    found = Instructions("D")
    found.add("FROM scratch", 1, 1)
    found.comment("# labelprefix= org.example ")
    found.add(r'LABEL a="x \"y\"" b=plain c=it\ is', 3, 3)
    found.add("PREFIXEDLABEL d=1", 4, 4)
    found.comment("#endlabelprefix")
    found.add("LABEL maintainer Jane Doe <jane@example.org>", 6, 6)
    assert found.labels == [
        Label("a", 'x "y"', 3, False, "org.example"),
        Label("b", "plain", 3, False, "org.example"),
        Label("c", "it is", 3, False, "org.example"),
        Label("d", "1", 4, True, "org.example"),
        Label("maintainer", "Jane Doe <jane@example.org>", 6, False, None),
    ]


def test_single_quotes_keep_backslashes() -> None:
    found = add("FROM scratch", r"LABEL a='x\y' b=\'")
    assert [(lab.key, lab.value) for lab in found.labels] == [("a", r"x\y"), ("b", "'")]


def test_keyword_and_arguments_split_on_a_tab_too() -> None:
    found = add("FROM scratch", "run\tzypper  -n in x")
    assert found.instructions[1] == Instruction("RUN", "zypper  -n in x", 2, 3)


@pytest.mark.parametrize(
    ("texts", "words", "hint"),
    [
        (["FORM a"], "FORM is not a Dockerfile instruction", "did you mean FROM?"),
        (["RUN true"], "RUN before the first FROM", "only ARG may come before FROM"),
        (["FROM"], "FROM without arguments", "complete the FROM instruction"),
        (["FROM --pull=always a"], "FROM option --pull=always is not supported", "--platform="),
        (["FROM a AS"], "is not 'image [AS name]'", "FROM <image> AS <name>"),
        (["FROM a AS -x"], "stage name '-x' is not valid", "letters"),
        (["FROM a AS x", "FROM b AS X"], "stage name 'X' is used twice", "its own name"),
        (["ARG A-B=1"], "ARG name 'A-B' is not valid", "letters, digits and _"),
        (["FROM a", "LABEL a=1 b"], "LABEL 'b' is not key=value", 'key="value"'),
        (["FROM a", "LABEL ='x'"], "is not key=value", 'key="value"'),
        (["FROM a", "LABEL a='x"], "LABEL has an unclosed ' quote at \"'x\"", "close the quote"),
        (["FROM a", "ONBUILD onbuild RUN x"], "ONBUILD ONBUILD is not allowed", "ordinary"),
    ],
)
def test_refusals(texts: list[str], words: str, hint: str) -> None:
    with pytest.raises(InputError) as info:
        add(*texts)
    assert info.value.location is not None and info.value.location.line == len(texts)
    assert words in info.value.message
    assert hint in (info.value.hint or "")
