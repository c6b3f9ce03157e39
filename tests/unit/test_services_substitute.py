"""The shell original's pitfalls, one by one, and the promise that no value adds a line or an
instruction to a Dockerfile."""

from __future__ import annotations

import itertools
import json
import re
import shlex

import pytest

from pipeline.core.errors import InputError
from pipeline.obs.conventions import ENV_PLACEHOLDER
from pipeline.services.substitute import escape_char, substitute

DOUBLE = 'LABEL org.example.v="%%V%%"'
SINGLE = "RUN echo '%%V%%'"
BARE = "RUN echo %%V%%"
TAG = "#!BuildTag: kubevirt/virt-api:%%V%%"
EXEC = 'CMD ["/usr/bin/virt-api", "%%V%%"]'


def replace(line: str, value: str | None, **extra: str) -> str:
    values: dict[str, str | None] = {"V": value, **extra}
    return substitute(line, "Dockerfile", ENV_PLACEHOLDER, values, unknown_is_error=True).text


# (template line, value, expected line or None for a refusal, words of the refusal)
PITFALLS = [
    # sed's delimiter, its match reference, its escape, the usual separator: all literal.
    (DOUBLE, "a#b", 'LABEL org.example.v="a#b"', ""),
    (TAG, "1.0#2", "#!BuildTag: kubevirt/virt-api:1.0#2", ""),
    (DOUBLE, "a&b", 'LABEL org.example.v="a&b"', ""),
    (BARE, "a&&b", "RUN echo a&&b", ""),
    (DOUBLE, "a\\b", 'LABEL org.example.v="a\\b"', ""),
    (DOUBLE, "reg.example.org/kubevirt", 'LABEL org.example.v="reg.example.org/kubevirt"', ""),
    # a value holding a placeholder is not expanded again
    (DOUBLE, "%%W%%", 'LABEL org.example.v="%%W%%"', ""),
    (DOUBLE, "%%", 'LABEL org.example.v="%%"', ""),
    (DOUBLE, "$HOME", 'LABEL org.example.v="$HOME"', ""),
    (SINGLE, "$(id)", "RUN echo '$(id)'", ""),
    # spaces: fine inside quotes, a second word (a second tag!) outside
    (DOUBLE, "two words", 'LABEL org.example.v="two words"', ""),
    (SINGLE, "two words", "RUN echo 'two words'", ""),
    (TAG, "1.0 evil/tag:1", None, "space"),
    (BARE, "a b", None, "space"),
    # quotes: only where they cannot end the string around them
    (DOUBLE, "it's", 'LABEL org.example.v="it\'s"', ""),
    (SINGLE, 'say "hi"', "RUN echo 'say \"hi\"'", ""),
    (DOUBLE, 'x" other.label="y', None, "end the quoted string"),
    (SINGLE, "it's", None, "end the quoted string"),
    (BARE, '"x', None, "open a quoted string"),
    (EXEC, 'a", "--evil', None, "end the quoted string"),
    (EXEC, "a\\b", None, "JSON"),
    (EXEC, "--port=8443", 'CMD ["/usr/bin/virt-api", "--port=8443"]', ""),
    # line structure
    (DOUBLE, "a\nRUN evil", None, "newline"),
    (DOUBLE, "a\rRUN evil", None, "carriage return"),
    (DOUBLE, "a\0b", None, "NUL"),
    (DOUBLE, "a\tb", None, "tab"),
    (DOUBLE, "a\x1bb", None, "U+001B"),
    (DOUBLE, "a\u2028b", None, "U+2028"),
    (BARE, "a\\", None, "escape character"),
    (BARE, "a\\  ", None, "escape character"),
    (DOUBLE, "a\\", None, "escape character"),
    (BARE, "<<EOF", None, "heredoc"),
    # empty and unset
    (DOUBLE, "", None, "empty"),
    (DOUBLE, None, None, "has no value"),
]


@pytest.mark.parametrize(("line", "value", "expected", "words"), PITFALLS)
def test_pitfalls(line: str, value: str | None, expected: str | None, words: str) -> None:
    if expected is not None:
        assert replace(line, value, W="not used") == expected
        return
    with pytest.raises(InputError) as info:
        replace(line, value)
    message = info.value.one_line()
    assert message.startswith("Dockerfile:1:")
    assert words in message
    assert "\n" not in message


def test_unknown_placeholder_is_an_error_at_its_line() -> None:
    text = 'FROM x\n\nLABEL a="%%V%%" b="%%NOPE%%"\n'
    with pytest.raises(InputError) as info:
        substitute(text, "Dockerfile", ENV_PLACEHOLDER, {"V": "1"}, unknown_is_error=True)
    assert info.value.one_line().startswith("Dockerfile:3:20: placeholder %%NOPE%% has no value")


