"""Source0 upstream: tarballs only when downloaded and pinned; offline, a clear message naming the
URL instead of a hang or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import copy_inputs
from tests.support.tools import run_pipeline


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project, so these tests leave the real build/ alone."""
    return copy_inputs(tmp_path)


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
