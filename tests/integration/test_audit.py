"""``verify-tags --releases``: the published releases of several targets audited against the real
registry in one run: intact, or exactly what changed, at one HEAD per reference and each digest's
manifest and config once; and patient with a registry that throttles."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.scale import copy_tag
from pipeline.images.pinning import operator_env
from pipeline.images.registry import NotFound, RegistryClient, RetryPolicy
from pipeline.tools.registry_server import RegistryServer
from tests.reliability.faultproxy import Proxy, answer
from tests.support.paths import ROOT
from tests.support.registry import Buildah, delete_manifest, push_image
from tests.support.releases import project_copy, virt_operator_yaml, write_bundle

pytestmark = pytest.mark.tools
LABELS = {"org.opencontainers.image.version": "1.9.0"}
BOTH = ("linux/amd64", "linux/arm64")
ACCESS = re.compile(r'"(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP')


@dataclass
class Published:
    """Three releases of KubeVirt 1.9.0: two for ``local`` (release 2.1 rebuilt only the operator,
    so its virt-api tag names 1.1's digest) and one for ``tumbleweed`` (every image an index of
    amd64 and arm64, as that target declares)."""

    project: Path
    refs: dict[str, str]  # short name -> reference
    digests: dict[str, str]  # reference -> digest


def _kubevirt(
    build: Path, target: str, release: str, operator: str, api: str, digests: dict[str, str]
) -> None:
    mine = {operator: digests[operator], api: digests[api]}
    env = operator_env("1.9.0", operator, {"virt-api": api}, mine)
    tagged = {"kubevirt-operator.yaml": virt_operator_yaml(operator, f"1.9.0-{release}")}
    platforms = BOTH if target == "tumbleweed" else None
    write_bundle(
        build / target,
        target,
        "kubevirt",
        "1.9.0",
        release,
        mine,
        tagged,
        env=env,
        platforms=platforms,
    )


def publish(registry: RegistryServer, buildah: Buildah, root: Path, ns: str) -> Published:
    prefix = f"{registry.address}/{ns}"
    refs = {
        "op1": f"{prefix}/local/virt-operator:1.9.0-1.1",
        "api1": f"{prefix}/local/virt-api:1.9.0-1.1",
        "op2": f"{prefix}/local/virt-operator:1.9.0-2.1",
        "api2": f"{prefix}/local/virt-api:1.9.0-2.1",
        "op3": f"{prefix}/tw/virt-operator:1.9.0-1.1",
        "api3": f"{prefix}/tw/virt-api:1.9.0-1.1",
    }
    digests = {}
    for key in ("op1", "api1", "op2", "op3", "api3"):
        repository, tag = refs[key].split("/", 1)[1].rsplit(":", 1)
        platforms = BOTH if key.endswith("3") else ()
        pushed = push_image(buildah, registry, repository, tag, labels=LABELS, platforms=platforms)
        digests[refs[key]] = pushed.digest
    with requests.Session() as session:
        copy_tag(session, registry.url, f"{ns}/local/virt-api", "1.9.0-1.1", "1.9.0-2.1")
    digests[refs["api2"]] = digests[refs["api1"]]
    project = project_copy(root)
    build = root / "build"
    _kubevirt(build, "local", "1.1", refs["op1"], refs["api1"], digests)
    _kubevirt(build, "local", "2.1", refs["op2"], refs["api2"], digests)
    _kubevirt(build, "tumbleweed", "1.1", refs["op3"], refs["api3"], digests)
    return Published(project, refs, digests)


def audit(project: Path, *targets: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """``verify-tags --releases TARGETS`` as a user runs it: exit code, JSON, stderr."""
    out = project.parent / "audit.json"
    out.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "pipeline", "verify-tags", "--project", str(project)]
    done = subprocess.run(
        [*argv, "--releases", *targets, "--json", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "COLUMNS": "200", **(env or {})},
    )
    data = json.loads(out.read_text()) if out.is_file() else None
    return done.returncode, data, done.stderr


def requests_since(registry: RegistryServer, offset: int, ns: str) -> Counter[str]:
    log = registry.log_path.read_bytes()[offset:].decode(errors="replace")
    return Counter(m.group(1) for m in ACCESS.finditer(log) if f"/v2/{ns}/" in m.group(2))


def problems(data: Any) -> list[tuple[str, str, str]]:
    return [
        (r["release"], p["reference"], p["problem"])
        for t in data["targets"]
        for r in t["releases"]
        for p in r["problems"]
    ]


def test_three_releases_of_two_targets_are_intact_at_the_request_floor(
    registry: RegistryServer, buildah: Buildah, tmp_path: Path
) -> None:
    published = publish(registry, buildah, tmp_path / "project", "green")
    offset = registry.log_path.stat().st_size
    code, data, stderr = audit(published.project, "all")
    assert code == 0, stderr
    assert data["ok"] and (data["releases"], data["intact"], data["references"]) == (3, 3, 6)
    by_target = {t["target"]: [r["release"] for r in t["releases"]] for t in data["targets"]}
    assert by_target == {
        "local": ["kubevirt-1.9.0-1.1", "kubevirt-1.9.0-2.1"],
        "local-upstream": [],
        "tumbleweed": ["kubevirt-1.9.0-1.1"],
        "sle15-sp3": [],
        "sle15-sp2": [],
    }
    # One HEAD per reference (the pinned manifests' references are the records' own); each
    # digest's manifest and config once: three digests for local's four references (the
    # releases share virt-api's), and for each index its manifest, its first image's manifest
    # and config, and a HEAD for its arm64 image.
    assert requests_since(registry, offset, "green") == {"HEAD": 6 + 2, "GET": 3 * 2 + 2 * 3}
    assert "3 of 3 releases intact" in stderr
    assert "no releases published" in stderr  # local-upstream, sle15-sp3, sle15-sp2


def test_a_moved_tag_a_deleted_image_and_a_lost_arch_are_each_named(
    registry: RegistryServer, buildah: Buildah, tmp_path: Path
) -> None:
    published = publish(registry, buildah, tmp_path / "project", "drift")
    refs, digests = published.refs, published.digests
    repository, tag = refs["op2"].split("/", 1)[1].rsplit(":", 1)
    moved = push_image(buildah, registry, repository, tag, content="someone else", labels=LABELS)
    retry = RetryPolicy(attempts=2, total_seconds=5)
    with RegistryClient(retry=retry, credentials=lambda r, p: None) as client:
        assert delete_manifest(client, f"{refs['op1'].rsplit(':', 1)[0]}@{digests[refs['op1']]}")
        index = client.get_manifest_document(refs["op3"])
        assert not isinstance(index, NotFound)
        arm = next(d for p, d in index[0].children if p.startswith("linux/arm64"))
        assert delete_manifest(client, f"{refs['op3'].rsplit(':', 1)[0]}@{arm}")

    code, data, stderr = audit(published.project, "local", "tumbleweed")

    assert code == 1, stderr
    assert data["intact"] == 0 and data["changed"] == 3
    op1, op2, op3 = (digests[refs[k]] for k in ("op1", "op2", "op3"))
    assert sorted(problems(data)) == sorted(
        [
            (
                "kubevirt-1.9.0-1.1",
                refs["op1"],
                f"image deleted: tag 1.9.0-1.1 and its manifest {op1} are gone",
            ),
            (
                "kubevirt-1.9.0-2.1",
                refs["op2"],
                f"tag 1.9.0-2.1 moved to digest {moved.digest} (published {op2}, still in the "
                "registry)",
            ),
            (
                "kubevirt-1.9.0-1.1",
                refs["op3"],
                f"platform linux/arm64 missing from {refs['op3']} (its manifest is gone, the "
                "index still lists linux/arm64)",
            ),
        ]
    )
    assert op3  # the index itself is untouched: only its arm64 image went
    wheres = [p["where"] for t in data["targets"] for r in t["releases"] for p in r["problems"]]
    assert all(
        re.fullmatch(r"build/\w+/releases/kubevirt-1\.9\.0-\d\.1/record\.json:\d+", w)
        for w in wheres
    )
    changed = [line for line in stderr.splitlines() if line.startswith("CHANGED ")]
    assert len(changed) == 3 and all("record.json:" in line for line in changed)
    assert "Traceback" not in stderr


class Throttle:
    """In front of the registry: more than ``limit`` requests at once get a 429."""

    def __init__(self, proxy: Proxy, limit: int) -> None:
        self.proxy, self.limit = proxy, limit
        self.lock = threading.Lock()
        self.in_flight = 0
        self.refusals: list[bool] = []  # per request, in the order they arrived

    @property
    def refused(self) -> int:
        return sum(self.refusals)

    def __call__(self, h: BaseHTTPRequestHandler) -> bool:
        with self.lock:
            self.in_flight += 1
            over = self.in_flight > self.limit
            self.refusals.append(over)
        try:
            if over:
                return answer(429, b"too many requests", {"Retry-After": "0"})(h)
            self.proxy.forward(h)
            return True
        finally:
            with self.lock:
                self.in_flight -= 1


def test_a_registry_answering_429_slows_the_audit_down_and_it_finishes_green(
    registry: RegistryServer, buildah: Buildah, tmp_path: Path
) -> None:
    images = ("virt-api", "virt-controller", "virt-handler")
    seeds = {
        i: push_image(buildah, registry, f"throttled/{i}", "seed", labels=LABELS) for i in images
    }
    proxy = Proxy(registry.url)
    try:
        root = tmp_path / "project"
        project = project_copy(root)
        with requests.Session() as session:
            for n in range(1, 31):
                tag, digests = f"1.9.0-{n}.1", {}
                for image, seed in seeds.items():
                    copy_tag(session, registry.url, f"throttled/{image}", "seed", tag)
                    digests[f"{proxy.address}/throttled/{image}:{tag}"] = seed.digest
                tagged = {"workloads.yaml": _workloads(digests)}
                build = root / "build/local"
                write_bundle(build, "local", "kubevirt", "1.9.0", f"{n}.1", digests, tagged)
        throttle = Throttle(proxy, limit=2)
        proxy.handler = throttle
        code, data, stderr = audit(project, "local")
    finally:
        proxy.close()
    assert code == 0, stderr
    assert data["ok"] and data["intact"] == 30 and data["references"] == 90
    assert not [line for line in stderr.splitlines() if "Error" in line or "UNCHECKED" in line]
    assert throttle.refused > 0, "the audit never went past the registry's limit: no test"
    # It slowed down: the 429s came while it learnt the registry's pace, not to the end (the
    # proxy counts a request done only after writing its answer, so one late 429 may slip in).
    last = throttle.refusals[len(throttle.refusals) * 3 // 4 :]
    assert sum(last) <= 1, "".join("x" if r else "." for r in throttle.refusals)


def _workloads(digests: dict[str, str]) -> str:
    docs = []
    for ref in digests:
        name = ref.rsplit("/", 1)[1].split(":")[0]
        docs.append(
            f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n"
            f"  - name: {name}\n    image: {ref}\n"
        )
    return "---\n" + "---\n".join(docs)


def test_a_registry_that_is_down_is_exit_3_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "project"
    project = project_copy(root)
    digests = {f"127.0.0.1:9/down/virt-api:1.9.0-{n}.1": "sha256:" + "d" * 64 for n in (1, 2)}
    for n, (ref, digest) in enumerate(digests.items(), 1):
        tagged = {"workloads.yaml": _workloads({ref: digest})}
        write_bundle(
            root / "build/local", "local", "kubevirt", "1.9.0", f"{n}.1", {ref: digest}, tagged
        )
    fast = {"PIPELINE_REGISTRY_ATTEMPTS": "2", "PIPELINE_REGISTRY_RETRY_SECONDS": "2"}
    code, data, stderr = audit(project, "local", env=fast)
    assert code == 3
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Registry: build/local/releases/"), lines
    assert "connection failed" in lines[0] and data is None, "nothing recorded as a result"
