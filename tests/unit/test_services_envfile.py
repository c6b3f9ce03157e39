"""Env files are parsed as data: the accepted forms, and an error at the line for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.services.envfile import load_env, parse_env
from pipeline.tools.run import run
from tests.support.paths import DATA as TEST_DATA

DATA = TEST_DATA / "services"
META = DATA / "sysroot" / "usr" / "lib" / "obs" / "service" / "kubevirt_containers_meta"


def test_meta_file_shape() -> None:
    env = load_env(META)
    assert env.as_dict() == {
        "REGISTRY": "registry.opensuse.org",
        "TAGPREFIX": "kubevirt",
        "LABELPREFIX": "org.opensuse.kubevirt",
        "PKG_VERSION": "1.1.0",
        "PKG_RELEASE": "3.7",
        "DISTRO": "tumbleweed",
    }
    assert env.line_of("REGISTRY") == 4
    assert env.line_of("MISSING") == 0


ACCEPTED = """#!/bin/sh
# comment
   # indented comment

export EXPORTED=yes
SINGLE='a "b" $c `d` \\e # f'
DOUBLE="with spaces & more; #"
EMPTY=
EMPTY_QUOTED=''
HASH=a#b
EQUALS==x=y
GLOB=*.rpm
TRAILING=value   \t
URL=obs://build.opensuse.org/Virtualization/openSUSE_Tumbleweed/abc-kubevirt
"""

EXPECTED = {
    "EXPORTED": "yes",
    "SINGLE": 'a "b" $c `d` \\e # f',
    "DOUBLE": "with spaces & more; #",
    "EMPTY": "",
    "EMPTY_QUOTED": "",
    "HASH": "a#b",
    "EQUALS": "=x=y",
    "GLOB": "*.rpm",
    "TRAILING": "value",
    "URL": "obs://build.opensuse.org/Virtualization/openSUSE_Tumbleweed/abc-kubevirt",
}


def test_accepted_forms() -> None:
    assert parse_env(ACCEPTED, "meta").as_dict() == EXPECTED


def test_accepted_forms_mean_the_same_to_sh(tmp_path: Path) -> None:
    """What this parser reads is what /bin/sh would set: the forms are a subset of sh."""
    meta = tmp_path / "meta"
    meta.write_text(ACCEPTED)
    names = " ".join(EXPECTED)
    script = f'. "$1"; for n in {names}; do eval "printf \'%s=%s\\0\' $n \\"\\$$n\\""; done'
    out = run(["sh", "-c", script, "sh", str(meta)]).stdout
    from_sh = dict(item.split("=", 1) for item in out.split("\0") if item)
    assert from_sh == EXPECTED


MALFORMED = [
    ("A=1\nB=$(id)\n", 2, "shell expansion"),
    ("A=1\n\nB=`id`\n", 3, "command substitution"),
    ("A=hello world\n", 1, "unquoted space"),
    ("A='unbalanced\n", 1, "unbalanced ' quote"),
    ('A="unbalanced\n', 1, 'unbalanced " quote'),
    ("# x\n1A=b\n", 2, "invalid variable name '1A'"),
    ("A=1\nA=2\n", 2, "A is set twice (first on line 1)"),
    ('A=1\nif [ -n "$pkg" ]; then\n', 2, "not a KEY=value line"),
    ("A=1;B=2\n", 1, "';'"),
    ("A=1&\n", 1, "'&'"),
    ("A=1 # comment\n", 1, "unquoted space"),
    ("A = 1\n", 1, "invalid variable name 'A '"),
    ('A="$HOME"\n', 1, "'$' inside double quotes"),
    ("A='x'y\n", 1, "unexpected text after the closing quote"),
    ("A=1\r\nB=2\r\n", 1, "carriage return"),
    ("A=x\0y\n", 1, "U+0000"),
    ("A=~/x\n", 1, "'~'"),
    ("export\n", 1, "not a KEY=value line"),
    ("A=$B\n", 1, "shell expansion"),
    ("A=a\\\n", 1, "'\\\\'"),
]


@pytest.mark.parametrize(("text", "line", "message"), MALFORMED)
def test_malformed_env_files(text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_env(text, "build/meta")
    error = info.value
    assert error.exit_code == 2
    assert error.one_line().startswith(f"build/meta:{line}: ")
    assert message in error.one_line()
    assert "\n" not in error.one_line()


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "meta"
    path.write_bytes(b"A=\xff\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_env(path)
