"""The session's ONE full local build, which the end-to-end tests and every reliability suite
copy instead of building again, and its registry with the fault proxy in front (a pytest plugin:
tests/conftest.py loads it).

The build names the proxy as its registry (``--registry <proxy>``), so every later publish and
verify-tags of a copy goes through the proxy, where a test can inject faults. The first build is
interrupted with SIGTERM at a seeded random point and then run to the end: that is the
interruption suite's recovery check of ``build``, at no extra cost.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pipeline.tools import registry_server
from pipeline.tools.registry_server import RegistryServer
from tests.reliability.faultproxy import Proxy
from tests.reliability.project import Project, copy_project, interrupt, processes_mentioning
from tests.support.tools import need_tool

#: One seed for the whole run; set PIPELINE_TEST_SEED to replay a failure.
SEED = int(os.environ.get("PIPELINE_TEST_SEED", "20260611"))
#: For working on the suites: a directory where the shared build, its registry and the proxy's
#: port are kept, and reused by the next session (never set in CI: it skips the fresh build).
REUSE = os.environ.get("PIPELINE_RELIABILITY_REUSE")
BUILD_TOOLS = ("rpmbuild", "createrepo_c", "buildah", "zypper", "go", "skopeo", "rpm2cpio")


def seeded(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


@dataclass
class Interruption:
    signal: str
    after: float
    returncode: int
    stderr: str
    taken_after_kill: dict[str, list[str]]
    #: Processes still naming the project a moment after the interrupted run ended.
    left_running: list[str]


@dataclass
class SharedBuild:
    """The one full build of the session, published and verified once."""

    root: Path
    proxy: Proxy
    registry: RegistryServer
    interrupted: Interruption
    taken_after_build: dict[str, list[str]] = field(default_factory=dict)

    @property
    def address(self) -> str:
        """What the build's manifests and tags name: the proxy."""
        return self.proxy.address

    @property
    def url(self) -> str:
        """The real registry, for looking at it past the proxy."""
        return self.registry.url

    def copy(self, destination: Path) -> Project:
        return Project(copy_project(destination, built=self.root), self.address)

    def restart_registry(self) -> None:
        """Start the registry again on its port (after a test killed it).

        ``start`` returns the running server if there is one; it waits for a stop still under
        way in the proxy's thread, where a "kill" fault stops the registry.
        """
        registry_server.start(self.registry.root, port=self.registry.port)


def _kept() -> dict[str, Any]:
    state = Path(REUSE or "/nonexistent") / "state.json"
    return json.loads(state.read_text()) if state.exists() else {}


@pytest.fixture(scope="session")
def rel_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry of the reliability suites' own: they kill and restart it."""
    need_tool(registry_server.BINARY)
    root = Path(REUSE) / "registry" if REUSE else tmp_path_factory.mktemp("rel-registry")
    server = registry_server.start(root, port=_kept().get("registry_port"))
    try:
        yield server
    finally:
        registry_server.stop(root)


@pytest.fixture(scope="session")
def rel_proxy(rel_registry: RegistryServer) -> Iterator[Proxy]:
    proxy = Proxy(rel_registry.url, port=_kept().get("proxy_port", 0))
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def shared(
    tmp_path_factory: pytest.TempPathFactory, rel_registry: RegistryServer, rel_proxy: Proxy
) -> SharedBuild:
    for tool in BUILD_TOOLS:
        need_tool(tool)
    kept = _kept()
    if kept:
        return SharedBuild(
            Path(kept["root"]),
            rel_proxy,
            rel_registry,
            Interruption(**kept["interrupted"]),
            kept["taken_after_build"],
        )
    base = Path(REUSE) if REUSE else tmp_path_factory.mktemp("shared")
    root = copy_project(base / "project")
    project = Project(root, rel_proxy.address)
    rng = seeded("shared-build")
    after = rng.uniform(2.0, 12.0)
    started = time.monotonic()
    log = root.parent / "interrupted-build.log"
    proc = project.start("build", log=log)
    returncode = interrupt(proc, signal.SIGTERM, after)
    time.sleep(0.5)
    interrupted = Interruption(
        "SIGTERM",
        round(after, 2),
        returncode,
        log.read_text(),
        project.taken(),
        processes_mentioning(root),
    )
    result = project.run("build", timeout=3600)
    assert result.returncode == 0, result.explain()
    build = SharedBuild(root, rel_proxy, rel_registry, interrupted, project.taken())
    published = project.run("publish")
    assert published.returncode == 0, published.explain()
    verified = project.run("verify-tags")
    assert verified.returncode == 0, verified.explain()
    print(f"shared build: {time.monotonic() - started:.0f}s (seed {SEED})")
    if REUSE:
        state = {
            "root": str(root),
            "registry_port": rel_registry.port,
            "proxy_port": int(rel_proxy.address.rsplit(":", 1)[1]),
            "interrupted": asdict(interrupted),
            "taken_after_build": build.taken_after_build,
        }
        (Path(REUSE) / "state.json").write_text(json.dumps(state))
    return build
