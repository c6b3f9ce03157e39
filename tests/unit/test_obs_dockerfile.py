"""The Dockerfile parser on OBS-style KubeVirt and CDI Dockerfiles, on the malformations it must
refuse, FROM resolution and build tag expansion (the reference grammar is in test_reference)."""

from __future__ import annotations

import random
import re

import pytest

from pipeline.core.errors import EXIT_INPUT, InputError
from pipeline.images.reference import parse_reference
from pipeline.obs.dockerfile import BuildTag, load_dockerfile, parse_dockerfile
from pipeline.obs.dockerfile_args import expand_build_tag, resolve_from, substitute
from tests.support.paths import DATA as TEST_DATA

DATA = TEST_DATA / "dockerfiles"
SLE = "registry.suse.com/suse/sle15:15.3"


def assert_input_error(err: InputError, path: str, line: int) -> None:
    assert err.exit_code == EXIT_INPUT == 2
    where = rf"{re.escape(path)}:{line}(:\d+)?" if line else re.escape(path)
    assert re.match(rf"{where}: \S", err.one_line()), err.one_line()
    assert err.hint
    assert "\n" not in err.one_line()


def test_virt_api_magic_comments_and_labels() -> None:
    df = load_dockerfile(DATA / "kubevirt-virt-api" / "Dockerfile")
    assert df.build_tags == (
        BuildTag("%%TAGPREFIX%%/virt-api:%%PKG_VERSION%%", 4, 13),
        BuildTag("%%TAGPREFIX%%/virt-api:%%PKG_VERSION%%-%%PKG_RELEASE%%", 4, 52),
        BuildTag("%%TAGPREFIX%%/virt-api:%%PKG_VERSION%%.%RELEASE%", 5, 13),
    )
    assert df.use_obs_repositories and not df.no_squash
    assert df.exclusive_arch == ("x86_64", "aarch64") and df.exclude_arch == ()
    assert df.builds_on("aarch64") and not df.builds_on("s390x")
    assert df.build_name is df.build_version is df.build_release is None
    assert [(a.name, a.default, a.line, a.is_global) for a in df.args] == [
        ("KUBEVIRTFROM", None, 13, True)
    ]
    assert [(s.image, s.name, s.line) for s in df.stages] == [("$KUBEVIRTFROM", None, 14)]
    assert len(df.labels) == 6
    assert all(lab.prefixed and lab.prefix == "%%LABELPREFIX%%" for lab in df.labels)
    assert df.labels[0].key == "org.opencontainers.image.title"
    assert df.labels[0].value == "kubevirt virt-api container"
    assert df.labels[5].value == (
        "%%REGISTRY%%/%%TAGPREFIX%%/virt-api:%%PKG_VERSION%%-%%PKG_RELEASE%%"
    )
    run = [i for i in df.instructions if i.keyword == "RUN"]
    assert len(run) == 1 and (run[0].line, run[0].end_line) == (27, 29)
    assert run[0].arguments.startswith("zypper -n install kubevirt-virt-api shadow && ")
    assert run[0].arguments.endswith("-u 1001 virt-api")
    assert [i.keyword for i in df.instructions][-2:] == ["USER", "ENTRYPOINT"]
    assert df.lines[3].startswith("#!BuildTag:")


def test_virt_launcher_continuations_comments_and_legacy_label() -> None:
    df = load_dockerfile(DATA / "kubevirt-virt-launcher" / "Dockerfile")
    assert df.exclude_arch == ("s390x", "ppc64le") and df.exclusive_arch == ()
    assert df.no_squash
    assert df.builds_on("x86_64") and not df.builds_on("ppc64le")
    labels = {lab.key: lab for lab in df.labels}
    assert labels["org.opencontainers.image.description"].value == (
        "Launcher for the virtual machine processes"
    )
    assert labels["org.opencontainers.image.version"].line == 13
    assert labels["org.openbuildservice.disturl"].prefix == "%%LABELPREFIX%%"
    assert labels["maintainer"].value == "Virtualization team <virt@example.org>"
    assert labels["maintainer"].prefix is None and not labels["maintainer"].prefixed
    zypper_opts = next(a for a in df.args if a.name == "ZYPPER_OPTS")
    assert zypper_opts.default == "--no-recommends --no-confirm" and not zypper_opts.is_global
    run = next(i for i in df.instructions if i.keyword == "RUN")
    assert "the binaries come from" not in run.arguments
    assert "kubevirt-virt-launcher" in run.arguments and (run.line, run.end_line) == (21, 27)
    assert resolve_from(df, {}) == ["registry.opensuse.org/opensuse/tumbleweed"]
    assert resolve_from(df, {"KUBEVIRTFROM": SLE}) == [SLE]


