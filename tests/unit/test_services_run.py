"""run_services on image directories: the osc contract, eval forms, errors at the right line."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.obs.service import parse_service
from pipeline.services.base import ServiceContext, ServiceUsageError
from pipeline.services.evalparam import parse_eval
from pipeline.services.runner import run_services
from tests.support.paths import DATA as TEST_DATA

DATA = TEST_DATA / "services"
SYSROOT = DATA / "sysroot"
META = "/usr/lib/obs/service/kubevirt_containers_meta"


def context(tmp_path: Path, sysroot: Path = SYSROOT) -> ServiceContext:
    return ServiceContext(
        sysroot=sysroot,
        rpms_dir=tmp_path / "rpms",
        source_date_epoch=1700000000,
        release="7.1",
        disturl="obs://build.opensuse.org/Virtualization/openSUSE_Tumbleweed/"
        "0f40c57dd619e1dff9e512949b6bca09-kubevirt-virt-api",
    )


def image(tmp_path: Path, service: str, dockerfile: str | None = None) -> Path:
    workdir = tmp_path / "img"
    shutil.copytree(DATA / "kubevirt-virt-api", workdir)
    (workdir / "_service").write_text(service)
    if dockerfile is not None:
        (workdir / "Dockerfile").write_text(dockerfile)
    return workdir


def replace_service(*params: str, eval_: str = f"source {META}") -> str:
    lines = [f'    <param name="eval">{eval_}</param>' if eval_ else "", *params]
    body = "\n".join(line for line in lines if line)
    return (
        "<services>\n"
        '  <service mode="buildtime" name="replace_using_env">\n'
        '    <param name="file">Dockerfile</param>\n'
        f"{body}\n"
        "  </service>\n"
        "</services>\n"
    )


def run_in(workdir: Path, tmp_path: Path, sysroot: Path = SYSROOT) -> list[object]:
    service_file = parse_service((workdir / "_service").read_text(), workdir / "_service")
    return list(run_services(service_file, workdir, context(tmp_path, sysroot)))


def test_all_services_of_a_real_shaped_package(tmp_path: Path) -> None:
    service = (DATA / "kubevirt-virt-api" / "_service").read_text()
    # without pkg=: versions come from the meta file (pkg= needs RPMs: test_services_rpm.py)
    service = service.replace("pkg=kubevirt-virt-api ", "")
    workdir = image(tmp_path, service)
    results = run_in(workdir, tmp_path)
    text = (workdir / "Dockerfile").read_text()
    assert "#!BuildTag: kubevirt/virt-api:1.1.0\n" in text
    assert "#!BuildTag: kubevirt/virt-api:1.1.0-3.7\n" in text
    assert (
        'LABEL org.opensuse.kubevirt.title="kubevirt virt-api container"\n'
        'LABEL org.opencontainers.image.title="kubevirt virt-api container"\n' in text
    )
    assert 'LABEL org.opensuse.kubevirt.created="2023-11-14T22:13:20.000000000Z"' in text
    assert 'LABEL org.opencontainers.image.version="1.1.0.7.1"' in text
    assert (
        'LABEL org.opensuse.reference="registry.opensuse.org/kubevirt/virt-api:1.1.0-3.7"' in text
    )
    assert "%" not in text
    assert "labelprefix" not in text
    ran = [(r.name, r.ran, r.changed) for r in results]  # type: ignore[attr-defined]
    assert ran == [
        ("kiwi_metainfo_helper", True, ("Dockerfile",)),
        ("docker_label_helper", True, ("Dockerfile",)),
        ("kubevirt_containers_meta", True, ()),
        ("replace_using_env", True, ("Dockerfile",)),
        ("download_files", False, ()),
    ]
    assert "disabled" in (results[4].skipped or "")  # type: ignore[attr-defined]
    assert ("TAGPREFIX", "kubevirt") in results[3].details  # type: ignore[attr-defined]


def test_no_var_means_every_variable_of_the_env_file(tmp_path: Path) -> None:
    workdir = image(
        tmp_path,
        replace_service(),
        "#!BuildTag: %%TAGPREFIX%%/a:%%PKG_VERSION%%-%%PKG_RELEASE%%\nLABEL distro=%%DISTRO%%\n",
    )
    run_in(workdir, tmp_path)
    assert (workdir / "Dockerfile").read_text() == (
        "#!BuildTag: kubevirt/a:1.1.0-3.7\nLABEL distro=tumbleweed\n"
    )


def test_placeholder_without_value_names_the_dockerfile_line(tmp_path: Path) -> None:
    original = "FROM x\nLABEL v=%%PKG_VERSION%%\nLABEL d=%%DISTRO%%\n"
    workdir = image(tmp_path, replace_service('<param name="var">PKG_VERSION</param>'), original)
    with pytest.raises(InputError) as info:
        run_in(workdir, tmp_path)
    assert info.value.one_line().startswith(
        f"{workdir / 'Dockerfile'}:3:9: placeholder %%DISTRO%% has no value"
    )
    # nothing was changed: the service writes to its outdir, moved back only on success
    assert (workdir / "Dockerfile").read_text() == original


def test_unused_variable_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    workdir = image(
        tmp_path,
        replace_service('<param name="var">PKG_VERSION REGISTRY</param>'),
        "LABEL v=%%PKG_VERSION%%\n",
    )
    with caplog.at_level(logging.WARNING):
        run_in(workdir, tmp_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["replace_using_env: variable REGISTRY occurs in none of Dockerfile"]


SUPPORTED = [
    (f"source {META}", "kubevirt_containers_meta", None),
    (f". {META}", "kubevirt_containers_meta", None),
    (f"pkg=kubevirt-virt-api source {META}", "kubevirt_containers_meta", "kubevirt-virt-api"),
    (f'pkg="kubevirt-virt-api" source {META}', "kubevirt_containers_meta", "kubevirt-virt-api"),
    (
        "  pkg=containerized-data-importer-api   source /usr/lib/obs/service/cdi_containers_meta\n",
        "cdi_containers_meta",
        "containerized-data-importer-api",
    ),
]


@pytest.mark.parametrize(("raw", "meta", "pkg"), SUPPORTED)
def test_supported_meta_eval_forms(raw: str, meta: str, pkg: str | None) -> None:
    spec = parse_eval(raw)
    assert (spec.meta, spec.pkg, spec.assignments) == (meta, pkg, ())
    assert spec.meta_path == f"/usr/lib/obs/service/{meta}"


GENERIC = [
    ("source ./my.env", "./my.env", ()),
    (". conf/values.env", "conf/values.env", ()),
    ("CHANNEL=stable", None, (("CHANNEL", "stable"),)),
    ("A=1 B='two words' C=\"x\" D=", None, (("A", "1"), ("B", "two words"), ("C", "x"), ("D", ""))),
    ("pkg=foo", None, (("pkg", "foo"),)),
]


@pytest.mark.parametrize(("raw", "source", "assignments"), GENERIC)
def test_generic_eval_forms(
    raw: str, source: str | None, assignments: tuple[tuple[str, str], ...]
) -> None:
    spec = parse_eval(raw)
    assert (spec.source, spec.pkg, spec.assignments) == (source, None, assignments)
    assert spec.meta is None


REFUSED = [
    (f"pkg=$(id) source {META}", "command substitution"),
    (f"source {META}; rm -rf /", "chains shell commands"),
    (f"source {META} && curl evil", "chains shell commands"),
    (f"source {META} | sh", "chains shell commands"),
    (f"pkg=`id` source {META}", "command substitution"),
    ("source /etc/passwd", "only files in the package directory or under /usr/lib/obs/service/"),
    ("source ../outside.env", "leaves the package directory"),
    ("source /usr/lib/obs/service/../../../etc/passwd", "only files in the package directory"),
    (f"TAGPREFIX=evil source {META}", "only one 'pkg=' may come before source"),
    (f"pkg=a TAGPREFIX=evil source {META}", "only one 'pkg=' may come before source"),
    ("pkg=a source ./my.env", "pkg= goes with a meta file"),
    (f"export pkg=a; source {META}", "chains shell commands"),
    ("A=$HOME", "shell expansion"),
    ("A=x\\ y", "backslashes"),
    ("A='open", "a quote is left open"),
    ("A=1 echo hi", "not one of the supported forms"),
    (f"eval source {META}", "not one of the supported forms"),
    (f"source {META} extra", "source takes exactly one file"),
    ("   ", "it is empty"),
]


@pytest.mark.parametrize(("raw", "reason"), REFUSED)
def test_refused_eval_forms(raw: str, reason: str) -> None:
    with pytest.raises(ServiceUsageError) as info:
        parse_eval(raw)
    assert reason in info.value.message
    assert info.value.option == "eval"


def test_generic_env_file_and_assignments(tmp_path: Path) -> None:
    """No meta file, no RPM: an env file of the package and plain values, later ones win."""
    workdir = image(
        tmp_path,
        replace_service(
            '<param name="eval">CHANNEL=stable NAME=early</param>',
            '<param name="eval">source ./my.env</param>',
            eval_="",
        ),
        "FROM x\nLABEL channel=%%CHANNEL%% name=%%NAME%%\n",
    )
    (workdir / "my.env").write_text("# values of this package\nNAME=late\n")
    results = run_in(workdir, tmp_path, sysroot=tmp_path / "no-sysroot")
    assert (workdir / "Dockerfile").read_text() == "FROM x\nLABEL channel=stable name=late\n"
    (result,) = results
    assert ("env", str(workdir / "my.env")) in result.details  # type: ignore[attr-defined]


def test_generic_env_file_errors_name_their_own_line(tmp_path: Path) -> None:
    workdir = image(
        tmp_path,
        replace_service(eval_="source ./my.env"),
        "FROM x\nLABEL name=%%NAME%%\n",
    )
    (workdir / "my.env").write_text("NAME=ok\nOTHER=$(id)\n")
    with pytest.raises(InputError) as info:
        run_in(workdir, tmp_path)
    assert info.value.one_line().startswith(f"{workdir / 'my.env'}:2:")


def test_refused_eval_names_the_service_file_and_line(tmp_path: Path) -> None:
    workdir = image(tmp_path, replace_service(eval_=f"source {META}; touch /tmp/pwned"))
    with pytest.raises(InputError) as info:
        run_in(workdir, tmp_path)
    message = info.value.one_line()
    assert message.startswith(f"{workdir / '_service'}:4: replace_using_env: unsupported eval")
    assert info.value.exit_code == 2


def test_missing_meta_file_says_run_rpms_first(tmp_path: Path) -> None:
    workdir = image(tmp_path, replace_service())
    with pytest.raises(InputError) as info:
        run_in(workdir, tmp_path, sysroot=tmp_path / "empty-sysroot")
    message = info.value.one_line()
    assert message.startswith(f"{workdir / '_service'}:4: replace_using_env: meta file")
    assert "run the rpms stage first" in message


def test_containers_meta_service_checks_the_meta_file(tmp_path: Path) -> None:
    service = '<services>\n<service name="cdi_containers_meta" mode="buildtime"/>\n</services>\n'
    workdir = image(tmp_path, service)
    with pytest.raises(InputError) as info:
        run_in(workdir, tmp_path)
    assert "cdi_containers_meta not found" in info.value.one_line()
    assert info.value.one_line().startswith(f"{workdir / '_service'}:2:")
    sysroot = tmp_path / "sysroot"
    shutil.copytree(SYSROOT, sysroot)
    broken = sysroot / "usr/lib/obs/service/cdi_containers_meta"
    broken.write_text("#!/bin/sh\nREGISTRY=r\nTAGPREFIX=$(rpm --eval x)\n")
    with pytest.raises(InputError) as info:
        run_in(workdir, tmp_path, sysroot=sysroot)
    assert info.value.one_line().startswith(f"{broken}:3: ")
    broken.write_text("#!/bin/sh\nREGISTRY=r\n")
    with pytest.raises(InputError, match="does not set TAGPREFIX, LABELPREFIX"):
        run_in(workdir, tmp_path, sysroot=sysroot)


@pytest.mark.parametrize(
    ("params", "line", "message"),
    [
        ('<param name="var">NOT_IN_META</param>', 5, "NOT_IN_META is not set by any eval"),
        ('<param name="var">bad-name</param>', 5, "invalid variable name"),
        ('<param name="regex">x</param>', 2, "unrecognized arguments: --regex x"),
        ('<param name="var"></param>', 5, "parameter 'var' is empty"),
        ('<param name="outdir">/tmp</param>', 5, "'outdir' is set by the build"),
        ('<param name="help">x</param>', 2, "unrecognized arguments: --help"),
        ('<param name="fil">x</param>', 2, "unrecognized arguments: --fil"),
    ],
)
def test_bad_parameters(tmp_path: Path, params: str, line: int, message: str) -> None:
    workdir = image(tmp_path, replace_service(params))
    with pytest.raises(InputError) as info:
        run_in(workdir, tmp_path)
    assert info.value.one_line().startswith(f"{workdir / '_service'}:{line}:")
    assert message in info.value.one_line()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("/etc/passwd", "is not a relative path"),
        ("../kubevirt-virt-api/Dockerfile", "leaves the package directory"),
        ("sub/../../x", "leaves the package directory"),
        ("missing", "does not exist"),
        ("outside-link", "symlink pointing outside"),
        ("dir", "not a regular file"),
    ],
)
def test_files_stay_inside_the_package(tmp_path: Path, name: str, message: str) -> None:
    service = replace_service().replace(
        '<param name="file">Dockerfile</param>', f'<param name="file">{name}</param>'
    )
    workdir = image(tmp_path, service)
    (tmp_path / "secret").write_text("%%REGISTRY%%\n")
    (workdir / "outside-link").symlink_to(tmp_path / "secret")
    (workdir / "dir").mkdir()
    with pytest.raises(InputError) as info:
        run_in(workdir, tmp_path)
    assert info.value.one_line().startswith(f"{workdir / '_service'}:3:")
    assert message in info.value.one_line()
    assert (tmp_path / "secret").read_text() == "%%REGISTRY%%\n"


def test_symlink_inside_and_subdirectory_are_fine(tmp_path: Path) -> None:
    service = replace_service().replace(
        '<param name="file">Dockerfile</param>', '<param name="file">conf/tags.txt link.txt</param>'
    )
    workdir = image(tmp_path, service)
    (workdir / "conf").mkdir()
    (workdir / "conf" / "tags.txt").write_text("%%TAGPREFIX%%\n")
    (workdir / "real.txt").write_text("%%REGISTRY%%\n")
    (workdir / "link.txt").symlink_to("real.txt")
    results = run_in(workdir, tmp_path)
    assert sorted(results[0].changed) == ["conf/tags.txt", "link.txt"]  # type: ignore[attr-defined]
    assert (workdir / "conf" / "tags.txt").read_text() == "kubevirt\n"
    assert (workdir / "link.txt").read_text() == "registry.opensuse.org\n"


def test_unknown_service_is_refused_before_anything_runs(tmp_path: Path) -> None:
    service = replace_service().replace(
        "</services>", '  <service name="set_version" mode="buildtime"/>\n</services>'
    )
    workdir = image(tmp_path, service)
    before = (workdir / "Dockerfile").read_text()
    with pytest.raises(InputError) as info:
        run_in(workdir, tmp_path)
    assert info.value.one_line().startswith(
        f"{workdir / '_service'}:6: unknown buildtime service 'set_version'"
    )
    assert (workdir / "Dockerfile").read_text() == before


def test_non_buildtime_services_are_skipped(tmp_path: Path) -> None:
    service = (
        "<services>\n"
        '<service name="obs_scm"><param name="url">https://x</param></service>\n'
        '<service name="tar" mode="manual"/>\n'
        '<service name="recompress" mode="localonly"/>\n'
        '<service name="set_version" mode="trylocal"/>\n'
        '<service name="format_spec_file" mode="serveronly"/>\n'
        "</services>\n"
    )
    workdir = image(tmp_path, service)
    results = run_in(workdir, tmp_path)
    assert [r.ran for r in results] == [False] * 5  # type: ignore[attr-defined]
    reasons = [r.skipped for r in results]  # type: ignore[attr-defined]
    assert reasons[0].startswith("default mode")
    assert [reason.split(":")[0] for reason in reasons[1:]] == [
        "manual",
        "localonly",
        "trylocal",
        "serveronly",
    ]
