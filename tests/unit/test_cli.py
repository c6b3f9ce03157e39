"""The two spellings of every verb, and plan on the real project's targets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.cli import VERB_NAMES, parse
from tests.support.paths import ROOT
from tests.support.tools import run_pipeline

SESSIONS = (
    "setup-host",
    "plan",
    "rpms",
    "containers",
    "build",
    "publish",
    "verify-tags",
    "tests",
    "lint",
    "bench",
)


def test_nox_lists_every_session_with_a_description() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nox", "-l"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    for session in SESSIONS:
        line = next((ln for ln in out.splitlines() if ln[2:].startswith(f"{session} -> ")), None)
        assert line is not None, f"nox -l does not list {session}"
        assert len(line.split(" -> ", 1)[1]) > 10


def test_nox_arguments_and_the_cli_parse_the_same() -> None:
    argv = ["--target", "tumbleweed", "--force", "--jobs", "3"]
    assert parse(argv, verb="build") == parse(["build", *argv])
    assert {s for s in SESSIONS if s not in ("tests", "lint")} <= set(VERB_NAMES)


def test_plan_sle15_sp3() -> None:
    result = run_pipeline("plan", "--target", "sle15-sp3", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["base_images"] == ["registry.suse.com/suse/sle15:15.3"]
    assert plan["registry_path"] == "registry.suse.com/suse/sles/15.3"
    assert plan["label_prefix"] == "com.suse.kubevirt"
    versions = {p["name"]: p["version"] for p in plan["products"]}
    assert versions == {"kubevirt": "0.45.0", "cdi": "1.37.1"}
    images = {p["name"]: [i["name"] for i in p["images"]] for p in plan["products"]}
    assert images["kubevirt"] == [
        "virt-api",
        "virt-controller",
        "virt-handler",
        "virt-launcher",
        "virt-operator",
    ]
    assert len(images["cdi"]) == 7
    for product in plan["products"]:
        for image in product["images"]:
            assert image["reference"] == (
                f"registry.suse.com/suse/sles/15.3/{image['name']}:{product['tag']}"
            )


def test_plan_tumbleweed() -> None:
    result = run_pipeline("plan", "--target", "tumbleweed", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["base_images"] == ["registry.opensuse.org/opensuse/tumbleweed"]
    assert plan["registry_path"] == "registry.opensuse.org/kubevirt"
    kubevirt = next(p for p in plan["products"] if p["name"] == "kubevirt")
    assert "virt-synchronization-controller" in [i["name"] for i in kubevirt["images"]]


def test_plan_human_output_is_a_table() -> None:
    result = run_pipeline("plan", "--target", "sle15-sp2")
    assert result.returncode == 0, result.stderr
    assert "registry.suse.com/suse/sles/15.2" in result.stderr
    assert "virt-operator:0.40.0-" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["plan", "--target", "nope"], 2, "no target 'nope'"),
        (["frobnicate"], 2, "invalid choice"),
        (["plan", "--jobs", "0"], 2, "--jobs"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: list[str], code: int, words: str) -> None:
    result = run_pipeline(*args)
    assert result.returncode == code
    assert words in result.stderr
    assert "Traceback" not in result.stderr