def test_virt_operator_build_name_version_release() -> None:
    df = load_dockerfile(DATA / "kubevirt-virt-operator" / "Dockerfile")
    assert (df.build_name, df.build_version, df.build_release) == (
        "virt-operator",
        "%%PKG_VERSION%%",
        "%%PKG_RELEASE%%",
    )
    assert df.tags() == (
        "%%TAGPREFIX%%/virt-operator:%%PKG_VERSION%%",
        "%%TAGPREFIX%%/virt-operator:%%PKG_VERSION%%-%%PKG_RELEASE%%",
    )
    assert [m.name for m in df.magic] == [
        "BuildTag", "BuildTag", "BuildName", "BuildVersion", "BuildRelease", "UseOBSRepositories",
    ]  # fmt: skip
    # No "# endlabelprefix": the block runs to the end of the file.
    assert {lab.prefix for lab in df.labels} == {"%%LABELPREFIX%%"}


def test_cdi_importer_default_chain() -> None:
    df = load_dockerfile(DATA / "cdi-importer" / "Dockerfile")
    assert resolve_from(df, {}) == ["registry.opensuse.org/opensuse/tumbleweed"]
    assert resolve_from(df, {"KUBEVIRTFROM": SLE}) == [SLE]
    assert resolve_from(df, {"CDIFROM": "opensuse/leap:15.5", "KUBEVIRTFROM": SLE}) == [
        "opensuse/leap:15.5"
    ]
    run = next(i for i in df.instructions if i.keyword == "RUN")
    assert "\tqemu-tools" in run.arguments


def test_substituted_dockerfile_tags_are_valid_references() -> None:
    df = load_dockerfile(DATA / "cdi-uploadserver-substituted" / "Dockerfile")
    expanded = [expand_build_tag(t, df.build_version, df.build_release) for t in df.tags()]
    assert expanded == [
        "kubevirt/cdi-uploadserver:1.58.0",
        "kubevirt/cdi-uploadserver:1.58.0-150500.3.7",
        "kubevirt/cdi-uploadserver:1.58.0-150500.3.7",
    ]
    for tag in expanded:
        assert str(parse_reference(tag)) == f"docker.io/{tag}"
    assert [lab.key for lab in df.labels] == [
        "org.opensuse.kubevirt.title",
        "org.opencontainers.image.title",
        "org.opensuse.reference",
    ]
    assert str(parse_reference(df.labels[2].value)) == df.labels[2].value


def test_multistage_resolution_keeps_stage_names() -> None:
    df = load_dockerfile(DATA / "multistage" / "Dockerfile")
    assert [(s.name, s.platform) for s in df.stages] == [
        ("build", "linux/amd64"),
        ("final", None),
        (None, None),
    ]
    assert [a.name for a in df.global_args()] == ["BUILDER", "KUBEVIRTFROM"]
    assert resolve_from(df, {"KUBEVIRTFROM": SLE, "UNUSED": "x"}) == [
        "registry.opensuse.org/opensuse/bci/golang:1.21",
        SLE,
        "final",
    ]


def test_from_needing_an_unset_build_arg_names_it() -> None:
    df = load_dockerfile(DATA / "kubevirt-virt-api" / "Dockerfile")
    with pytest.raises(InputError) as info:
        resolve_from(df, {"OTHER": SLE})
    assert_input_error(info.value, str(DATA / "kubevirt-virt-api" / "Dockerfile"), 14)
    assert "FROM needs build arg KUBEVIRTFROM" in info.value.message
    assert "dockerarg:KUBEVIRTFROM" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("text", "build_args", "line", "words"),
    [
        ("FROM $BASE\n", {"BASE": "x"}, 1, "no ARG before the first FROM declares"),
        ("ARG BASE\nFROM ${BASE}\n", {"BASE": "Opensuse/Tumbleweed"}, 2, "must be lower case"),
        ("ARG BASE\nFROM ${BASE}\n", {"BASE": ""}, 2, "not a valid image reference"),
        ("ARG B=x\nFROM ${B?oops}\n", {}, 2, "not a supported substitution"),
        ("FROM %%REGISTRY%%/base\n", {}, 1, "not a valid image reference"),
        ("FROM scratch AS a\nFROM a\nFROM B\n", {}, 3, "not a valid image reference"),
        ("ARG B=x\nFROM ${B:-x\n", {}, 2, "without a closing }"),
    ],
)
def test_resolve_from_refusals(
    text: str, build_args: dict[str, str], line: int, words: str
) -> None:
    df = parse_dockerfile(text, "img/Dockerfile")
    with pytest.raises(InputError) as info:
        resolve_from(df, build_args)
    assert_input_error(info.value, "img/Dockerfile", line)
    assert words in info.value.message


