"""Source0: samples packed reproducibly; upstream tarballs only when downloaded and pinned; and
offline, a clear message naming the URL instead of a hang or a traceback."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from pathlib import Path

import pytest

from pipeline.stages.fetch_sources import pack_sample
from tests.conftest import run_pipeline

ROOT = Path(__file__).resolve().parent.parent


def test_packing_a_sample_is_reproducible_and_keeps_hack_build(tmp_path: Path) -> None:
    sample = ROOT / "samples/containerized-data-importer"
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    pack_sample(sample, first, "containerized-data-importer-1.66.0", 1_700_000_000)
    pack_sample(sample, second, "containerized-data-importer-1.66.0", 1_700_000_000)
    assert (
        hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    )
    with tarfile.open(first) as tar:
        names = tar.getnames()
        assert all(n.startswith("containerized-data-importer-1.66.0") for n in names)
        assert "containerized-data-importer-1.66.0/hack/build/build-go.sh" in names
        assert {m.mtime for m in tar.getmembers()} == {1_700_000_000}
        assert {(m.uid, m.gid) for m in tar.getmembers()} == {(0, 0)}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project, so these tests leave the real build/ alone."""
    for name in ("pipeline.yaml", "prjconf", "specs", "samples", "dockerfiles"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy2(source, tmp_path / name)
    return tmp_path


def test_fetch_sources_offline_names_the_url(project: Path) -> None:
    result = run_pipeline(
        "fetch-sources", "--target", "sle15-sp3", "--project", str(project / "pipeline.yaml")
    )
    assert result.returncode in (2, 3), result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "github.com/kubevirt/kubevirt/archive/refs/tags/v0.45.0.tar.gz" in line
    assert "Traceback" not in result.stderr
    assert not list((project / "build/sources").glob("*.tar.gz"))


def test_a_build_without_the_download_says_what_to_run(project: Path) -> None:
    project_yaml = str(project / "pipeline.yaml")
    result = run_pipeline("rpms", "--target", "sle15-sp2", "--project", project_yaml)
    assert result.returncode == 3
    line = result.stderr.strip().splitlines()[-1]
    assert "kubevirt/archive/refs/tags/v0.40.0.tar.gz is not downloaded" in line
    assert "fetch-sources --target sle15-sp2" in line
    assert not (project / "build/sle15-sp2/releases.json").exists()  # no release used up
