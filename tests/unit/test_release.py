"""Release numbers: OBS's <CI_CNT>.<B_CNT>, never reused, distinct under concurrency."""

from __future__ import annotations

import multiprocessing
import subprocess
from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.core.release import ReleaseBook, ci_count


def obs_default(ci: int, b: int) -> str:
    return f"{ci}.{b}"


def test_b_cnt_counts_builds_per_ci_cnt(tmp_path: Path) -> None:
    book = ReleaseBook(tmp_path)
    assert book.next_release("kubevirt", 3, obs_default) == "3.1"
    assert book.take("kubevirt", 3, obs_default) == "3.1"
    assert book.take("kubevirt", 3, obs_default) == "3.2"
    assert book.take("kubevirt", 4, obs_default) == "4.1"
    assert book.take("cdi", 3, obs_default) == "3.1"  # each product counts for itself
    assert book.taken("kubevirt") == ["3.1", "3.2", "4.1"]


def test_a_release_the_registry_holds_is_skipped(tmp_path: Path) -> None:
    book = ReleaseBook(tmp_path)
    in_registry = {"5.1", "5.2"}
    assert book.take("kubevirt", 5, obs_default, in_registry.__contains__) == "5.3"


def test_override_is_checked_against_every_used_release(tmp_path: Path) -> None:
    book = ReleaseBook(tmp_path)
    book.take("kubevirt", 1, obs_default)
    with pytest.raises(InputError, match="was used before"):
        book.take("kubevirt", 1, obs_default, override="1.1")
    with pytest.raises(InputError, match="not a release"):
        book.take("kubevirt", 1, obs_default, override="1.1; rm -rf /")
    assert book.take("kubevirt", 1, obs_default, override="9.9") == "9.9"


def test_last_success_records_inputs(tmp_path: Path) -> None:
    book = ReleaseBook(tmp_path)
    assert book.last_success("kubevirt") is None
    book.record_success("kubevirt", "abc", "1.1")
    last = book.last_success("kubevirt")
    assert last is not None and (last.inputs, last.release) == ("abc", "1.1")


def test_bad_template_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Release template"):
        ReleaseBook(tmp_path).take("kubevirt", 1, lambda ci, b: f"{ci}-{b}")


def _take(directory: str) -> str:
    return ReleaseBook(Path(directory)).take("kubevirt", 7, obs_default)


def test_builds_started_at_once_get_distinct_releases(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        releases = pool.map(_take, [str(tmp_path)] * 32)
    assert len(set(releases)) == 32
    assert sorted(releases, key=lambda r: int(r.split(".")[1]))[-1] == "7.32"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_ci_cnt_counts_commits_touching_the_inputs(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    spec = tmp_path / "specs/kubevirt"
    spec.mkdir(parents=True)
    other = tmp_path / "specs/cdi"
    other.mkdir(parents=True)
    for n in range(3):
        (spec / "kubevirt.spec").write_text(f"rev {n}\n")
        _git(tmp_path, "add", ".")
        _git(tmp_path, "commit", "-qm", f"kubevirt {n}")
    (other / "cdi.spec").write_text("x\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "cdi")
    assert ci_count(tmp_path, [spec]) == 3
    assert ci_count(tmp_path, [other]) == 1
    (spec / "kubevirt.spec").write_text("uncommitted\n")
    assert ci_count(tmp_path, [spec]) == 4  # a pending checkin counts
    assert ci_count(tmp_path / "specs" / "..", [spec]) == 4


def test_ci_cnt_outside_git_is_zero(tmp_path: Path) -> None:
    assert ci_count(tmp_path, [tmp_path]) == 0
