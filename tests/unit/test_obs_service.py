"""The _service parser: services in order, params repeated and ordered, errors at their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_INPUT, InputError
from pipeline.obs.service import MODES, load_service, parse_service
from tests.support.paths import DATA as TEST_DATA

DATA = TEST_DATA / "services"


def test_real_shaped_service_file() -> None:
    service_file = load_service(DATA / "kubevirt-virt-api" / "_service")
    names = [s.name for s in service_file.services]
    assert names == [
        "kiwi_metainfo_helper",
        "docker_label_helper",
        "kubevirt_containers_meta",
        "replace_using_env",
        "download_files",
    ]
    assert [s.name for s in service_file.buildtime()] == names[:4]
    replace = service_file.services[3]
    assert replace.mode == "buildtime"
    assert replace.line == 7
    assert replace.values("var") == (
        "PKG_VERSION",
        "PKG_RELEASE",
        "TAGPREFIX",
        "LABELPREFIX",
        "REGISTRY",
    )
    assert replace.params[0] == ("file", "Dockerfile")
    assert replace.param_lines == (8, 9, 10, 11, 12, 13, 14)
    assert replace.argv()[:4] == [
        "--file",
        "Dockerfile",
        "--eval",
        "pkg=kubevirt-virt-api source /usr/lib/obs/service/kubevirt_containers_meta",
    ]
    assert service_file.services[4].mode == "disabled"
    assert service_file.services[0].params == ()


def test_modes_and_default() -> None:
    body = "".join(f'<service name="svc{i}" mode="{m}"/>' for i, m in enumerate(MODES))
    parsed = parse_service(f"<services>{body}<service name='plain'/></services>", "_service")
    assert [s.mode for s in parsed.services] == [*MODES, None]


def test_param_text_kept_verbatim_and_lines() -> None:
    text = """<services>
  <service name="replace_using_env" mode="buildtime">
    <param name="var">A B</param>
    <param name="var">C</param>
    <param name="eval"><![CDATA[pkg=x source /usr/lib/obs/service/m]]></param>
  </service>
</services>
"""
    service = parse_service(text, "_service").services[0]
    assert service.params == (
        ("var", "A B"),
        ("var", "C"),
        ("eval", "pkg=x source /usr/lib/obs/service/m"),
    )
    assert service.param_line("var", "B") == 3
    assert service.param_line("var", "C") == 4
    assert service.param_line("eval") == 5
    assert service.param_line("file") == 2


def test_entities_of_xml_itself_are_fine() -> None:
    text = (
        '<services><service name="abc"><param name="x">a &amp; b &lt;c&gt;</param>'
        "</service></services>"
    )
    assert parse_service(text, "_service").services[0].params == (("x", "a & b <c>"),)


MALFORMED = [
    ("<services><service name='abc'>\n</services>", 2, "not well-formed XML"),
    ("", 1, "not well-formed XML"),
    ("<?xml version='1.0'?>\n<service name='abc'/>", 2, "expected <services>"),
    ("<services>\n  <service mode='buildtime'/>\n</services>", 2, "without a name"),
    ("<services>\n\n <service name='abc' mode='sometimes'/></services>", 3, "unknown mode"),
    (
        "<services><service name='abc'>\n<param>x</param></service></services>",
        2,
        "<param> without a name",
    ),
    (
        "<services>\n<service name='abc'>\n\n<parameter name='x'/></service></services>",
        4,
        "unexpected element <parameter>",
    ),
    ("<services>\n<services/></services>", 2, "unexpected element <services>"),
    (
        "<services>\n<service name='abc' moed='buildtime'/></services>",
        2,
        "unexpected attribute 'moed'",
    ),
    ("<services>\n<service name='../../bin/sh'/></services>", 2, "invalid service name"),
    (
        "<services>\n<service name='abc'><param name='--x'>1</param></service></services>",
        2,
        "invalid parameter name",
    ),
    (
        "<services><service name='abc'>\n<param name='x'>a<b/></param></service></services>",
        2,
        "unexpected element <b> inside <param>",
    ),
    ("<services>\n  stray text\n</services>", 2, "unexpected text"),
    ("<services/>\n<services/>", 2, "not well-formed XML"),
    (
        "<services><service name='abc'><param name='x'>&nope;</param></service></services>",
        1,
        "not well-formed XML",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), MALFORMED)
def test_malformed_service_files(text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_service(text, "pkg/_service")
    error = info.value
    assert error.exit_code == EXIT_INPUT == 2
    assert error.one_line().startswith(f"pkg/_service:{line}:")
    assert message in error.one_line()
    assert "\n" not in error.one_line()


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE services [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<services><service name="abc"><param name="x">&lol3;</param></service></services>
"""

EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE services [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<services><service name="abc"><param name="x">&secret;</param></service></services>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL])
def test_dtd_and_entities_refused(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_service(text, "_service")
    assert info.value.one_line().startswith("_service:2:")
    assert "DTD" in info.value.one_line()


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_service(tmp_path / "_service")
    assert "cannot read" in info.value.one_line()
    assert info.value.exit_code == 2
