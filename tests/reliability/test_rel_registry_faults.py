"""Registry faults during publish and verify-tags, at seeded random points.

The shared build names the fault proxy as its registry, so every request of ``publish`` (the
pipeline's own client, buildah push and skopeo copy) and of ``verify-tags`` passes through it. Each
run deletes a few images of the published release from the registry (so publish has real pushes
to do), then injects one fault from a random request on: answers 500 / 503 / 429, dropped
connections, delays, or the registry killed outright. Retries are kept short through the
environment. After each run:

- no floating tag points at an image of an incomplete set,
- each release record is whole (every image, with the registry's digests) or absent,
- report.json is valid,
- a re-run without faults completes, and verify-tags is green.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_OK, EXIT_TOOL
from pipeline.tools import registry_server
from tests.reliability.faultproxy import Proxy, Schedule, random_schedule
from tests.reliability.invariants import Release, check_published
from tests.reliability.project import (
    FAST_RETRY,
    Project,
    delete_tags,
    registry_tags,
    retreat_floating,
)
from tests.support.shared_build import SharedBuild, seeded

pytestmark = [pytest.mark.tools, pytest.mark.slow]

PUBLISH_RUNS = 10
VERIFY_RUNS = 10
KINDS = ("500", "503-burst", "429", "429-once", "drop", "drop-once", "delay", "kill")


@dataclass
class Faulty:
    project: Project
    shared: SharedBuild
    release: Release
    #: Requests a clean publish (with two images to push) and a clean verify-tags make.
    publish_requests: int
    verify_requests: int


def kill_registry(shared: SharedBuild) -> None:
    registry_server.stop(shared.registry.root)


def schedule(kind: str, rng: random.Random, requests: int, shared: SharedBuild) -> Schedule:
    if kind == "kill":
        # From the chosen request on, the registry behind the proxy is gone: connections drop.
        return Schedule(
            start=rng.randrange(max(1, requests)),
            fault=lambda h: False,
            on_start=lambda: kill_registry(shared),
        )
    return random_schedule(rng, requests, kind)


def remove_images(faulty: Faulty, images: list[str]) -> None:
    """The release without ``images``, as before a publish: their tags gone, and the floating
    tags of the rest of their products on an earlier release."""
    release, url = faulty.release, faulty.shared.url
    for image in images:
        delete_tags(url, release.repo(image), [release.unique_tag(image)])
    products = {release.images[image]["product"] for image in images}
    for image in (i for p in sorted(products) for i in release.of_product(p)):
        if image not in images:
            retreat_floating(
                url, release.repo(image), release.unique_tag(image), release.floating_tag(image)
            )


@pytest.fixture(scope="module")
def faulty(shared: SharedBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    project = shared.copy(tmp_path_factory.mktemp("faults") / "project")
    project.env = dict(FAST_RETRY)
    release = Release.of(project)
    proxy = shared.proxy
    proxy.reset()
    remove_images(Faulty(project, shared, release, 0, 0), ["virt-handler", "cdi-importer"])
    published = project.run("publish")
    assert published.returncode == 0, published.explain()
    publish_requests = len(proxy.requests)
    proxy.reset()
    verified = project.run("verify-tags")
    assert verified.returncode == 0, verified.explain()
    verify_requests = len(proxy.requests)
    proxy.reset()
    yield Faulty(project, shared, release, publish_requests, verify_requests)
    proxy.reset()
    shared.restart_registry()


def check_invariants(faulty: Faulty, what: str) -> None:
    check_published(faulty.project, faulty.shared.url, what)


def recover(faulty: Faulty, what: str) -> None:
    faulty.shared.restart_registry()
    faulty.shared.proxy.reset()
    again = faulty.project.run("publish")
    assert again.returncode == EXIT_OK, f"{what}: re-run failed\n{again.explain()}"
    verified = faulty.project.run("verify-tags")
    assert verified.returncode == EXIT_OK, f"{what}: verify after re-run\n{verified.explain()}"
    check_invariants(faulty, what + " (after re-run)")
    assert len(faulty.project.records()) == len(faulty.release.products), what


def assert_one_line_failure(result_stderr: str, returncode: int, what: str) -> None:
    assert "Traceback" not in result_stderr, f"{what}\n{result_stderr[-3000:]}"
    if returncode != EXIT_OK:
        last = [line for line in result_stderr.splitlines() if line.strip()][-1]
        assert last.startswith(("Registry:", "Publish:", "Verify:", "/", "Tool:")), last


@pytest.mark.parametrize("run", range(PUBLISH_RUNS))
def test_publish_under_registry_faults(run: int, faulty: Faulty, proxy: Proxy) -> None:
    rng = seeded(f"publish-fault-{run}")
    kind = KINDS[run % len(KINDS)] if run < len(KINDS) else rng.choice(KINDS)
    missing = rng.sample(sorted(faulty.release.images), rng.randint(1, 3))
    remove_images(faulty, missing)
    for record in (faulty.project.build_dir / "releases").glob("*/record.json"):
        shutil.rmtree(record.parent)
    plan = schedule(kind, rng, faulty.publish_requests, faulty.shared)
    what = f"publish run {run}: {kind} from request {plan.start}, {missing} missing"
    proxy.handler = plan
    result = faulty.project.run("publish")
    proxy.reset()
    faulty.shared.restart_registry()
    assert result.returncode in (EXIT_OK, EXIT_TOOL), f"{what}\n{result.explain()}"
    assert_one_line_failure(result.stderr, result.returncode, what)
    check_invariants(faulty, what)
    if result.returncode == EXIT_OK:
        assert len(faulty.project.records()) == len(faulty.release.products), what
    recover(faulty, what)


@pytest.mark.parametrize("run", range(VERIFY_RUNS))
def test_verify_tags_under_registry_faults(
    run: int, faulty: Faulty, proxy: Proxy, tmp_path: Path
) -> None:
    rng = seeded(f"verify-fault-{run}")
    kind = KINDS[(run + 3) % len(KINDS)] if run < len(KINDS) else rng.choice(KINDS)
    before = registry_tags(faulty.shared.url)
    plan = schedule(kind, rng, faulty.verify_requests, faulty.shared)
    what = f"verify run {run}: {kind} from request {plan.start}"
    proxy.handler = plan
    out = tmp_path / "verify.json"
    result = faulty.project.run("verify-tags", "--json", str(out))
    proxy.reset()
    faulty.shared.restart_registry()
    assert_one_line_failure(result.stderr, result.returncode, what)
    # A registry that failed is not a mismatch: the tags were not found missing, just unchecked.
    assert result.returncode in (EXIT_OK, EXIT_TOOL), f"{what}\n{result.explain()}"
    if result.returncode == EXIT_OK:
        assert json.loads(out.read_text())["ok"] is True, what
    assert registry_tags(faulty.shared.url) == before, f"{what}: verify-tags changed the registry"
    again = faulty.project.run("verify-tags")
    assert again.returncode == EXIT_OK, f"{what}: re-run\n{again.explain()}"
