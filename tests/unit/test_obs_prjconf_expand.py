"""The prjconf's macro language on its own: expansion, %define, expressions, conditionals."""

from __future__ import annotations

import pytest

from pipeline.core.errors import InputError
from pipeline.obs.prjconf_cond import Conditionals
from pipeline.obs.prjconf_expand import OBS_PREDEFINED, Scope
from pipeline.obs.prjconf_expr import ExprError, evaluate, rpm_vercmp

Warnings = list[tuple[int, int, str]]


def scope(warnings: Warnings | None = None, **known: str) -> Scope:
    found = warnings if warnings is not None else []
    return Scope("p.prjconf", known, lambda line, col, msg, hint: found.append((line, col, msg)))


def test_expand_replaces_every_reference_form() -> None:
    s = scope(a="1", b="two")
    assert s.expand("%a-%{b}-%{?a}-%{?unset}-100%%", 3, 1) == "1-two-1--100%"
    assert s.expand("%{?a:yes}%{!?a:no}%{!?unset:none}%{?unset:x}", 3, 1) == "yesnone"
    assert s.expand("no macros", 3, 1) == "no macros"
    # A name ends where the name characters end.
    assert s.expand("%a.%b/x", 3, 1) == "1.two/x"
    assert s.expand("%[1 + %a]%{expand:%%a}", 3, 1) == "21"


def test_undefined_macros_stay_as_written_with_a_warning_at_their_column() -> None:
    warnings: Warnings = []
    s = scope(warnings)
    assert (
        s.expand("x %nope %{nope2} 50% %20x %ifarch", 4, 5) == "x %nope %{nope2} 50% %20x %ifarch"
    )
    assert [(line, col) for line, col, _ in warnings] == [(4, 7), (4, 13)]
    assert "%{nope2} as it is" in warnings[1][2]


def test_arch_lists_are_predefined_as_on_obs() -> None:
    s = Scope("p", dict(OBS_PREDEFINED), lambda *a: None)
    assert "i586" in s.expand("%ix86", 1, 1).split()
    assert "armv7hl" in s.expand("%arm", 1, 1).split()
    assert s.expand("%{x86_64}", 1, 1).split()[0] == "x86_64"


def test_define_global_undefine_and_parametric_macros() -> None:
    s = scope(v="1")
    s.expand("%define lazy %v", 1, 1)
    s.expand("%global eager %v", 2, 1)
    s.expand("%define pair() %1-%2(%#)", 3, 1)
    s.known["v"] = s.known["v"].__class__("v", "2", 0)
    assert s.expand("%lazy %eager %{pair a b}", 4, 1) == "2 1 a-b(2)"
    assert s.defines["pair"].params == ""
    s.expand("%undefine lazy", 5, 1)
    assert s.expand("%{?lazy}", 6, 1) == ""


def test_builtins() -> None:
    s = scope(a="x")
    text = "%{sub hello 2 3}|%{upper:ab}|%{len:abc}|%{defined a}%{undefined a}|%{basename:/a/b}"
    assert s.expand(text, 1, 1) == "el|AB|3|10|b"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("%(echo hi)", "OBS cannot run it either"),
        ("%[1 +]", "OBS rejects this config too"),
    ],
)
def test_what_obs_rejects_is_an_error(text: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        scope().expand(text, 4, 5)
    assert info.value.location is not None and info.value.location.line == 4
    assert words in (info.value.hint or "")


def test_expressions_follow_obs() -> None:
    assert evaluate('v"1.10.0" >= v"1.9.0"') == 1
    assert evaluate('"abc" == "abc" && 2') == 2
    assert evaluate("0 || 3") == 3
    assert evaluate('images == "images"') == 1
    assert evaluate("2 * 3 + 1") == 7
    for bad in ("", "1 &&", "(1", "1 = 1", "f(1)", '"x'):
        with pytest.raises(ExprError):
            evaluate(bad)


def test_rpm_version_comparison() -> None:
    assert rpm_vercmp("1.10", "1.9") == 1
    assert rpm_vercmp("1.0~rc1", "1.0") == -1
    assert rpm_vercmp("1.0^git1", "1.0") == 1
    assert rpm_vercmp("1.0a", "1.0") == 1
    assert rpm_vercmp("2", "2") == 0


def _walk(lines: list[str], cpu: str = "x86_64") -> list[str]:
    """The lines a file of conditionals keeps, as the prjconf parser feeds them."""
    s = scope(_target_cpu=cpu, _target_os="linux")
    cond = Conditionals(s)
    kept = []
    for number, line in enumerate(lines, 1):
        word, _, rest = line[1:].partition(" ")
        if line.startswith("%") and word in ("else", "endif", "elif", "elifarch", "elifos"):
            if cond.switch(word, rest, number, 1):
                cond.retest(word, rest, number, 1)
        elif not cond.active:
            cond.skipped(line, number)
        elif line.startswith("%if"):
            cond.test(word, rest, number, 1)
        else:
            kept.append(line)
    return kept


def test_elif_chains_and_nesting() -> None:
    lines = ["%if 0", "a", "%elif 1", "b", "%elif 1", "c", "%else", "d", "%endif", "e"]
    assert _walk(lines) == ["b", "e"]
    lines = ["%ifarch s390x", "a", "%elifarch x86_64", "b", "%endif"]
    assert _walk(lines) == ["b"]
    assert _walk(lines, cpu="s390x") == ["a"]
    assert _walk(["%if 0", "%if 1", "a", "%endif", "b", "%else", "c", "%endif"]) == ["c"]
    assert _walk(["%ifnos linux", "a", "%endif", "%ifos linux", "b", "%endif"]) == ["b"]
