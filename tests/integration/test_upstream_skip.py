"""``upstream`` (``nox -s upstream``) without the upstream tarballs: skipped with one line per
tarball saying how to get it, exit 0, nothing built; with them it does not skip; and a target
of sample trees is refused. The run on the real trees is written up in the README."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.context import Context, Options
from pipeline.stages import upstream
from tests.support.releases import project_copy
from tests.support.tools import run_pipeline


def test_without_the_tarballs_it_is_skipped_saying_how_to_get_them(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "p")
    done = run_pipeline("upstream", "--project", str(project))
    assert done.returncode == 0, done.stderr
    out = done.stderr  # the console's; stdout is for --json
    assert "upstream on local-upstream: SKIPPED, the upstream tarballs are absent" in out
    for tarball, url in (
        ("kubevirt-1.9.0.tar.gz", "github.com/kubevirt/kubevirt/archive/refs/tags/v1.9.0"),
        (
            "containerized-data-importer-1.66.0.tar.gz",
            "github.com/kubevirt/containerized-data-importer/archive/refs/tags/v1.66.0",
        ),
    ):
        line = next(line for line in out.splitlines() if tarball in line)
        assert line.startswith("skipped: ")
        assert "python -m pipeline fetch-sources --target local-upstream" in line
        assert url in line
    machine = run_pipeline("upstream", "--project", str(project), "--json")
    assert machine.returncode == 0
    assert len(json.loads(machine.stdout)["upstream"]["skipped"]) == 2
    assert not (tmp_path / "p/build/local-upstream").exists()  # nothing was built


def test_with_the_tarballs_there_it_does_not_skip(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "p")
    ctx = Context(Options(target="local-upstream"), project)
    assert len(upstream.missing_tarballs(ctx)) == 2
    sources = tmp_path / "p/build/sources"
    sources.mkdir(parents=True)
    for name in ("kubevirt-1.9.0.tar.gz", "containerized-data-importer-1.66.0.tar.gz"):
        (sources / name).write_bytes(b"checked against the pin by the rpms stage")
    assert upstream.missing_tarballs(ctx) == []


def test_a_target_of_sample_trees_is_refused_in_one_line(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "p")
    done = run_pipeline("upstream", "--project", str(project), "--target", "local")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "target 'local' builds kubevirt from a sample tree, not a tarball" in done.stderr
    assert "--target local-upstream" in done.stderr
