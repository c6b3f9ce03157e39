"""SIGINT and SIGTERM at seeded random points of ``build`` and ``publish``; the next run recovers
with no manual clean-up and never reuses a release number.

- ``build`` in its rpms stage: the session's shared build was started, sent SIGTERM after a
  random delay, then run to the end (``SharedBuild.interrupted``).
- ``build`` after an image change: a CDI Dockerfile changed in a copy, so the run takes a new
  CDI release and rebuilds its RPMs and images; it is interrupted twice (SIGINT, then SIGTERM),
  then run to the end.
- ``publish`` of that rebuild, first between the two architectures of an image: SIGTERM once
  its amd64 image is in the registry and its arm64 one on the way (the proxy holds that
  request): no floating tag moved, no release record; then interrupted twice at random (SIGINT,
  SIGTERM), then run to the end: the set complete, its records written, verify-tags green.
"""

from __future__ import annotations

import signal
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_OK
from tests.reliability.faultproxy import drop
from tests.reliability.invariants import Release, check_published
from tests.reliability.project import Project, interrupt, processes_mentioning, registry_tags
from tests.support.shared_build import SharedBuild, seeded

pytestmark = [pytest.mark.tools, pytest.mark.slow]

CHANGED = ("cdi-cloner",)
DOCKERFILES = {"cdi-cloner": "dockerfiles/cdi/cdi-cloner/Dockerfile"}


def exit_of(sig: signal.Signals) -> int:
    return 128 + int(sig)


def assert_no_release_reused(before: dict[str, list[str]], after: dict[str, list[str]]) -> None:
    """Every number handed out before is still recorded, in order, and none twice."""
    for key, taken in after.items():
        assert len(taken) == len(set(taken)), f"{key}: a release was handed out twice: {taken}"
        assert taken[: len(before.get(key, []))] == before.get(key, []), key


def assert_interrupted(returncode: int, sig: signal.Signals, output: str, root: Path) -> None:
    assert returncode in (exit_of(sig), EXIT_OK), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    if returncode != EXIT_OK:
        lines = [line for line in output.splitlines() if line.strip()]
        assert lines[-1].startswith(f"Interrupted ({sig.name})"), lines[-1]
    assert processes_mentioning(root) == [], "tools left running after the interruption"


def test_sigterm_in_the_rpms_stage_of_build(shared: SharedBuild) -> None:
    kill = shared.interrupted
    assert kill.returncode == exit_of(signal.SIGTERM), kill.stderr[-3000:]
    assert "Traceback" not in kill.stderr
    assert kill.stderr.strip().splitlines()[-1].startswith("Interrupted (SIGTERM)")
    assert kill.left_running == [], "rpmbuild (or go) kept running after SIGTERM"
    assert_no_release_reused(kill.taken_after_kill, shared.taken_after_build)
    project = Project(shared.root, shared.address)
    for product, entry in project.report()["rpms"]["products"].items():
        # The finished build took a number of its own: not the one the killed build held.
        assert entry["release"] not in kill.taken_after_kill.get(product, []), product


