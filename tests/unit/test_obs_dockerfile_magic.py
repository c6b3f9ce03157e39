"""The ``#!`` magic comments on their own: values, tag columns, and what is refused."""

from __future__ import annotations

import pytest

from pipeline.core.errors import InputError
from pipeline.obs.dockerfile_magic import FLAG_MAGIC, VALUE_MAGIC, BuildTag, Magic, MagicComments


def read(*lines: str) -> MagicComments:
    comments = MagicComments("D")
    for number, line in enumerate(lines, 1):
        comments.read(line.strip(), number, len(line) - len(line.lstrip()) + 1)
    return comments


def test_tags_keep_the_column_of_each_word() -> None:
    comments = read("#!BuildTag:  a/b:1   a/b:1-2", "  #!BuildTag: c/d")
    assert comments.tags == [
        BuildTag("a/b:1", 1, 14),
        BuildTag("a/b:1-2", 1, 22),
        BuildTag("c/d", 2, 15),
    ]
    assert comments.magic == [Magic("BuildTag", "a/b:1   a/b:1-2", 1), Magic("BuildTag", "c/d", 2)]


def test_repeated_single_words_take_the_last_with_a_warning() -> None:
    comments = read("#!BuildVersion: 1", "#!BuildVersion: 2", "#!ForceMultiVersion")
    assert comments.single("BuildVersion") == "2" and comments.flag("ForceMultiVersion")
    assert "first on line 1" in comments.notices[0].message
    assert comments.notices[0].location.line == 2


def test_single_words_and_flags() -> None:
    comments = read(
        "#!BuildName: virt-api",
        "#!ExclusiveArch: x86_64 aarch64",
        "#!ExclusiveArch: s390x",
        "#!NoSquash",
    )
    assert comments.single("BuildName") == "virt-api"
    assert comments.single("BuildVersion") is None
    assert comments.words("ExclusiveArch") == ("x86_64", "aarch64", "s390x")
    assert comments.words("ExcludeArch") == ()
    assert comments.flag("NoSquash") and not comments.flag("UseOBSRepositories")


def test_every_known_comment_is_accepted() -> None:
    comments = read(*(f"#!{name}: x" for name in VALUE_MAGIC), *(f"#!{n}" for n in FLAG_MAGIC))
    assert [m.name for m in comments.magic] == [*VALUE_MAGIC, *FLAG_MAGIC]


@pytest.mark.parametrize(
    ("lines", "column", "words", "hint"),
    [
        (
            ["#!BuildTags: a"],
            1,
            "unknown OBS magic comment #!BuildTags",
            "did you mean #!BuildTag?",
        ),
        (["#!Frobnicate"], 1, "unknown OBS magic comment #!Frobnicate", "a plain comment is"),
        (["#!"], 1, "unknown OBS magic comment #!", "known: #!BuildTag"),
        (["  #!BcntSyncTag: 1"], 3, "cannot be honoured here", "build this image on OBS"),
        (["#!NoSquash:"], 1, "#!NoSquash takes no value", "just #!NoSquash"),
        (["#!BuildTag a"], 1, "OBS ignores this line", "#!BuildTag: <value>"),
        (["#!BuildTag : a"], 1, "a space before its ':'", "#!BuildTag: <value>"),
        (["#!BuildTag:"], 1, "#!BuildTag: with no tag", "<tag>"),
        (["#!BuildName: a  b"], 14, "takes one word, got 'a  b'", "remove the spaces"),
    ],
)
def test_refusals(lines: list[str], column: int, words: str, hint: str) -> None:
    with pytest.raises(InputError) as info:
        read(*lines)
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.column) == (len(lines), column)
    assert words in info.value.message
    assert hint in (info.value.hint or "")