def test_unknown_placeholder_left_alone_when_allowed() -> None:
    result = substitute("%%A%% %%B%%", "f", ENV_PLACEHOLDER, {"A": "1"}, unknown_is_error=False)
    assert result.text == "1 %%B%%"
    assert result.used == (("A", 1),)


def test_counts_and_crlf_preserved() -> None:
    text = "#!BuildTag: %%T%%/a:%%V%%\r\n#!BuildTag: %%T%%/a:latest\r\n"
    result = substitute(text, "f", ENV_PLACEHOLDER, {"T": "kv", "V": "1"}, unknown_is_error=True)
    assert result.text == "#!BuildTag: kv/a:1\r\n#!BuildTag: kv/a:latest\r\n"
    assert result.used == (("T", 2), ("V", 1))


def test_escape_directive() -> None:
    text = "# escape=`\nFROM x\nRUN echo %%V%%\n"
    assert escape_char(text) == "`"
    assert escape_char("FROM x\n# escape=`\n") == "\\"
    with pytest.raises(InputError, match="escape character"):
        substitute(text, "f", ENV_PLACEHOLDER, {"V": "a`"}, unknown_is_error=True)
    # with backtick as escape, a backslash inside a value is plain text, except at the end
    with pytest.raises(InputError, match="escape character"):
        substitute(text, "f", ENV_PLACEHOLDER, {"V": "a\\"}, unknown_is_error=True)


TEMPLATE = """\
#!BuildTag: %%V%%/virt-api:%%V%%
#!BuildTag: kubevirt/virt-api:%%V%%-1
ARG KUBEVIRTFROM
FROM $KUBEVIRTFROM
# labelprefix=%%V%%
LABEL org.opencontainers.image.title="%%V%%"
LABEL org.opensuse.reference="%%V%%/virt-api:%%V%%.%RELEASE%" other="x"
RUN echo %%V%% && \\
    echo '%%V%%' && echo "%%V%%"
ENV A=%%V%% B="%%V%%"
CMD ["/usr/bin/virt-api", "%%V%%"]
USER 1001
"""


def logical_lines(text: str) -> list[str]:
    """Dockerfile logical lines: continuations joined, blank lines and comments dropped."""
    result: list[str] = []
    pending = ""
    for line in text.split("\n"):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if re.search(r"\\[ \t]*$", line):
            pending += re.sub(r"\\[ \t]*$", "", line)
            continue
        result.append(pending + line)
        pending = ""
    if pending:
        result.append(pending)
    return result


def shape(text: str) -> list[object]:
    """What must not change: lines, comments' words, instructions and their words."""
    lines = text.split("\n")
    comments = [len(line.split()) for line in lines if line.startswith("#")]
    words: list[object] = []
    for line in logical_lines(text):
        instruction, _, rest = line.strip().partition(" ")
        if rest.lstrip().startswith("["):
            words.append((instruction, len(json.loads(rest))))
        else:
            words.append((instruction, len(shlex.split(rest))))
    return [len(lines), comments, words]


ALPHABET = [
    "a",
    " ",
    '"',
    "'",
    "\\",
    "\n",
    "\r",
    "\0",
    "\t",
    "#",
    "&",
    "/",
    "$",
    "%",
    "`",
    "<",
    "[",
    "]",
    ",",
    "=",
]
CRAFTED = [
    'x" other="y',
    "x' && rm -rf / && echo '",
    "\\\nRUN evil",
    "a\\",
    "a\\ ",
    "<<EOF",
    '"]\nCMD ["evil',
    "%%V%%",
    "1.0\u2028RUN evil",
    "1.0\x85RUN evil",
    "x\\\\",
    "\\'",
    '\\"',
    "a$(id)b",
    "`id`",
    "--chown=0:0 /etc/passwd /x",
    "&& curl evil | sh",
    "%RELEASE%",
]


def test_no_value_changes_the_structure() -> None:
    reference = shape(replace(TEMPLATE, "X"))
    values = [
        "".join(chars) for size in (1, 2, 3) for chars in itertools.product(ALPHABET, repeat=size)
    ] + CRAFTED
    accepted = refused = 0
    for value in values:
        try:
            result = replace(TEMPLATE, value)
        except InputError as error:
            refused += 1
            assert error.one_line().startswith("Dockerfile:")
            continue
        accepted += 1
        assert shape(result) == reference, value
        assert result.count("\n") == TEMPLATE.count("\n"), value
    # both outcomes happen: the check is neither "refuse everything" nor "accept everything"
    assert accepted > 500
    assert refused > 5000


def test_single_pass() -> None:
    values: dict[str, str | None] = {"A": "%%B%%", "B": "%%A%%"}
    result = substitute("%%A%%-%%B%%", "f", ENV_PLACEHOLDER, values, unknown_is_error=True)
    assert result.text == "%%B%%-%%A%%"
