"""verify-tags against the real registry: every kind of drift between manifests and registry is
caught and named with its manifest file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config.project import load_project
from pipeline.images.manifests import scan_text
from pipeline.images.registry import RegistryClient, RetryPolicy
from pipeline.stages.verify import Expectations, check
from pipeline.tools.registry_server import RegistryServer
from tests.support.paths import ROOT
from tests.support.registry import Buildah, push_image

pytestmark = pytest.mark.tools
FAST = RetryPolicy(attempts=2, total_seconds=2.0, backoff=0.01, max_backoff=0.05)


def cdi_operator(prefix: str, tag: str, version: str | None = None) -> str:
    """An upstream-shaped cdi-operator Deployment naming its component images in env vars."""
    envs = "\n".join(
        f"        - name: {var}\n          value: {prefix}/{image}:{tag}"
        for var, image in (
            ("CONTROLLER_IMAGE", "cdi-controller"),
            ("IMPORTER_IMAGE", "cdi-importer"),
        )
    )
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: cdi-operator
spec:
  template:
    spec:
      containers:
      - name: cdi-operator
        image: {prefix}/cdi-operator:{tag}
        env:
        - name: OPERATOR_VERSION
          value: "{version or tag}"
{envs}
"""


@pytest.fixture(scope="module")
def release(registry: RegistryServer, buildah: Buildah) -> dict[str, str]:
    """A small CDI release in the registry: three images at tag 1.66.0-3.1 with version labels."""
    digests = {}
    for image in ("cdi-operator", "cdi-controller", "cdi-importer"):
        pushed = push_image(
            buildah,
            registry,
            f"verify/{image}",
            "1.66.0-3.1",
            labels={"org.opencontainers.image.version": "1.66.0"},
        )
        digests[pushed.reference] = pushed.digest
    return digests


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    with RegistryClient(retry=FAST, timeout=5) as c:
        yield c


def run_check(text: str, client: RegistryClient, expect: Expectations | None = None) -> list:
    products = dict(load_project(ROOT / "pipeline.yaml").products)
    scan = scan_text(text, "cdi-operator.yaml", [i.name for i in products["cdi"].images])
    return check(scan, products, client, expect or Expectations(), {})


def test_a_complete_release_is_green(
    registry: RegistryServer, release: dict[str, str], client: RegistryClient
) -> None:
    findings = run_check(
        cdi_operator(f"{registry.address}/verify", "1.66.0-3.1"),
        client,
        Expectations(digests=release, platforms=("linux/amd64",)),
    )
    assert len(findings) == 3
    assert all(f.ok for f in findings), [f.problems for f in findings]


def test_a_tag_never_pushed_is_named_with_its_line(
    registry: RegistryServer, release: dict[str, str], client: RegistryClient
) -> None:
    text = cdi_operator(f"{registry.address}/verify", "1.66.0-3.1").replace(
        "cdi-importer:1.66.0-3.1", "cdi-importer:1.66.0-9.9"
    )
    bad = [f for f in run_check(text, client) if not f.ok]
    assert [f.reference.rsplit("/", 1)[1] for f in bad] == ["cdi-importer:1.66.0-9.9"]
    assert bad[0].where.startswith("cdi-operator.yaml:")
    assert any("not in the registry" in p for p in bad[0].problems)
    assert any("differs from 1.66.0-3.1" in p for p in bad[0].problems)  # the product's tag


def test_a_tag_overwritten_since_publish_is_caught(
    registry: RegistryServer, buildah: Buildah, release: dict[str, str], client: RegistryClient
) -> None:
    recorded = dict(release)
    ref = next(r for r in recorded if "cdi-controller" in r)
    push_image(
        buildah,
        registry,
        "verify/cdi-controller",
        "1.66.0-3.1",
        content="overwritten",
        labels={"org.opencontainers.image.version": "1.66.0"},
    )
    bad = [
        f
        for f in run_check(
            cdi_operator(f"{registry.address}/verify", "1.66.0-3.1"),
            client,
            Expectations(digests=recorded),
        )
        if not f.ok
    ]
    assert [f.reference for f in bad] == [ref]
    assert "differs from the published" in bad[0].problems[0]