def test_substitution_forms() -> None:
    values = {"A": "a", "E": ""}
    lookup = values.get
    assert substitute("$A/${A}/${A:-x}/${E:-x}/${U:-x}/${A:+y}/${E:+y}", lookup) == "a/a/a/x/x/y/"
    assert substitute(r"\$A-$", lookup) == "$A-$"
    assert substitute("${U:-${A}b}", lookup) == "ab"
    with pytest.raises(ValueError, match="U"):
        substitute("$U", lookup)


def test_expand_build_tag() -> None:
    assert expand_build_tag("kubevirt/virt-api:<VERSION>-<RELEASE>", "1.1.0", "3.2") == (
        "kubevirt/virt-api:1.1.0-3.2"
    )
    assert expand_build_tag("kubevirt/virt-api:latest", None, None) == "kubevirt/virt-api:latest"
    with pytest.raises(ValueError, match="<RELEASE>"):
        expand_build_tag("a:<VERSION>-<RELEASE>", "1", None)
    with pytest.raises(ValueError, match="<BUILDTIME>"):
        expand_build_tag("a:<BUILDTIME>", "1", "2")


MALFORMED = [
    ("#!BuildTags: a/b:1\nFROM scratch\n", 1, "unknown OBS magic comment #!BuildTags", "BuildTag"),
    ("#!buildtag: a/b:1\nFROM scratch\n", 1, "unknown OBS magic comment", "#!BuildTag"),
    ("FROM scratch\n#!BuildTag:\n", 2, "#!BuildTag: with no tag", None),
    ("FROM scratch\n#!BuildTag a/b\n", 2, "OBS ignores this line", None),
    ("FROM scratch\n#!BuildTag : a/b\n", 2, "a space before its ':'", None),
    ("#!ExclusiveArch:   \nFROM scratch\n", 1, "with no value", None),
    ("#!UseOBSRepositories: yes\nFROM scratch\n", 1, "takes no value", None),
    ("#!BuildName: a b\nFROM scratch\n", 1, "takes one word", None),
    ("#!UnorderedRepos\nFROM scratch\n", 1, "cannot be honoured here", None),
    ("FROM scratch\nRUN a \\\n  #!BuildTag: x\n  b\n", 3, "inside a continued", None),
    ("# just a comment\nARG A=1\n", 0, "has no FROM", None),
    ("", 0, "has no FROM", None),
    ("FROM scratch\nRNU zypper -n install x\n", 2, "RNU is not a Dockerfile instruction", "RUN"),
    ("FROM scratch\nCOPYY a b\n", 2, "is not a Dockerfile instruction", None),
    ("FROM scratch\nRUN zypper -n install \\\n   a \\\n", 3, "file ends", None),
    ("FROM scratch\nRUN a \\\n# trailing comment\n", 2, "file ends", None),
    ('FROM scratch\nLABEL a="b\n', 2, 'LABEL has an unclosed " quote', None),
    ("FROM scratch\nLABEL a='b c\n", 2, "unclosed ' quote", None),
    ('FROM scratch\nLABEL a=b \\\n  c="d\nUSER 1\n', 2, "unclosed", None),
    ("FROM scratch\nLABEL a=b =c\n", 2, "not key=value", None),
    ("FROM scratch\nPREFIXEDLABEL a=1 b\n", 2, "not key=value", None),
    ("RUN true\nFROM scratch\n", 1, "RUN before the first FROM", None),
    ("FROM scratch\nRUN\n", 2, "RUN without arguments", None),
    ("FROM a b c d\n", 1, "is not 'image [AS name]'", None),
    ("FROM --pull=always a\n", 1, "option --pull=always", None),
    ("FROM a AS x\nFROM b as X\n", 2, "used twice", None),
    ("FROM a AS 1x\n", 1, "stage name", None),
    ("ARG 1A=2\nFROM scratch\n", 1, "ARG name", None),
    ('ARG A="x\nFROM scratch\n', 1, "unclosed", None),
    ("FROM scratch\nONBUILD FROM x\n", 2, "ONBUILD FROM", None),
    ("# escape=`\nFROM scratch\n", 1, "escape character", None),
]


