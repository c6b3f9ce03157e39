"""docker_label_helper and kiwi_metainfo_helper: the real helpers' output, stricter errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.services import kiwi_metainfo_helper as metainfo
from pipeline.services.base import ServiceContext
from pipeline.services.docker_label_helper import expand


def test_label_block_form() -> None:
    text = (
        "FROM opensuse/tumbleweed\n"
        "# labelprefix=com.example.editor\n"
        'LABEL org.opencontainers.image.title="Editor  image.\tv2"\n'
        "LABEL org.opencontainers.image.version=1.0\n"
        "# endlabelprefix\n"
        'LABEL kept.as.is="yes"\n'
    )
    assert expand(text, "Dockerfile") == (
        "FROM opensuse/tumbleweed\n"
        'LABEL com.example.editor.title="Editor  image.\tv2"\n'
        'LABEL org.opencontainers.image.title="Editor  image.\tv2"\n'
        "LABEL com.example.editor.version=1.0\n"
        "LABEL org.opencontainers.image.version=1.0\n"
        'LABEL kept.as.is="yes"\n'
    )


def test_prefixedlabel_form_and_values_with_dots_and_equals() -> None:
    text = (
        "# labelprefix=com.example.editor\n"
        'PREFIXEDLABEL org.opencontainers.image.url="https://a.example/x?y=1.2"\n'
        'PREFIXEDLABEL com.example.description="a.b=c"\n'
    )
    assert expand(text, "Dockerfile") == (
        'LABEL com.example.editor.url="https://a.example/x?y=1.2"\n'
        'LABEL org.opencontainers.image.url="https://a.example/x?y=1.2"\n'
        'LABEL com.example.editor.description="a.b=c"\n'
        'LABEL com.example.description="a.b=c"\n'
    )


def test_placeholder_prefix_survives_for_replace_using_env() -> None:
    """openSUSE lists the label helper before replace_using_env: the prefix is still a
    placeholder then, and must come through as text."""
    text = '# labelprefix=%%LABELPREFIX%%\nLABEL org.opencontainers.image.title="t"\n'
    assert expand(text, "Dockerfile").splitlines()[0] == 'LABEL %%LABELPREFIX%%.title="t"'


def test_crlf_kept() -> None:
    text = "# labelprefix=p\r\nLABEL a.b=1\r\n"
    assert expand(text, "f") == "LABEL p.b=1\r\nLABEL a.b=1\r\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('FROM x\nPREFIXEDLABEL a.b="c"\n', 2, "PREFIXEDLABEL without a '# labelprefix='"),
        ('# labelprefix=p\nLABEL a.b="c" d.e="f"\n', 2, "more than one label"),
        ("# labelprefix=p\nLABEL a.b=c d.e=f\n", 2, "more than one label"),
        ('# labelprefix=p\nLABEL a.b="c \\\n', 2, "line continuation"),
        ('# labelprefix=p\nLABEL a.b="c\n', 2, "unbalanced"),
        ("# labelprefix=\nLABEL a.b=c\n", 1, "invalid label prefix"),
        ("# labelprefix=a b\nLABEL a.b=c\n", 1, "invalid label prefix"),
    ],
)
def test_label_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as info:
        expand(text, "Dockerfile")
    assert info.value.one_line().startswith(f"Dockerfile:{line}:")
    assert message in info.value.one_line()


def test_buildtime_is_source_date_epoch() -> None:
    assert metainfo.buildtime(0) == "1970-01-01T00:00:00.000000000Z"
    assert metainfo.buildtime(1700000000) == "2023-11-14T22:13:20.000000000Z"


def test_sourceurl_from_disturl() -> None:
    disturl = (
        "obs://build.opensuse.org/Virtualization/openSUSE_Tumbleweed/"
        "0f40c57dd619e1dff9e512949b6bca09-kubevirt-virt-api"
    )
    assert metainfo.sourceurl_from_disturl(disturl) == (
        "https://build.opensuse.org/package/show/Virtualization/kubevirt-virt-api"
        "?rev=0f40c57dd619e1dff9e512949b6bca09"
    )
    ibs = "obs://build.suse.de/SUSE:SLE-15:Update/images/2951b671-sles15-image"
    assert metainfo.sourceurl_from_disturl(ibs) == (
        "https://sources.suse.com/SUSE:SLE-15:Update/sles15-image/2951b671/"
    )
    assert metainfo.sourceurl_from_disturl("local") is None


def context(**facts: object) -> ServiceContext:
    return ServiceContext(sysroot=Path("/nonexistent"), rpms_dir=Path("/nonexistent"), **facts)  # type: ignore[arg-type]


def test_metainfo_values_and_derived_os_names() -> None:
    table = metainfo.values(
        context(
            release="4.2",
            source_date_epoch=86400,
            os_pretty_name="SUSE Linux Enterprise Server 15 SP3 (Snapshot16)",
            os_version_id="15.3",
            os_version_id_sp="15.3",
            disturl="obs://build.opensuse.org/P/R/abc123-pkg",
        )
    )
    assert table["RELEASE"] == "4.2"
    assert table["BUILDTIME"] == "1970-01-02T00:00:00.000000000Z"
    assert table["SOURCEURL"] == "https://build.opensuse.org/package/show/P/pkg?rev=abc123"
    assert table["OS_VENDOR"] == "SUSE"
    assert table["OS_PRETTY_NAME_DASHED"] == "SUSE-Linux-Enterprise-Server-15-SP3-Snapshot16"
    assert table["OS_PRETTY_NAME_BEFORE_PAREN"] == "SUSE Linux Enterprise Server 15 SP3"
    assert table["OS_PRETTY_NAME_BEFORE_PAREN_DASHED"] == "SUSE-Linux-Enterprise-Server-15-SP3"
    assert table["OS_VERSION"] is None


def test_metainfo_run(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        '#!BuildTag: a/b:1.0-%RELEASE%\nLABEL created="%BUILDTIME%" os="%OS_PRETTY_NAME%"\n'
        "RUN printf '%s %PATH%'\n"
    )
    outdir = tmp_path / "out"
    outdir.mkdir()
    args = metainfo.build_parser().parse_args(["--outdir", str(outdir)])
    result = metainfo.run(
        args,
        tmp_path,
        context(release="3.1", source_date_epoch=60, os_pretty_name="openSUSE Tumbleweed"),
    )
    assert result.written == ("Dockerfile",)
    assert (outdir / "Dockerfile").read_text() == (
        "#!BuildTag: a/b:1.0-3.1\n"
        'LABEL created="1970-01-01T00:01:00.000000000Z" os="openSUSE Tumbleweed"\n'
        "RUN printf '%s %PATH%'\n"
    )


@pytest.mark.parametrize(
    ("line", "facts", "message"),
    [
        ("LABEL d=%DISTURL%", {}, "placeholder %DISTURL% has no value in this build"),
        ("LABEL t=%BUILDTIME%", {}, "placeholder %BUILDTIME% has no value"),
        ("LABEL v=%OS_VERSION%", {}, "placeholder %OS_VERSION% has no value"),
        ("#!BuildTag: a:%OS_PRETTY_NAME%", {"os_pretty_name": "openSUSE Tumbleweed"}, "space"),
        ("#!BuildTag: a:%RELEASE%", {"release": "1\n#!BuildTag: evil"}, "newline"),
    ],
)
def test_metainfo_refusals(
    tmp_path: Path, line: str, facts: dict[str, object], message: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM x\n{line}\n")
    outdir = tmp_path / "out"
    outdir.mkdir()
    args = metainfo.build_parser().parse_args(["--outdir", str(outdir)])
    with pytest.raises(InputError) as info:
        metainfo.run(args, tmp_path, context(**facts))
    assert info.value.one_line().startswith(f"{tmp_path / 'Dockerfile'}:2:")
    assert message in info.value.one_line()
