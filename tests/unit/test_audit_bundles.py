"""``verify-tags --releases`` before the registry: what a bundle asks (one probe per record image,
the pinned manifests adding places, not questions), what it refuses (one line, exit 2), and the
choice of targets. The registry side is tests/integration/test_audit.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.context import Context, Options
from pipeline.core.errors import InputError, StateError
from pipeline.images.pinning import operator_env
from pipeline.stages.audit import targets_of
from pipeline.stages.audit_bundles import Probe, pinned_references, plan_bundle
from tests.support.paths import ROOT
from tests.support.releases import project_copy, virt_operator_yaml, write_bundle

REG = "registry.example:5000/kubevirt"
OPERATOR = f"{REG}/virt-operator:1.9.0-3.1"
API = f"{REG}/virt-api:1.9.0-3.1"
DIGESTS = {OPERATOR: "sha256:" + "a" * 64, API: "sha256:" + "b" * 64}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project_copy(tmp_path_factory.mktemp("audit") / "project")


def bundle(project: Path, target: str = "local", release: str = "3.1") -> Path:
    env = operator_env("1.9.0", OPERATOR, {"virt-api": API}, DIGESTS)
    tagged = {"kubevirt-operator.yaml": virt_operator_yaml(OPERATOR, f"1.9.0-{release}")}
    build = project.parent / "build" / target
    write_bundle(build, target, "kubevirt", "1.9.0", release, DIGESTS, tagged, env=env)
    return build / "releases" / f"kubevirt-1.9.0-{release}" / "record.json"


def test_the_pinned_manifests_add_places_not_questions(project: Path) -> None:
    record = bundle(project)
    plan = plan_bundle(record, "local", ("linux/amd64",), project.parent)
    assert plan.audit.ok and plan.audit.references == 2
    assert sorted((str(p.reference), p.digest, p.full) for p in plan.probes) == [
        (API, DIGESTS[API], True),
        (OPERATOR, DIGESTS[OPERATOR], True),
    ]
    places = {str(p.reference): where for p, where in plan.probes.items()}
    shown = "build/local/releases/kubevirt-1.9.0-3.1"
    # The record's line first, then each pinned line: the container image, VIRT_API_IMAGE and
    # the operator's own digest-only env (the same name and digest as its record entry).
    assert places[OPERATOR][0] == f"{shown}/record.json:{_line(record, OPERATOR)}"
    assert all(w.startswith(f"{shown}/manifests/kubevirt-operator.yaml:") for w in places[API][1:])
    assert len(places[API]) == 2
    text = (record.parent / "manifests" / "kubevirt-operator.yaml").read_text()
    pinned = {(written, digest) for _, written, digest in pinned_references(text)}
    assert pinned == {
        (OPERATOR, DIGESTS[OPERATOR]),
        (API, DIGESTS[API]),
        (OPERATOR.rsplit(":", 1)[0], DIGESTS[OPERATOR]),  # VIRT_OPERATOR_IMAGE: the digest alone
    }


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if f'"{text}"' in line)


def test_a_pinned_reference_the_record_does_not_hold_is_its_own_question(project: Path) -> None:
    record = bundle(project, release="4.1")
    pinned = record.parent / "manifests" / "kubevirt-operator.yaml"
    other = "sha256:" + "c" * 64
    text = pinned.read_text().replace(DIGESTS[API], other)
    _rewrite_pinned(record, text)
    plan = plan_bundle(record, "local", ("linux/amd64",), project.parent)
    own = [p for p in plan.probes if not p.full]
    assert own == [Probe(own[0].reference, other, False)]
    assert str(own[0].reference) == API


def _rewrite_pinned(record: Path, text: str) -> None:
    """Edit a pinned file and its sha256 in the record (as a publish of that text would)."""
    import hashlib

    pinned = record.parent / "manifests" / "kubevirt-operator.yaml"
    pinned.write_text(text)
    data = json.loads(record.read_text())
    data["pinned"]["kubevirt-operator.yaml"] = hashlib.sha256(text.encode()).hexdigest()
    record.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def test_an_edited_or_missing_pinned_file_is_a_problem_of_its_release(project: Path) -> None:
    record = bundle(project, release="5.1")
    pinned = record.parent / "manifests" / "kubevirt-operator.yaml"
    pinned.write_text(pinned.read_text() + "# edited\n")
    plan = plan_bundle(record, "local", (), project.parent)
    assert [p.problem.split(" (")[0] for p in plan.audit.problems] == [
        "pinned manifest differs from the sha256 its record holds"
    ]
    assert len(plan.probes) == 2, "the record's images are still asked"
    pinned.unlink()
    plan = plan_bundle(record, "local", (), project.parent)
    assert "missing from the release bundle" in plan.audit.problems[0].problem


def test_a_broken_record_stops_the_audit_before_any_request(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    record = bundle(project)
    record.write_text(record.read_text().replace('"images": {', '"images": {,'))
    result = _cli(project, "--releases", "local")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{record}: not valid JSON"), lines
    record.write_text("{}")
    result = _cli(project, "--releases", "local")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and str(record) in lines[0], lines
    assert "Traceback" not in result.stderr


def test_a_record_filed_under_another_target_is_refused(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    record = bundle(project, target="tumbleweed", release="7.1")
    moved = project.parent / "build/sle15-sp3/releases" / record.parent.name
    moved.parent.mkdir(parents=True, exist_ok=True)
    record.parent.rename(moved)
    with pytest.raises(StateError, match="filed under sle15-sp3/releases"):
        plan_bundle(moved / "record.json", "sle15-sp3", (), project.parent)


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "verify-tags", "--project", str(project), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_which_targets(project: Path) -> None:
    def named(*releases: str, target: str = "local") -> list[str]:
        options = Options(target=target, releases=tuple(releases))
        return targets_of(Context(options, project))

    assert named() == ["local"]
    assert named(target="tumbleweed") == ["tumbleweed"]
    assert named("all") == ["local", "local-upstream", "tumbleweed", "sle15-sp3", "sle15-sp2"]
    assert named("sle15-sp2", "local", "sle15-sp2") == ["sle15-sp2", "local"]
    with pytest.raises(InputError, match="'all' already names every target"):
        named("all", "local")
    with pytest.raises(InputError, match="no target 'leap'"):
        named("leap")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--releases", "sle15-sp2"), "no release records under build/sle15-sp2/releases/"),
        (("--releases", "leap"), "no target 'leap'"),
        (("--releases", "local", "--manifests", "x.yaml"), "--releases and --manifests"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_2(
    project: Path, args: tuple[str, ...], says: str
) -> None:
    result = _cli(project, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines


def test_each_image_is_held_to_the_platforms_its_record_names(project: Path) -> None:
    """A record says which platforms each image was published with (an ``#!ExclusiveArch``
    image has fewer than the target); one written before it did falls back to the target's."""
    record = bundle(project, release="6.1")
    data = json.loads(record.read_text())
    data["platforms"] = {API: ["linux/amd64"]}
    record.write_text(json.dumps(data))
    plan = plan_bundle(record, "local", ("linux/amd64", "linux/arm64"), project.parent)
    wanted = {str(p.reference): p.platforms for p in plan.probes}
    assert wanted == {API: ("linux/amd64",), OPERATOR: ("linux/amd64", "linux/arm64")}
