"""Two runs of one target at once: distinct release numbers, no corrupted build tree or report.

- ``rpms`` twice at once after a spec change: one builds, the other waits for the target's build
  lock, then finds the product up to date (it is not built twice, no number is taken twice).
- ``build`` twice at once after a Dockerfile change: the same for the containers stage.
- the release book itself, hammered from several processes at once.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_OK
from pipeline.core.release import ReleaseBook
from pipeline.tools import rpm
from tests.reliability.project import Project
from tests.support.shared_build import SharedBuild

CDI_SPEC = "specs/containerized-data-importer/containerized-data-importer.spec"


def start_two(project: Project, *args: str) -> list[tuple[int, str, str]]:
    procs = [
        subprocess.Popen(
            project.argv(*args, "--json", "-"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=project.environ(),
        )
        for _ in range(2)
    ]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=1800)
        done.append((proc.returncode, out, err))
    return done


def assert_tree_whole(project: Project) -> None:
    report = project.report()  # parses: valid JSON
    products = report["rpms"]["products"]
    assert set(products) == {"kubevirt", "cdi"}
    assert report["rpms"]["complete"] is True
    for entry in products.values():
        for info in entry["rpms"]:
            path = project.root / info["path"]
            assert rpm.query(path).sha256 == info["sha256"], path
    for arch in ("x86_64", "aarch64"):
        assert (project.build_dir / "repo" / arch / "repodata" / "repomd.xml").is_file()
    for key, taken in project.taken().items():
        assert len(taken) == len(set(taken)), f"{key}: a release handed out twice: {taken}"


@pytest.mark.tools
@pytest.mark.slow
def test_two_rpms_runs_at_once(shared: SharedBuild, tmp_path: Path) -> None:
    project = shared.copy(tmp_path / "project")
    spec = project.root / CDI_SPEC
    spec.write_text(spec.read_text().replace("\n%build\n", "\n%build\n# a maintainer's note\n", 1))
    before = project.taken()
    runs = start_two(project, "rpms")
    for returncode, _, err in runs:
        assert returncode == EXIT_OK, err[-3000:]
        assert "Traceback" not in err
    states = [
        {r["product"]: (r["state"], r["release"]) for r in json.loads(out)["rpms"]}
        for _, out, _ in runs
    ]
    built = [s["cdi"][1] for s in states if s["cdi"][0] == "built"]
    assert len(built) == 1, f"cdi built {len(built)} times: {states}"
    assert any("waiting for the build of local" in err for _, _, err in runs)
    taken = project.taken()
    assert taken["cdi"] == before["cdi"] + built, "exactly one new cdi release"
    assert taken["kubevirt"] == before["kubevirt"]
    assert project.report()["rpms"]["products"]["cdi"]["release"] == built[0]
    assert_tree_whole(project)


@pytest.mark.tools
@pytest.mark.slow
def test_two_builds_at_once(shared: SharedBuild, tmp_path: Path) -> None:
    project = shared.copy(tmp_path / "project")
    # A new CDI release: its RPMs and its seven images (the smaller product).
    dockerfile = project.root / "dockerfiles/cdi/cdi-uploadproxy/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\n# concurrency\n")
    runs = start_two(project, "build")
    for returncode, _, err in runs:
        assert returncode == EXIT_OK, err[-3000:]
    built = [
        r["release"]
        for _, out, _ in runs
        for r in json.loads(out)["containers"]
        if r["name"] == "cdi-uploadproxy" and r["state"] == "built"
    ]
    assert len(built) == 1, f"cdi-uploadproxy built {len(built)} times"
    images = project.report()["containers"]["images"]
    assert len(images) == 17 and all(e["state"] in ("built", "up to date") for e in images.values())
    assert images["cdi-uploadproxy"]["release"] == built[0]
    assert_tree_whole(project)


def _take_many(directory: str, count: int, queue: multiprocessing.Queue[list[str]]) -> None:
    book = ReleaseBook(Path(directory))
    queue.put([book.take("product", 3, lambda ci, b: f"{ci}.{b}") for _ in range(count)])


def test_release_book_hands_out_each_number_once(tmp_path: Path) -> None:
    """Eight processes take 25 releases each from one book at the same time."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[str]] = context.Queue()
    procs = [context.Process(target=_take_many, args=(str(tmp_path), 25, queue)) for _ in range(8)]
    for proc in procs:
        proc.start()
    got = [release for _ in procs for release in queue.get(timeout=120)]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert len(got) == len(set(got)) == 200
    assert sorted(got, key=lambda r: int(r.split(".")[1])) == [f"3.{b}" for b in range(1, 201)]
    assert ReleaseBook(tmp_path).taken("product") == sorted(got, key=lambda r: int(r.split(".")[1]))