@pytest.mark.parametrize(
    ("text", "line", "words", "hint_words"), MALFORMED, ids=[f"{m[1]}-{m[2]}" for m in MALFORMED]
)
def test_malformed_dockerfile_is_refused_with_its_line(
    text: str, line: int, words: str, hint_words: str | None
) -> None:
    with pytest.raises(InputError) as info:
        parse_dockerfile(text, "dockerfiles/kubevirt/virt-api/Dockerfile")
    assert_input_error(info.value, "dockerfiles/kubevirt/virt-api/Dockerfile", line)
    assert words in info.value.message
    if hint_words:
        assert hint_words in (info.value.hint or "")


def test_placeholders_are_plain_text_before_services_run() -> None:
    text = (
        "#!BuildTag: %%TAGPREFIX%%/x:%%PKG_VERSION%%-%RELEASE%\n"
        "FROM %%BASE%%\n"
        'LABEL org.opensuse.reference="%%REGISTRY%%/%%TAGPREFIX%%/x:%%PKG_VERSION%%"\n'
    )
    df = parse_dockerfile(text, "D")
    assert df.tags() == ("%%TAGPREFIX%%/x:%%PKG_VERSION%%-%RELEASE%",)
    with pytest.raises(ValueError, match="placeholders %%TAGPREFIX%%, %%PKG_VERSION%%, %RELEASE%"):
        parse_reference(df.tags()[0])


def test_instruction_keywords_are_case_insensitive_and_tabs_separate() -> None:
    df = parse_dockerfile("from scratch\nrun\ttrue\nLabel a=b\n", "D")
    assert [(i.keyword, i.arguments) for i in df.instructions] == [
        ("FROM", "scratch"),
        ("RUN", "true"),
        ("LABEL", "a=b"),
    ]


# --- generated inputs -----------------------------------------------------------------------


def _component(rng: random.Random) -> str:
    parts = ["".join(rng.choice("abz09") for _ in range(rng.randint(1, 5)))]
    for _ in range(rng.randint(0, 2)):
        parts.append(rng.choice([".", "_", "__", "-", "--"]))
        parts.append("".join(rng.choice("abz09") for _ in range(rng.randint(1, 4))))
    return "".join(parts)


def test_generated_labels_round_trip() -> None:
    rng = random.Random(11)
    for _ in range(300):
        pairs = []
        for _ in range(rng.randint(1, 4)):
            key = "org." + _component(rng)
            value = "".join(rng.choice("ab %:/.-\"'\\$") for _ in range(rng.randint(0, 20)))
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            pairs.append((key, value, f'{key}="{escaped}"'))
        text = "FROM scratch\nLABEL " + " \\\n  ".join(p[2] for p in pairs) + "\n"
        df = parse_dockerfile(text, "L")
        assert [(lab.key, lab.value, lab.line) for lab in df.labels] == [
            (k, v, 2) for k, v, _ in pairs
        ]


def test_mutated_dockerfiles_fail_only_with_input_errors() -> None:
    rng = random.Random(5)
    sources = [p.read_text() for p in sorted(DATA.glob("*/Dockerfile"))]
    alphabet = "#!:\\\"' \n=$AZaz{}"
    for _ in range(600):
        text = list(rng.choice(sources))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(text))
            if rng.random() < 0.5:
                text[pos] = rng.choice(alphabet)
            else:
                text.insert(pos, rng.choice(alphabet))
        mutated = "".join(text)
        try:
            df = parse_dockerfile(mutated, "m/Dockerfile")
        except InputError as err:
            assert err.location is not None
            assert 1 <= err.location.line <= max(1, len(mutated.splitlines()))
            continue
        assert df.stages
        try:
            resolve_from(df, {"KUBEVIRTFROM": SLE})
        except InputError as err:
            assert err.one_line().startswith("m/Dockerfile:")
