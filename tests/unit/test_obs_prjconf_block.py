"""The ``Macros:`` blocks on their own: taken verbatim as OBS does, read as rpm reads them."""

from __future__ import annotations

import pytest

from pipeline.core.errors import InputError
from pipeline.obs.prjconf_block import Block, read_block, rpm_macros

Warnings = list[tuple[int, str]]


def blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    found = []
    index = 0
    while index < len(lines):
        if lines[index].strip().lower() == "macros:":
            block, index = read_block(lines, index)
            found.append(block)
        else:
            index += 1
    return found


def macros(text: str, warnings: Warnings | None = None) -> dict[str, tuple[str, int]]:
    seen = warnings if warnings is not None else []
    found = rpm_macros(blocks(text), "p", lambda line, col, msg, hint: seen.append((line, msg)))
    return {name: (m.value, m.line) for name, m in found.items()}


def test_values_are_kept_unexpanded_and_the_block_ends_at_its_closer() -> None:
    text = (
        "Macros:\n%registry registry.opensuse.org\n\n# a comment\n"
        "  %flags   -a %{?_with_x:-x} %%  \n:MACROS\nPrefer: after the block\n"
    )
    [block] = blocks(text)
    assert block.closed and block.opener == 1 and len(block.lines) == 4
    assert macros(text) == {
        "registry": ("registry.opensuse.org", 2),
        "flags": ("-a %{?_with_x:-x} %%", 5),
    }


def test_continuations_and_open_braces_join_lines_as_rpm_does() -> None:
    text = "Macros:\n%flags -a \\\n  -b \\\n  -c\n%e %{expand:\n x}\n%next 1\n:Macros\n"
    assert macros(text) == {
        "flags": ("-a \n  -b \n  -c", 2),
        "e": ("%{expand:\n x}", 5),
        "next": ("1", 7),
    }


def test_a_block_runs_to_the_end_and_closes_even_mid_continuation() -> None:
    [first, second] = blocks("Macros:\n%a 1 \\\n:Macros\nMacros:\n%b 2\n")
    assert first.closed and not second.closed
    warnings: Warnings = []
    # rpm joins what OBS wrote: the continued %a swallows the next block's first line.
    assert macros("Macros:\n%a 1 \\\n:Macros\nMacros:\n%b 2\n", warnings) == {"a": ("1 \n%b 2", 2)}
    assert macros("Macros:\n%a 1 \\\n", warnings) == {"a": ("1", 2)}
    assert "past the end of its Macros: block" in warnings[-1][1]


def test_repeated_names_take_the_last_value_with_a_warning() -> None:
    warnings: Warnings = []
    assert macros("Macros:\n%a 1\n%b 0\n%a 2\n:Macros\n", warnings)["a"] == ("2", 4)
    assert warnings == [(4, warnings[0][1])] and "first on line 2" in warnings[0][1]


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("Macros:\n  a 1\n:Macros\n", 2, 3, "rpm ignores this one"),
        ("Macros:\n %define a 1\n:Macros\n", 2, 2, "%define cannot be honoured"),
        ("Macros:\n%endif x\n:Macros\n", 2, 1, "%endif cannot be honoured"),
        ("Macros:\n%a   \n:Macros\n", 2, 1, "macro %a has no value, so rpm refuses it"),
    ],
)
def test_refusals_name_line_and_column(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(InputError) as info:
        macros(text)
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.column) == (line, column)
    assert words in info.value.message and info.value.hint
