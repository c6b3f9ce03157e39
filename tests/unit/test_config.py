"""pipeline.yaml: a valid project loads into frozen dataclasses; each malformation is one
``file:line:col: message`` error with exit 2 and no traceback."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config.project import LocalBase, load_project
from pipeline.core.errors import EXIT_INPUT, InputError
from tests.support.paths import ROOT

VALID = """\
products:
  kubevirt:
    package: specs/kubevirt
    spec: kubevirt.spec
    version_macro: kubevirt_version
    tarball: kubevirt-{version}.tar.gz
    meta_service: kubevirt_containers_meta
    manifests_package: kubevirt-manifests
    manifests_dir: /usr/share/kube-virt/manifests/release
    operator_image: virt-operator
    images:
      - {name: virt-operator, dir: dockerfiles/kubevirt/virt-operator}
      - {name: virt-api, dir: dockerfiles/kubevirt/virt-api, since: "0.55.0"}
targets:
  local:
    prjconf: prjconf/local.prjconf
    registry: 127.0.0.1:5555
    platforms: [linux/amd64]
    local_base: true
    products:
      kubevirt: {version: "1.9.0", source: {dir: samples/kubevirt}}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "specs/kubevirt").mkdir(parents=True)
    (tmp_path / "specs/kubevirt/kubevirt.spec").write_text("Name: kubevirt\n")
    for image in ("virt-operator", "virt-api"):
        directory = tmp_path / "dockerfiles/kubevirt" / image
        directory.mkdir(parents=True)
        (directory / "Dockerfile").write_text("FROM scratch\n")
        (directory / "_service").write_text("<services/>\n")
    (tmp_path / "prjconf").mkdir()
    (tmp_path / "prjconf/local.prjconf").write_text("Release: <CI_CNT>.<B_CNT>\n")
    (tmp_path / "samples/kubevirt").mkdir(parents=True)
    path = tmp_path / "pipeline.yaml"
    path.write_text(VALID)
    return path


def test_valid_project_loads_into_frozen_dataclasses(project: Path) -> None:
    loaded = load_project(project)
    kubevirt = loaded.products["kubevirt"]
    assert kubevirt.meta_package == "obs-service-kubevirt_containers_meta"
    assert [i.name for i in kubevirt.images_for("0.45.0")] == ["virt-operator"]
    assert [i.name for i in kubevirt.images_for("1.9.0")] == ["virt-operator", "virt-api"]
    local = loaded.target("local")
    assert local.products["kubevirt"].version == "1.9.0"
    assert local.pull == "missing" and local.local_base == LocalBase()  # the `local` base
    assert local.build_root is None  # rpmbuild on the host unless the target names a root
    with pytest.raises(dataclasses.FrozenInstanceError):
        local.registry = "elsewhere"  # type: ignore[misc]


def test_a_build_root_names_its_suite_and_package_map(project: Path) -> None:
    text = project.read_text().replace(
        "local_base: true\n",
        "local_base: true\n    build_root: {suite: trixie, packages: prjconf/local.prjconf}\n",
    )
    project.write_text(text)
    root = load_project(project).target("local").build_root
    assert root is not None and root.suite == "trixie"
    assert root.packages_map == project.parent / "prjconf/local.prjconf"
    assert root.mirror == "http://deb.debian.org/debian"


def test_a_local_base_of_its_own_names_its_inputs_and_suite(project: Path) -> None:
    inputs = project.parent / "base/mine"
    inputs.mkdir(parents=True)
    for name in ("packages.txt", "provides.txt", "Containerfile"):
        (inputs / name).write_text("")
    text = project.read_text().replace(
        "local_base: true\n", "local_base: {dir: base/mine, suite: trixie}\n"
    )
    project.write_text(text)
    assert load_project(project).target("local").local_base == LocalBase(inputs, "trixie")
    (inputs / "Containerfile").unlink()
    with pytest.raises(InputError) as caught:
        load_project(project)
    assert ":19:23: the local base directory has no Containerfile" in caught.value.one_line()


# (replace this, with this, expected line:col, words the message must contain)
MALFORMED = [
    (
        "    registry: 127.0.0.1:5555\n",
        "    registry: 127.0.0.1:5555\n    colour: red\n",
        "18:5",
        "unknown key 'colour'",
    ),
    ('kubevirt: {version: "1.9.0"', "kubevirt: {version: 1.9", "21:", "must be a non-empty string"),
    ("prjconf/local.prjconf", "prjconf/missing.prjconf", "16:14", "does not exist"),
    (
        '      - {name: virt-api, dir: dockerfiles/kubevirt/virt-api, since: "0.55.0"}\n',
        "      - {name: virt-api, dir: dockerfiles/kubevirt/virt-api}\n"
        "      - {name: virt-api, dir: dockerfiles/kubevirt/virt-api}\n",
        "14:9",
        "duplicate image 'virt-api'",
    ),
    ("platforms: [linux/amd64]", "platforms: linux/amd64", "18:16", "must be a list"),
    ("local_base: true", "local_base: yes please", "19:17", "true, false or {dir"),
    ("local_base: true", "local_base: {dir: prjconf}", "19:17", "lacks the required key 'suite'"),
    ("local_base: true", "local_base: {dir: x, suite: trixie}", "19:23", "does not exist"),
    ("operator_image: virt-operator", "operator_image: virt-nope", "10:21", "not in 'images'"),
    ("    spec: kubevirt.spec\n", "", "3:5", "lacks the required key 'spec'"),
    ("dir: samples/kubevirt", "dir: ../../etc", "21:", "inside the project"),
    ("kubevirt: {version", "kubevirtt: {version", "21:", "unknown product 'kubevirtt'"),
    ("  kubevirt:\n    package", "  kubevirt:\n   package", "", "YAML"),
    ("tarball: kubevirt-{version}.tar.gz", "tarball: kubevirt.zip", "6:14", "tar.gz"),
    (
        "local_base: true\n",
        "local_base: true\n    build_root: {suite: Trixie!, packages: prjconf/local.prjconf}\n",
        "20:",
        "is not a Debian suite name",
    ),
    (
        "local_base: true\n",
        "local_base: true\n    build_root: {suite: trixie, packages: nothere.txt}\n",
        "20:",
        "does not exist",
    ),
    (
        "local_base: true\n",
        "local_base: true\n    build_root: {suite: trixie}\n",
        "20:",
        "lacks the required key 'packages'",
    ),
]


@pytest.mark.parametrize(("old", "new", "where", "words"), MALFORMED)
def test_malformed_project_names_file_line_and_column(
    project: Path, old: str, new: str, where: str, words: str
) -> None:
    text = project.read_text()
    assert old in text, "test data must change the file"
    project.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as caught:
        load_project(project)
    line = caught.value.one_line()
    assert line.startswith(f"{project}:{where}"), line
    assert words in line
    assert caught.value.exit_code == EXIT_INPUT


def test_cli_prints_one_line_and_exits_2_without_traceback(project: Path) -> None:
    project.write_text(project.read_text().replace("registry: 127", "registri: 127"))
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "plan", "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{project}:17:5: unknown key 'registri'")
    assert "Traceback" not in result.stderr
