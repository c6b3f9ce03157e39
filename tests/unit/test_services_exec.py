"""The services as OBS executables: run from a shell with the osc contract, results in --outdir;
their .service descriptors list exactly the parameters their parser accepts."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import pipeline.services
from pipeline.services.base import ServiceArgumentParser
from pipeline.services.runner import SERVICES
from pipeline.tools.run import run
from tests.support.paths import DATA as TEST_DATA

PACKAGE = Path(pipeline.services.__file__).parent
DATA = TEST_DATA / "services"
META = "/usr/lib/obs/service/kubevirt_containers_meta"


def options(parser: ServiceArgumentParser) -> dict[str, bool]:
    found: dict[str, bool] = {}
    for action in parser._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag not in ("--outdir", "--help"):
                found[flag[2:]] = action.required
    return found


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_descriptor_matches_parser(name: str) -> None:
    root = ET.parse(PACKAGE / f"{name}.service").getroot()
    assert root.tag == "service"
    assert root.get("name") == name
    assert root.findtext("summary") == SERVICES[name].summary
    assert (root.findtext("description") or "").strip()
    described = {p.get("name"): p.find("required") is not None for p in root.findall("parameter")}
    assert all((p.findtext("description") or "").strip() for p in root.findall("parameter"))
    assert described == options(SERVICES[name].build_parser(True))


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_wrapper_is_an_executable_shell_script(name: str) -> None:
    wrapper = PACKAGE / "obs" / name
    assert wrapper.stat().st_mode & 0o111
    lines = wrapper.read_text().splitlines()
    assert lines[0] == "#!/bin/sh"
    assert lines[-1] == f'exec python3 -m pipeline.services.{name} "$@"'


def package(tmp_path: Path) -> Path:
    workdir = tmp_path / "pkg"
    shutil.copytree(DATA / "kubevirt-virt-api", workdir)
    (tmp_path / "out").mkdir()
    return workdir


def obs_run(
    name: str, workdir: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> tuple[int, str, str]:
    """Run the wrapper as OBS does: in the package directory, --outdir last."""
    # The wrapper runs `python3 -m pipeline.services...`: this checkout's, whatever else the
    # machine's python3 has installed.
    result = run(
        [PACKAGE / "obs" / name, *args, "--outdir", str(workdir.parent / "out")],
        cwd=workdir,
        env={"PYTHONPATH": str(PACKAGE.parents[1]), **(env or {})},
        check=check,
    )
    return result.returncode, result.stdout, result.stderr


def test_replace_using_env_executable(tmp_path: Path) -> None:
    workdir = package(tmp_path)
    before = (workdir / "Dockerfile").read_text()
    code, stdout, _ = obs_run(
        "replace_using_env",
        workdir,
        "--file",
        "Dockerfile",
        "--eval",
        f"source {META}",
        "--var",
        "PKG_VERSION PKG_RELEASE",
        "--var",
        "TAGPREFIX",
        "--var",
        "LABELPREFIX",
        "--var",
        "REGISTRY",
        env={"OBS_SERVICE_SYSROOT": str(DATA / "sysroot")},
    )
    assert code == 0
    assert "wrote Dockerfile" in stdout
    out = (tmp_path / "out" / "Dockerfile").read_text()
    assert "#!BuildTag: kubevirt/virt-api:1.1.0-3.7\n" in out
    assert "# labelprefix=org.opensuse.kubevirt\n" in out
    assert "%%" not in out
    assert (workdir / "Dockerfile").read_text() == before, "results go to --outdir only"


def test_replace_using_env_executable_generic(tmp_path: Path) -> None:
    """The generic service of the README: an env file of the package and a plain value, no
    meta file and no RPM (an empty sysroot)."""
    workdir = tmp_path / "pkg"
    workdir.mkdir()
    (tmp_path / "out").mkdir()
    (workdir / "Dockerfile").write_text("FROM base\nLABEL app=%%APP%% channel=%%CHANNEL%%\n")
    (workdir / "my.env").write_text("APP='my-app'\n")
    code, _, _ = obs_run(
        "replace_using_env",
        workdir,
        "--file",
        "Dockerfile",
        "--eval",
        "source ./my.env",
        "--eval",
        "CHANNEL=stable",
        env={"OBS_SERVICE_SYSROOT": str(tmp_path / "empty")},
    )
    assert code == 0
    out = (tmp_path / "out" / "Dockerfile").read_text()
    assert out == "FROM base\nLABEL app=my-app channel=stable\n"
    help_text = run(
        [PACKAGE / "obs" / "replace_using_env", "--help"],
        env={"PYTHONPATH": str(PACKAGE.parents[1])},
    ).stdout
    assert "--eval 'source ./my.env'" in help_text
    assert "kubevirt_containers_meta" in help_text


def test_label_and_metainfo_executables(tmp_path: Path) -> None:
    workdir = package(tmp_path)
    code, _, _ = obs_run("docker_label_helper", workdir)
    assert code == 0
    labelled = (tmp_path / "out" / "Dockerfile").read_text()
    assert 'LABEL %%LABELPREFIX%%.title="kubevirt virt-api container"\n' in labelled
    shutil.move(tmp_path / "out" / "Dockerfile", workdir / "Dockerfile")
    code, _, _ = obs_run(
        "kiwi_metainfo_helper",
        workdir,
        env={
            "SOURCE_DATE_EPOCH": "1700000000",
            "RELEASE": "2.4",
            "DISTURL": "obs://build.opensuse.org/Virtualization/TW/abc123-kubevirt-virt-api",
        },
    )
    assert code == 0
    out = (tmp_path / "out" / "Dockerfile").read_text()
    assert 'created="2023-11-14T22:13:20.000000000Z"' in out
    assert 'version="%%PKG_VERSION%%.2.4"' in out
    assert 'disturl="obs://build.opensuse.org/Virtualization/TW/abc123-kubevirt-virt-api"' in out


@pytest.mark.parametrize(
    ("name", "args", "env", "message"),
    [
        (
            "replace_using_env",
            ["--file", "Dockerfile", "--eval", f"source {META}; id"],
            {},
            "replace_using_env: --eval: unsupported eval",
        ),
        (
            "replace_using_env",
            ["--file", "Dockerfile", "--eval", f"source {META}"],
            {},
            "not found in /",
        ),
        (
            "replace_using_env",
            ["--file", "../etc/passwd", "--eval", f"source {META}"],
            {},
            "--file: '../etc/passwd' leaves the package directory",
        ),
        (
            "replace_using_env",
            ["--file", "Dockerfile", "--eval", f"source {META}", "--bogus", "1"],
            {},
            "unrecognized arguments: --bogus 1",
        ),
        ("kiwi_metainfo_helper", [], {}, "placeholder %BUILDTIME% has no value"),
        (
            "kiwi_metainfo_helper",
            [],
            {"SOURCE_DATE_EPOCH": "yesterday"},
            "SOURCE_DATE_EPOCH='yesterday' is not a number",
        ),
    ],
)
def test_executable_failures_are_one_line(
    tmp_path: Path, name: str, args: list[str], env: dict[str, str], message: str
) -> None:
    workdir = package(tmp_path)
    code, _, stderr = obs_run(name, workdir, *args, env=env, check=False)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert message in stderr
    assert not list((tmp_path / "out").iterdir())


def test_help_works_for_people(tmp_path: Path) -> None:
    result = run([PACKAGE / "obs" / "replace_using_env", "--help"], cwd=tmp_path)
    assert "--eval" in result.stdout
    assert "--outdir" in result.stdout
