"""The two spellings of every verb, and plan on the real project's targets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.cli import parse
from pipeline.verbs import (
    BUILDS,
    BY_NAME,
    host_tools,
    publish_registry,
    registry_reachable,
    spec_tools,
)
from tests.support.paths import ROOT
from tests.support.tools import run_pipeline

SESSIONS = (*BY_NAME, "tests", "lint")


def test_nox_lists_every_verb_and_the_test_sessions_with_a_description() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nox", "-l"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    listed = [line[2:].split(" -> ", 1) for line in out.splitlines() if " -> " in line]
    assert [name for name, _ in listed] == list(SESSIONS)
    for name, description in listed:
        assert len(description) > 10, name
        if name in BY_NAME:
            assert description.lower().startswith(BY_NAME[name].help.lower()), name


def test_every_verb_checks_before_it_builds() -> None:
    """The verbs that build run the host-tool, Go and disk checks first, in both spellings
    (the check is part of the verb, not of the nox session)."""
    for name in ("rpms", "containers", "build", "bench"):
        assert BY_NAME[name].preflight == BUILDS, name
    # plan parses every spec with rpmspec; publish and verify-tags need their registry.
    assert BY_NAME["plan"].preflight == (spec_tools,)
    assert BY_NAME["publish"].preflight == (host_tools, publish_registry)
    assert BY_NAME["verify-tags"].preflight == (registry_reachable,)
    assert BY_NAME["prune"].preflight == (host_tools,)


def test_verb_options_parse_in_either_order() -> None:
    verb, _, options = parse(["--jobs", "3", "build", "--target", "tumbleweed", "--force"])
    assert (verb, options.jobs, options.target, options.force) == ("build", 3, "tumbleweed", True)
    with pytest.raises(SystemExit):
        parse(["build", "--jobs", "0"])


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


def test_only_a_verify_of_the_target_checks_its_registry_first() -> None:
    """An audit (``--releases``) and ``--manifests`` name their own registries in what they
    read, so a target registry that is down must not stop them before they read it."""
    from pipeline.core.context import Context, Options
    from pipeline.core.errors import RegistryError

    closed = "127.0.0.1:9"  # the discard port: nothing listens on it here
    with pytest.raises(RegistryError, match=r"127\.0\.0\.1:9 does not accept connections"):
        registry_reachable(Context(Options(registry=closed), ROOT / "pipeline.yaml"))
    registry_reachable(
        Context(Options(registry=closed, releases=("local",)), ROOT / "pipeline.yaml")
    )
    registry_reachable(
        Context(Options(registry=closed, manifests=("x.yaml",)), ROOT / "pipeline.yaml")
    )


def test_an_error_raised_while_unwinding_from_a_signal_is_reported_as_the_signal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clean-up in a ``finally`` that runs a tool after SIGTERM fails (no tool may start
    then); that error must not replace the interruption: exit 143 and the Interrupted line."""
    import os
    import signal
    import time

    from pipeline import cli
    from pipeline.core.errors import ToolError

    def verb(*_: object) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)  # the handler raises Interrupted here
            return 0
        finally:
            raise ToolError("buildah: not started, the pipeline is stopping")

    monkeypatch.setattr(cli, "run_verb", verb)
    assert cli.main(["plan"]) == 128 + signal.SIGTERM
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("Interrupted (SIGTERM)"), last
    # The next run in this process is not taken for interrupted.
    monkeypatch.setattr(cli, "run_verb", lambda *_: (_ for _ in ()).throw(ToolError("x: failed")))
    assert cli.main(["plan"]) == ToolError("x").exit_code


def test_verify_tags_loads_only_what_it_needs_at_start_up() -> None:
    """Start-up is part of every audit's cost (issue 18): the verb's modules load no YAML
    parser, no rich, no TLS and no process runner before they are used."""
    code = (  # what the interpreter's own site set-up loaded is not the verb's
        "import sys; before = set(sys.modules); "
        "import pipeline.cli, pipeline.stages.verify, pipeline.stages.audit; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    assert "pipeline.images.registry.http" in loaded  # the check can fail: it sees the verb
    deferred = {"ssl", "http.client", "email", "subprocess", "shutil", "tempfile", "rich"}
    assert loaded & (deferred | {"ruamel.yaml"}) == set()