@pytest.fixture(scope="module")
def rebuilt(shared: SharedBuild, tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = shared.copy(tmp_path_factory.mktemp("interrupt") / "project")
    for path in DOCKERFILES.values():
        with (project.root / path).open("a") as handle:
            handle.write("\n# changed by the interruption suite\n")
    return project


def test_interrupted_containers_stage_recovers(rebuilt: Project) -> None:
    project = rebuilt
    rng = seeded("interrupt-build")
    before = project.taken()
    for sig in (signal.SIGINT, signal.SIGTERM):
        taken = project.taken()
        log = project.root.parent / f"build-{sig.name}.log"
        # CDI's rpmbuild (a warm Go cache: mostly linking) or its first image builds.
        returncode = interrupt(project.start("build", log=log), sig, rng.uniform(3.0, 14.0))
        assert_interrupted(returncode, sig, log.read_text(), project.root)
        assert_no_release_reused(taken, project.taken())
        project.report()  # still valid JSON
    result = project.run("build", "--json", "-")
    assert result.returncode == EXIT_OK, result.explain()
    assert_no_release_reused(before, project.taken())
    images = project.report()["containers"]["images"]
    for name in CHANGED:
        entry = images[name]
        assert entry["state"] in ("built", "up to date"), entry
        held = project.taken()[entry["product"]]
        # An image carries its product's release: the last number handed out, never earlier.
        assert entry["release"] == held[-1], (name, held)


class SecondArchitecture:
    """A proxy handler that holds the second image manifest a push sends by digest (an
    index's entries go first, one per architecture, the index last at its tag): the first
    image's arm64 image, its amd64 one already in."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.stopped = threading.Event()
        self.seen: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, h: BaseHTTPRequestHandler) -> bool:
        if h.command != "PUT" or "/manifests/" not in h.path:
            return False
        with self._lock:
            self.seen.append(h.path)
            second = len(self.seen) == 2
        if not second:
            return False
        self.arrived.set()
        self.stopped.wait(120)  # until the publish is interrupted; then never stored
        return drop(h)


def interrupt_between_architectures(project: Project, shared: SharedBuild) -> None:
    """SIGTERM while publish has the first image's amd64 image in the registry and its arm64
    one on the way: nothing floats onto the new set, no release record, no unique tag."""
    release = Release.of(project)
    before = registry_tags(shared.url)
    hold = SecondArchitecture()
    shared.proxy.handler = hold
    log = project.root.parent / "publish-between.log"
    try:
        proc = project.start("publish", log=log)
        assert hold.arrived.wait(600), "publish pushed no second image manifest"
        returncode = interrupt(proc, signal.SIGTERM, 0.0)
    finally:
        hold.stopped.set()
        shared.proxy.reset()
    assert_interrupted(returncode, signal.SIGTERM, log.read_text(), project.root)
    assert returncode == exit_of(signal.SIGTERM)
    assert all("/manifests/sha256:" in path for path in hold.seen), hold.seen
    check_published(project, shared.url, "publish stopped between two architectures")
    after = registry_tags(shared.url)
    assert f"cdi-{release.products['cdi']['tag']}" not in project.records()
    for image in release.of_product("cdi"):
        repo, floating = release.repo(image), release.floating_tag(image)
        assert after.get(repo, {}).get(floating) == before.get(repo, {}).get(floating), image
        assert release.unique_tag(image) not in after.get(repo, {}), image


def test_interrupted_publish_recovers(rebuilt: Project, shared: SharedBuild) -> None:
    project = rebuilt
    if not project.report().get("containers"):
        pytest.skip("the rebuild before it failed")
    interrupt_between_architectures(project, shared)
    rng = seeded("interrupt-publish")
    for sig in (signal.SIGINT, signal.SIGTERM):
        log = project.root.parent / f"publish-{sig.name}.log"
        returncode = interrupt(project.start("publish", log=log), sig, rng.uniform(0.5, 4.0))
        assert_interrupted(returncode, sig, log.read_text(), project.root)
        check_published(project, shared.url, f"publish after {sig.name}")
    result = project.run("publish")
    assert result.returncode == EXIT_OK, result.explain()
    check_published(project, shared.url, "publish re-run")
    current = {f"{p}-{e['tag']}" for p, e in project.report()["rpms"]["products"].items()}
    assert current <= set(project.records())
    verified = project.run("verify-tags")
    assert verified.returncode == EXIT_OK, verified.explain()
    tags = registry_tags(shared.url)
    for name in CHANGED:
        entry = project.report()["containers"]["images"][name]
        repo = entry["reference"].split("/", 1)[1].rsplit(":", 1)[0]
        assert tags[repo][entry["reference"].rsplit(":", 1)[1]] == entry["digest"], name
