"""The prjconf's macro language on its own: expansion, %define, %if expressions and nesting."""

from __future__ import annotations

import pytest

from pipeline.core.errors import InputError
from pipeline.obs.prjconf_expand import Conditionals, Macro, Scope


def scope(**known: str) -> Scope:
    return Scope("p.prjconf", known)


def test_expand_replaces_every_reference_form() -> None:
    s = scope(a="1", b="two")
    assert s.expand("%a-%{b}-%{?a}-%{?unset}-100%%", 3, 1) == "1-two-1--100%"
    assert s.expand("no macros", 3, 1) == "no macros"
    # A name ends where the name characters end.
    assert s.expand("%a.%b/x", 3, 1) == "1.two/x"


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("x %nope", 7, "macro %nope is not defined"),
        ("xy %{nope}", 8, "macro %nope is not defined"),
        ("%(echo hi)", 5, "unsupported macro syntax: %(echo hi)"),
        ("%{a:b}", 5, "unsupported macro syntax"),
        ("50%", 7, "unsupported macro syntax: %"),
    ],
)
def test_expand_errors_point_at_the_percent(text: str, column: int, words: str) -> None:
    with pytest.raises(InputError) as info:
        scope(a="1").expand(text, 4, 5)
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.column) == (4, column)
    assert words in info.value.message


def test_define_global_and_undefine() -> None:
    s = scope(_target_cpu="x86_64")
    s.define("define", "base registry.example.org/%_target_cpu", 2, 1)
    s.define("global", "image %{base}/tw", 3, 1)
    assert s.defines == {
        "base": Macro("base", "registry.example.org/x86_64", 2),
        "image": Macro("image", "registry.example.org/x86_64/tw", 3),
    }
    s.define("undefine", "base", 4, 1)
    assert "base" not in s.defines and "base" not in s.known
    assert s.expand("%{?base}", 5, 1) == ""
    # Predefined macros can be undefined too, but were never among the file's defines.
    s.define("undefine", "_target_cpu", 6, 1)
    assert "_target_cpu" not in s.known


@pytest.mark.parametrize(
    ("word", "rest", "words"),
    [
        ("define", "", "needs a macro name"),
        ("define", "9x 1", "needs a macro name"),
        ("global", "x", "%global x has no value"),
        ("undefine", "x 1", "takes only a name"),
    ],
)
def test_define_refusals(word: str, rest: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        scope().define(word, rest, 1, 1)
    assert words in info.value.message and info.value.hint


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1", True),
        ("0", False),
        ("-2", True),
        ("!0", True),
        ("!!1", True),
        ("%{n} >= 150300", True),
        ("%n < 150300", False),
        ('"%{repo}" == "SLE_15"', True),
        ('"%{?unset}" != ""', False),
    ],
)
def test_condition(expression: str, expected: bool) -> None:
    assert scope(n="150300", repo="SLE_15").condition(expression, 1, 1) is expected


def test_a_negated_condition_is_expanded_again() -> None:
    # Kept from the first version: after "!", a "%%" has become "%" and is read as a macro.
    s = scope(a="1")
    assert s.condition('"100%%" == "100%%"', 1, 1) is True
    with pytest.raises(InputError, match="unsupported macro syntax"):
        s.condition('!"100%%" == "100%%"', 1, 1)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("", "%if without a condition"),
        ("1 && 1", "unsupported %if expression"),
        ('"a" == 1', "compares a string with a number"),
        ('"a" < "b"', "strings can only be compared with == or !="),
    ],
)
def test_condition_refusals(expression: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        scope().condition(expression, 1, 1)
    assert words in info.value.message and info.value.hint


def run(lines: list[str], cpu: str = "x86_64") -> list[bool]:
    """Whether each line is active after it is applied (a %line applied, any other kept)."""
    branches = Conditionals(scope(_target_cpu=cpu))
    active = []
    for number, line in enumerate(lines, 1):
        if line.startswith("%"):
            word, _, rest = line[1:].partition(" ")
            branches.line(word, rest, number, 1)
        active.append(branches.active)
    branches.check_closed()
    return active


def test_ifarch_and_ifnarch_follow_the_target_cpu() -> None:
    lines = ["%ifarch x86_64 aarch64", "a", "%else", "b", "%endif", "%ifnarch s390x", "c", "%endif"]
    assert run(lines) == [True, True, False, False, True, True, True, True]
    assert run(lines, "s390x") == [False, False, True, True, True, False, False, True]


def test_a_branch_inside_an_inactive_one_is_not_evaluated() -> None:
    # %{undefined} would be an error if the inner %if were evaluated.
    lines = ["%if 0", "%if %{undefined}", "%else", "x", "%endif", "%else", "y", "%endif"]
    assert run(lines) == [False, False, False, False, False, True, True, True]


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (["%endif"], 1, "%endif without %if"),
        (["%else"], 1, "%else without %if"),
        (["%if 1", "%else", "%else"], 3, "second %else"),
        (["%elif 1"], 1, "%elif is not supported"),
        (["%ifos linux"], 1, "%ifos is not supported"),
        (["%ifarch %{?none}"], 1, "names no architecture"),
        (["%if 1", "%if 0", "%endif"], 1, "%if is never closed"),
    ],
)
def test_conditional_refusals(lines: list[str], line: int, words: str) -> None:
    with pytest.raises(InputError) as info:
        run(lines)
    assert info.value.location is not None and info.value.location.line == line
    assert words in info.value.message and info.value.hint


def test_ifarch_needs_a_target_cpu() -> None:
    with pytest.raises(InputError, match="macro %_target_cpu is not defined"):
        Conditionals(scope()).line("ifarch", "x86_64", 1, 1)
