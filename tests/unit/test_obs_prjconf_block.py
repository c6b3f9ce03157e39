"""The ``Macros:`` block reader on its own: values verbatim, continuations, where it stops."""

from __future__ import annotations

import pytest

from pipeline.core.errors import InputError
from pipeline.obs.prjconf_block import read_macros_block


def read(text: str) -> tuple[list[tuple[str, str, int]], int]:
    """The macros of the block opened on the first line of ``text``, and the index after it."""
    found: list[tuple[str, str, int]] = []
    lines = text.splitlines()
    end = read_macros_block(lines, 1, 1, "p.prjconf", lambda *macro: found.append(macro))
    return found, end


def test_values_are_kept_unexpanded_and_the_block_ends_at_its_closer() -> None:
    text = (
        "Macros:\n"
        "%registry registry.opensuse.org\n"
        "\n"
        "# a comment\n"
        "  %flags   -a %{?_with_x:-x} %%  \n"
        ":MACROS\n"
        "Prefer: after the block\n"
    )
    found, end = read(text)
    assert found == [("registry", "registry.opensuse.org", 2), ("flags", "-a %{?_with_x:-x} %%", 5)]
    assert end == 6 and text.splitlines()[end] == "Prefer: after the block"


def test_a_value_continues_while_its_lines_end_in_a_backslash() -> None:
    text = "Macros:\n%flags -a \\\n  -b \\\n  -c\n%next 1\n:Macros\n"
    found, _ = read(text)
    assert found == [("flags", "-a \n  -b \n  -c", 2), ("next", "1", 5)]


def test_continuation_lines_are_taken_as_they_are() -> None:
    # Inside a continued value, a "# ..." or ":Macros" line is part of the value.
    text = "Macros:\n%a 1 \\\n:Macros\n:Macros\n"
    found, end = read(text)
    assert found == [("a", "1 \n:Macros", 2)] and end == 4


def test_each_macro_is_handed_on_before_the_next_line_is_read() -> None:
    seen: list[str] = []

    def add(name: str, value: str, line: int) -> None:
        seen.append(name)
        if name == "b":
            raise InputError("p", "stop at b")

    with pytest.raises(InputError, match="stop at b"):
        read_macros_block(["Macros:", "%a 1", "%b 2", "bad line"], 1, 1, "p", add)
    assert seen == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("Macros:\n%a 1\n", 1, 1, "never closed (the block runs"),
        ("Macros:\n%a 1 \\\n", 1, 1, "never closed (a macro continued with \\ and runs"),
        ("Macros:\n  macros:\n:Macros\n", 2, 1, "inside the Macros: block opened on line 1"),
        ("Macros:\n  a 1\n:Macros\n", 2, 3, "must be %name value"),
        ("Macros:\n%a(x) 1\n:Macros\n", 2, 1, "parametric macro %a(x)"),
        ("Macros:\n %define a 1\n:Macros\n", 2, 2, "%define is not allowed"),
        ("Macros:\n%endif x\n:Macros\n", 2, 1, "%endif is not allowed"),
        ("Macros:\n%a   \n:Macros\n", 2, 1, "macro %a has no value"),
    ],
)
def test_refusals_name_line_and_column(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(InputError) as info:
        read(text)
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.column) == (line, column)
    assert words in info.value.message and info.value.hint
