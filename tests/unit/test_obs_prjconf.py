"""The prjconf parser on realistic project configs, on every malformation it must refuse, and on
generated inputs (seeded loops; hypothesis is not installed)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_INPUT, InputError
from pipeline.obs.prjconf import DEFAULT_RELEASE, KNOWN_DIRECTIVES, load_prjconf, parse_prjconf
from tests.support.paths import DATA as TEST_DATA
from tests.support.paths import ROOT

DATA = TEST_DATA / "prjconf"
REPO_PRJCONFS = sorted((ROOT / "prjconf").glob("*.prjconf"))
X86 = {"_target_cpu": "x86_64"}


def assert_input_error(err: InputError, path: str, line: int) -> None:
    assert err.exit_code == EXIT_INPUT == 2
    assert re.match(rf"{re.escape(path)}:{line}(:\d+)?: \S", err.one_line()), err.one_line()
    assert err.hint, "every refusal tells the user what to do"
    assert "\n" not in err.one_line()


def test_virtualization_tumbleweed_on_x86_64() -> None:
    conf = load_prjconf(DATA / "virtualization-tumbleweed.prjconf", predefined=X86)
    assert dict(conf.docker_args) == {
        "KUBEVIRTFROM": "registry.opensuse.org/opensuse/tumbleweed",
        "CDIFROM": "registry.opensuse.org/opensuse/tumbleweed",
    }
    assert conf.docker_arg_lines["KUBEVIRTFROM"] == 17
    assert conf.docker_arg_lines["CDIFROM"] == 21
    assert conf.build_flags == (
        "excludebuild:kubevirt:test-only",
        "onlybuild:kubevirt",
        "onlybuild:containerized-data-importer",
    )
    assert conf.release_template == "<CI_CNT>.<B_CNT>"
    assert conf.release_line == 6
    assert conf.macro("container_registry") == "registry.opensuse.org"
    assert conf.macros["container_registry"].line == 31
    assert conf.macro("kubevirt_build_flags") == "-trimpath \n  -buildmode=pie"
    assert ("kubevirt_build_flags", "-trimpath \\\n  -buildmode=pie") in conf.rpm_defines()
    assert conf.macro("undefined_macro") is None
    assert conf.defines["kubevirt_base"].value == "registry.opensuse.org/opensuse/tumbleweed"
    assert conf.directive_values("repotype") == ("rpm-md suse",)
    assert conf.directive_values("Substitute") == ("go golang(API) = 1.21",)
    assert [d.name for d in conf.directives][:4] == ["Release", "Type", "Repotype", "Patterntype"]


def test_arch_and_repository_conditionals_choose_branches() -> None:
    text = (DATA / "virtualization-tumbleweed.prjconf").read_text()
    s390 = parse_prjconf(text, "v.prjconf", predefined={"_target_cpu": "s390x"})
    assert s390.docker_args["CDIFROM"] == "registry.opensuse.org/opensuse/tumbleweed-port"
    # The %if around the first Macros: block compares against a %define in the file itself;
    # undefining it from outside is not possible, so flip it by editing the define.
    other = parse_prjconf(
        text.replace("%define _repository openSUSE_Tumbleweed", "%define _repository SLE_15"),
        "v.prjconf",
        predefined=X86,
    )
    assert other.macro("container_registry") is None
    assert other.macro("_with_ksm") == "1"


def test_rpm_defines_are_the_macros_blocks_only() -> None:
    conf = load_prjconf(DATA / "sle15-sp3.prjconf", predefined=X86)
    assert conf.rpm_defines() == [
        ("suse_version", "1500"),
        ("sle_version", "150300"),
        ("container_registry", "registry.suse.com"),
        ("container_tagprefix", "suse/sles/15.3"),
        ("container_labelprefix", "com.suse.kubevirt"),
    ]
    assert "sle_sp" in conf.defines
    assert "sle_sp" not in dict(conf.rpm_defines())


def test_sle_prjconf_keeps_every_directive() -> None:
    conf = load_prjconf(DATA / "sle15-sp3.prjconf", predefined=X86)
    assert conf.docker_args["KUBEVIRTFROM"] == "registry.suse.com/suse/sle15:15.3"
    assert conf.docker_args["CDIFROM"] == "registry.suse.com/suse/sle15:15.3"
    assert conf.build_flags == (
        "genmetaalgo:1",
        "nouseforbuild:obs-service-kubevirt_containers_meta",
        "useccache:kubevirt",
    )
    assert conf.directive_values("Preinstall") == (
        "aaa_base attr bash coreutils diffutils",
        "filesystem fillup glibc grep rpm sed tar",
    )
    assert conf.directive_values("ExportFilter") == (r"\.x86_64\.rpm$ x86_64",)
    assert conf.directive_values("Constraint") == ("hardware:disk:size unit=G 8",)
    s390 = parse_prjconf((DATA / "sle15-sp3.prjconf").read_text(), "s", predefined={
        "_target_cpu": "s390x"})  # fmt: skip
    assert s390.directive_values("Constraint") == ()
    assert conf.render_release(12, 3) == "12.3"


@pytest.mark.parametrize("path", REPO_PRJCONFS, ids=lambda p: p.name)
def test_project_prjconfs_parse(path: Path) -> None:
    conf = load_prjconf(path)
    assert "KUBEVIRTFROM" in conf.docker_args
    assert conf.macro("container_registry")
    assert conf.render_release(1, 1) == "1.1"


def test_minimal_prjconf_uses_obs_default_release() -> None:
    conf = load_prjconf(DATA / "minimal.prjconf")
    assert conf.release_template is None
    assert conf.render_release(4, 2) == "4.2"
    assert DEFAULT_RELEASE == "<CI_CNT>.<B_CNT>"
    assert dict(conf.docker_args) == {} and conf.rpm_defines() == []


def test_render_release_refuses_negative_counters() -> None:
    conf = parse_prjconf("Release: <CI_CNT>.<B_CNT>.x\n", "p")
    assert conf.render_release(0, 9) == "0.9.x"
    with pytest.raises(ValueError, match="negative"):
        conf.render_release(-1, 1)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_prjconf(tmp_path / "nope.prjconf")
    assert info.value.exit_code == 2
    assert str(tmp_path / "nope.prjconf") in info.value.one_line()


REFUSED = [
    # (text, line of the error, words the message must hold): what OBS ignores or rejects too,
    # or what cannot be honoured here; the message says which.
    ("%endif\n", 1, "%endif without %if, which OBS ignores"),
    ("%if 1 &&\n%endif\n", 1, "OBS rejects this config too"),
    ("%if %{nope} == 1\n%endif\n", 1, "syntax error"),
    ("%if (1\n%endif\n", 1, "unmatched ("),
    ("%if 1 = 1\n%endif\n", 1, "syntax error"),
    ("%setup -q\n", 1, "OBS ignores this line"),
    ("%define\n", 1, "needs a macro name"),
    ("%define %x 1\n", 1, "OBS ignores the line otherwise"),
    ("Type: spec\n\n:Macros\n", 3, "without a Macros:"),
    ("Macros:\nfoo 1\n:Macros\n", 2, "rpm ignores this one"),
    ("Macros:\n%foo\n:Macros\n", 2, "rpm refuses it"),
    ("Macros:\n%if 1\n:Macros\n", 2, "cannot be honoured inside Macros"),
    ("BuildFlags: dockerarg:KUBEVIRTFROM\n", 1, "OBS ignores it"),
    ("BuildFlags: dockerarg:=opensuse/tumbleweed\n", 1, "OBS ignores it"),
    ("BuildFlags:\n", 1, "with no word; OBS ignores this line"),
    ("BuildFlags:foo\n", 1, "no space after its colon"),
    ("BuildFlags :foo\n", 1, "a space before its colon"),
    ("Release: <CI_CNT>.<RELEASE>\n", 1, "cannot be honoured here"),
    ("Release: <CI_CNT>-<B_CNT>\n", 1, "cannot be honoured here"),
    ("Release: <CI_CNT\n", 1, "<CI_CNT"),
    ("Release: <CI_CNT>.%{nope}\n", 1, "cannot be honoured here"),
    ("Type: spec\nBuildFlag: dockerarg:A=b\n", 2, "unknown prjconf directive BuildFlag:"),
    ("just some words\n", 1, "not a prjconf directive"),
    ("Prefer: %(echo hi)\n", 1, "OBS cannot run it either"),
    ("%define a %a\nPrefer: %a\n", 2, "nest too deeply"),
    ("Type: spec\nFromScratch: x\n", 2, "OBS rejects it too"),
]


@pytest.mark.parametrize(("text", "line", "words"), REFUSED, ids=[m[2] for m in REFUSED])
def test_refusals_name_the_line_and_say_why(text: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_prjconf(text, "prjconf/bad.prjconf", predefined=X86)
    assert_input_error(info.value, "prjconf/bad.prjconf", line)
    assert words in info.value.message + info.value.one_line()


WARNED = [
    # (text, line of the warning, words, what OBS makes of it): accepted with OBS's meaning.
    ("Type: spec\n%if 1\nPrefer: a\n", 2, "never closed", ("a",)),
    ("%else\nPrefer: a\n%endif\nPrefer: b\n", 1, "%else without %if", ("b",)),
    ("%if 1\n%else\n%else\nPrefer: a\n%endif\n", 3, "switches the branch again", ("a",)),
    ('%if "%_nope" == "x"\nPrefer: a\n%endif\n', 1, "macro %_nope is not defined", ()),
    ("Prefer: %{nope}\n", 1, "macro %nope is not defined", ("%{nope}",)),
    ("Macros:\n%a 1\n", 1, "runs to the end of the file", ()),
    ("Macros:\n%a 1\n:Macros\nMacros:\n%a 2\n:Macros\n", 5, "first on line 2", ()),
    ("Release: 1\nRelease: 2\n", 2, "first on line 1", ()),
    ("BuildFlags: dockerarg:A=1\n\nBuildFlags: dockerarg:A=2\n", 3, "first on line 1", ()),
]


@pytest.mark.parametrize(("text", "line", "words", "prefer"), WARNED, ids=[w[2] for w in WARNED])
def test_warnings_keep_the_obs_meaning_and_name_the_line(
    text: str, line: int, words: str, prefer: tuple[str, ...]
) -> None:
    conf = parse_prjconf(text, "p.prjconf", predefined=X86)
    found = [n for n in conf.warnings if words in n.message]
    assert found, [n.one_line() for n in conf.warnings]
    assert found[0].location.line == line and found[0].hint
    assert found[0].one_line().startswith(f"p.prjconf:{line}:")
    assert conf.directive_values("Prefer") == prefer


def test_last_definition_wins_as_on_obs() -> None:
    text = (
        "Release: 1\nRelease: <CI_CNT>.<B_CNT> spec:lp152.<CI_CNT>.<B_CNT>\n"
        "BuildFlags: dockerarg:A=1 dockerarg:A=2 other !other\n"
        "Macros:\n%a 1\n:Macros\nMacros:\n%a 2\n"
    )
    conf = parse_prjconf(text, "p")
    assert conf.release_template == "lp152.<CI_CNT>.<B_CNT>"
    assert conf.release_words == ("<CI_CNT>.<B_CNT>", "spec:lp152.<CI_CNT>.<B_CNT>")
    assert conf.docker_args == {"A": "2"} and conf.docker_arg_lines == {"A": 3}
    assert conf.all_build_flags == ("dockerarg:A=1", "dockerarg:A=2")
    assert conf.macro("a") == "2" and conf.macros["a"].line == 8
    assert conf.macros_text == "%a 1\n%a 2\n"


def test_obs_constructs_are_accepted() -> None:
    text = (
        "%if 0%{?nope} || %{_target_cpu} == x86_64 && !0\nPrefer: or-and\n%endif\n"
        "%ifarch %ix86\nPrefer: ix86\n%elifarch %x86_64\nPrefer: x86\n%else\nPrefer: other\n"
        "%endif\n%if 0\nPrefer: no\n%elif 1\nPrefer: elif\n%elif 1\nPrefer: no2\n%endif\n"
        "%define pkg %{sub abcdef 2 4}\nPrefer: %pkg %{upper:x} %{len:abc}\n"
        "%ifos linux\nPrefer: linux\n%endif\n"
        "DistMacro: dist .lp152\nBuildFlags: dockerarg:A=1\nBuildFlags: !dockerarg:A=1\n"
        "Macros:\n%rubygem() %{expand:%%{rubygems %*}}\n%flags -a \\\n  -b\n"
    )
    conf = parse_prjconf(text, "p", predefined=X86)
    assert conf.directive_values("Prefer") == ("or-and", "x86", "elif", "bcd X 3", "linux")
    assert conf.dist_macros["dist"].value == ".lp152"
    assert conf.docker_args == {} and conf.all_build_flags == ()
    assert conf.macros["rubygem"].params == ""
    assert conf.rpm_defines() == [
        ("rubygem()", "%{expand:%%{rubygems %*}}"),
        ("flags", "-a \\\n  -b"),
    ]


def test_repository_and_bare_words_compare_as_on_obs() -> None:
    text = '%if %_repository == "containerfile"\nType: docker\n%else\nType: spec\n%endif\n'
    conf = parse_prjconf(text, "p", predefined={"_repository": "containerfile"})
    assert conf.type == "docker"
    assert parse_prjconf(text, "p", predefined={"_repository": "images"}).type == "spec"
    assert parse_prjconf("Preinstall: rpm\n", "p").type == "spec"


def test_dockerarg_error_points_at_the_line() -> None:
    with pytest.raises(InputError) as info:
        parse_prjconf("BuildFlags: genmetaalgo:1  dockerarg:X\n", "p")
    assert info.value.one_line().startswith("p:1: ")


def test_supported_expressions() -> None:
    cases = {
        "1": True, "0": False, "!0": True, "!1": False, "2 > 1": True, "2 <= 1": False,
        "-1 < 0": True, "3 == 3": True, "3 != 3": False, '"a" == "a"': True,
        '"a" != "a"': False, '"%{?unset}" == ""': True, '"a" < "b"': True,
        'v"1.10" > v"1.9"': True, "1 && 0": False, "0 || 2": True, "1 + 2 * 3 == 7": True,
        "(1 || 0) && 0": False, "1 ? 0 : 1": False, "x86_64 == x86_64": True,
    }  # fmt: skip
    for expr, expected in cases.items():
        text = f"%if {expr}\nPrefer: yes\n%else\nPrefer: no\n%endif\n"
        conf = parse_prjconf(text, "p")
        assert conf.directive_values("Prefer") == ("yes" if expected else "no",), expr


def test_nested_conditionals_in_a_false_branch_stay_off() -> None:
    text = "%if 0\n%if 1\nPrefer: a\n%else\nPrefer: b\n%endif\n%else\nPrefer: c\n%endif\n"
    assert parse_prjconf(text, "p").directive_values("Prefer") == ("c",)


def test_undefine_and_percent_escape() -> None:
    text = "%define a x\n%undefine a\nPrefer: 100%% %{?a}done\n"
    assert parse_prjconf(text, "p").directive_values("Prefer") == ("100% done",)


# --- generated inputs -----------------------------------------------------------------------


def _random_name(rng: random.Random) -> str:
    first = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcxyz")
    return first + "".join(rng.choice("ABCXYZ_0123456789abc") for _ in range(rng.randint(0, 12)))


def test_generated_docker_args_round_trip() -> None:
    rng = random.Random(20240501)
    for _ in range(200):
        expected: dict[str, str] = {}
        lines = []
        while len(expected) < rng.randint(1, 6):
            key = _random_name(rng)
            if key in expected:
                continue
            value = "".join(rng.choice("abcz019./:-_=@") for _ in range(rng.randint(0, 40)))
            expected[key] = value
            noise = rng.choice(["", "genmetaalgo:1 ", "useccache:kubevirt "])
            lines.append(f"BuildFlags: {noise}dockerarg:{key}={value}")
            lines.extend(rng.choice(["", "# a comment", "  ", "Prefer: go"]) for _ in range(2))
        conf = parse_prjconf("\n".join(lines) + "\n", "gen.prjconf")
        assert dict(conf.docker_args) == expected
        assert all(f.startswith(("genmetaalgo", "useccache")) for f in conf.build_flags)


def test_generated_release_templates_render_as_substitution() -> None:
    rng = random.Random(7)
    pieces = ["<CI_CNT>", "<B_CNT>", ".", "1", "lp", "_", "+", "~git"]
    for _ in range(300):
        template = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        conf = parse_prjconf(f"Release: {template}\n", "r")
        ci, b = rng.randint(0, 10_000), rng.randint(0, 10_000)
        rendered = conf.render_release(ci, b)
        assert "<" not in rendered and ">" not in rendered
        assert rendered == template.replace("<CI_CNT>", str(ci)).replace("<B_CNT>", str(b))


def test_mutated_configs_fail_only_with_input_errors() -> None:
    """Whatever a typo does to a valid file, the result is a parse or an InputError whose line
    exists in the file: never another exception, never a line number outside the file."""
    rng = random.Random(99)
    sources = [p.read_text() for p in sorted(DATA.glob("*.prjconf"))]
    alphabet = "%:<>{}!?#\\ \n=abcXYZ19"
    for _ in range(600):
        text = list(rng.choice(sources))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(text))
            action = rng.random()
            if action < 0.4:
                text[pos] = rng.choice(alphabet)
            elif action < 0.7:
                del text[pos]
            else:
                text.insert(pos, rng.choice(alphabet))
        mutated = "".join(text)
        try:
            parse_prjconf(mutated, "m.prjconf", predefined=X86)
        except InputError as err:
            assert err.location is not None
            assert 1 <= err.location.line <= max(1, len(mutated.splitlines()))
            assert err.one_line().startswith("m.prjconf:")


def test_every_known_directive_is_kept_verbatim() -> None:
    names = [
        n for n in KNOWN_DIRECTIVES.values() if n not in ("Release", "DistMacro", "FromScratch")
    ]
    text = "".join(f"{name}: value-of-{name.lower()} x\n" for name in names)
    conf = parse_prjconf(text, "all.prjconf")
    assert [(d.name, d.value, d.line) for d in conf.directives] == [
        (name, f"value-of-{name.lower()} x", i) for i, name in enumerate(names, 1)
    ]
    # Directive names are case-insensitive, as in OBS.
    assert parse_prjconf("bUILDfLAGS: dockerarg:A=b\n", "p").docker_args["A"] == "b"