def test_operator_version_must_equal_the_tag(
    registry: RegistryServer, release: dict[str, str], client: RegistryClient
) -> None:
    text = cdi_operator(f"{registry.address}/verify", "1.66.0-3.1", version="1.66.0-2.1")
    bad = [f for f in run_check(text, client) if not f.ok]
    assert len(bad) == 3
    assert all("OPERATOR_VERSION" in " ".join(f.problems) for f in bad)


def test_a_digest_that_does_not_exist(
    registry: RegistryServer, release: dict[str, str], client: RegistryClient
) -> None:
    missing = "sha256:" + "0" * 64
    text = cdi_operator(f"{registry.address}/verify", "1.66.0-3.1").replace(
        "cdi-controller:1.66.0-3.1", f"cdi-controller@{missing}"
    )
    bad = [f for f in run_check(text, client) if not f.ok]
    assert [f.reference.endswith(missing) for f in bad] == [True]


def test_an_index_missing_a_declared_platform(
    registry: RegistryServer, buildah: Buildah, client: RegistryClient
) -> None:
    for image in ("cdi-operator", "cdi-controller", "cdi-importer"):
        push_image(
            buildah,
            registry,
            f"multi/{image}",
            "1.66.0-4.1",
            platforms=("linux/amd64",)
            if image == "cdi-importer"
            else ("linux/amd64", "linux/arm64"),
        )
    findings = run_check(
        cdi_operator(f"{registry.address}/multi", "1.66.0-4.1"),
        client,
        Expectations(platforms=("linux/amd64", "linux/arm64")),
    )
    bad = [f for f in findings if not f.ok]
    assert [f.reference.rsplit("/", 1)[1] for f in bad] == ["cdi-importer:1.66.0-4.1"]
    assert "lacks platforms linux/arm64" in bad[0].problems[0]


def verify_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "verify-tags", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PIPELINE_REGISTRY_ATTEMPTS": "2",
            "PIPELINE_REGISTRY_RETRY_SECONDS": "2",
        },
    )


def test_cli_exit_codes(registry: RegistryServer, release: dict[str, str], tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(cdi_operator(f"{registry.address}/verify", "1.66.0-3.1"))
    result = verify_cli("--manifests", str(good), "--json", "-")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True

    drifted = tmp_path / "drifted.yaml"
    drifted.write_text(
        good.read_text().replace("cdi-importer:1.66.0-3.1", "cdi-importer:1.66.1-3.1")
    )
    result = verify_cli("--manifests", str(drifted))
    assert result.returncode == 1
    assert "cdi-importer:1.66.1-3.1" in result.stderr

    typo = tmp_path / "typo.yaml"
    typo.write_text(good.read_text().replace("cdi-importer:1.66.0-3.1", "cdi-importer:v0,21.0"))
    result = verify_cli("--manifests", str(typo))
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"{typo}:") and "v0,21.0" in line
    assert "Traceback" not in result.stderr


def test_registry_down_is_exit_3_in_one_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(cdi_operator("127.0.0.1:9/verify", "1.66.0-3.1"))
    result = verify_cli("--manifests", str(manifest))
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Registry:"), result.stderr


def test_manifests_of_several_releases_are_each_consistent(
    registry: RegistryServer, buildah: Buildah, release: dict[str, str], tmp_path: Path
) -> None:
    for image in ("cdi-operator", "cdi-controller", "cdi-importer"):
        push_image(
            buildah,
            registry,
            f"verify/{image}",
            "1.66.0-5.1",
            labels={"org.opencontainers.image.version": "1.66.0"},
        )
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(cdi_operator(f"{registry.address}/verify", "1.66.0-3.1"))
    new.write_text(cdi_operator(f"{registry.address}/verify", "1.66.0-5.1"))
    result = verify_cli("--manifests", str(old), str(new), "--json", "-")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["references"]) == 6
