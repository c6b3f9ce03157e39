"""The client against the real distribution registry, with real images pushed by buildah."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from pipeline.core.errors import RegistryError
from pipeline.images.reference import parse_reference
from pipeline.images.registry import (
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_MANIFEST,
    Failed,
    ManifestInfo,
    NotFound,
    RegistryClient,
    RetryPolicy,
)
from pipeline.tools import registry_server
from pipeline.tools.registry_server import RegistryServer
from tests.support.registry import (
    Buildah,
    check_many,
    delete_manifest,
    get_labels,
    get_manifest,
    push_image,
)

pytestmark = pytest.mark.tools

FAST = RetryPolicy(attempts=3, total_seconds=2.0, backoff=0.01, max_backoff=0.05)


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    with RegistryClient(retry=FAST, timeout=5, credentials=lambda r, p: None) as c:
        yield c


def test_head_and_get_single_image(
    registry: RegistryServer, buildah: Buildah, client: RegistryClient
) -> None:
    pushed = push_image(buildah, registry, "kubevirt/virt-api", "1.0-1", labels={"v": "1.0-1"})
    head = client.head_manifest(pushed.reference)
    assert isinstance(head, ManifestInfo)
    assert head.digest == pushed.digest
    assert head.media_type in (OCI_MANIFEST, DOCKER_MANIFEST)
    assert head.size > 0
    got = get_manifest(client, pushed.reference, resolve_platform=True)
    assert isinstance(got, ManifestInfo)
    assert (got.digest, got.size, got.media_type) == (head.digest, head.size, head.media_type)
    assert got.platforms == ("linux/amd64",)
    assert got.config_digest and got.config_digest.startswith("sha256:")
    assert get_labels(client, pushed.reference)["v"] == "1.0-1"
    # By digest as well, and tag plus digest.
    by_digest = parse_reference(pushed.reference).with_digest(pushed.digest)
    assert isinstance(client.head_manifest(by_digest), ManifestInfo)
    both = parse_reference(f"{pushed.reference}@{pushed.digest}")
    assert get_manifest(client, both).digest == pushed.digest  # type: ignore[union-attr]


def test_multi_platform_index(
    registry: RegistryServer, buildah: Buildah, client: RegistryClient
) -> None:
    pushed = push_image(
        buildah,
        registry,
        "kubevirt/virt-handler",
        "2.0-1",
        platforms=("linux/amd64", "linux/arm64/v8"),
        labels={"org.opencontainers.image.version": "2.0-1"},
    )
    info = get_manifest(client, pushed.reference)
    assert isinstance(info, ManifestInfo)
    assert info.media_type in INDEX_TYPES and info.is_index
    assert info.digest == pushed.digest
    assert info.platforms == ("linux/amd64", "linux/arm64/v8")
    assert info.config_digest is None
    head = client.head_manifest(pushed.reference)
    assert isinstance(head, ManifestInfo) and head.digest == pushed.digest
    assert head.media_type == info.media_type
    first = client.get_config(pushed.reference)
    arm = client.get_config(pushed.reference, "linux/arm64")
    assert isinstance(first, dict) and isinstance(arm, dict)
    assert first["architecture"] == "amd64"
    assert (arm["architecture"], arm.get("variant")) == ("arm64", "v8")
    assert get_labels(client, pushed.reference)["org.opencontainers.image.version"] == "2.0-1"
    missing = client.get_config(pushed.reference, "linux/s390x")
    assert isinstance(missing, NotFound) and "s390x" in missing.reason


def test_tag_list_pagination(
    registry: RegistryServer, buildah: Buildah, client: RegistryClient
) -> None:
    tags = ["1.0-1", "1.0-2", "1.0-3", "1.1-1", "2.0-1"]
    for tag in tags:
        push_image(buildah, registry, "paged/repo", tag, content="same content\n")
    offset = registry.log_path.stat().st_size
    got = client.list_tags(f"{registry.address}/paged/repo", page_size=2)
    # docker-registry 2.8 ignores n= and answers one page (the Link-following itself is tested
    # against a paging proxy in test_registry_faults.py); the client must still get every tag.
    assert sorted(got) == tags
    log = registry.log_path.read_bytes()[offset:].decode(errors="replace")
    pages = re.findall(r'"GET (/v2/paged/repo/tags/list\S*) HTTP', log)
    assert pages and all("n=2" in p for p in pages)
    assert sorted(client.list_tags(f"{registry.address}/paged/repo")) == tags
    assert client.list_tags(f"{registry.address}/no/such/repo") == []


def test_delete_tag_then_not_found(
    registry: RegistryServer, buildah: Buildah, client: RegistryClient
) -> None:
    pushed = push_image(buildah, registry, "deleted/image", "1")
    assert isinstance(client.head_manifest(pushed.reference), ManifestInfo)
    assert delete_manifest(client, pushed.reference) is True
    gone = client.head_manifest(pushed.reference)
    assert isinstance(gone, NotFound)
    got = get_manifest(client, pushed.reference)
    assert isinstance(got, NotFound) and "MANIFEST_UNKNOWN" in got.reason
    assert delete_manifest(client, pushed.reference) is False
    by_digest = parse_reference(pushed.reference).with_digest(pushed.digest)
    assert delete_manifest(client, by_digest) is False


def test_not_found_values(registry: RegistryServer, client: RegistryClient) -> None:
    unknown_repo = get_manifest(client, f"{registry.address}/nobody/here:1")
    assert isinstance(unknown_repo, NotFound)
    assert unknown_repo.reason.split(":")[0] in ("NAME_UNKNOWN", "MANIFEST_UNKNOWN")
    assert isinstance(client.head_manifest(f"{registry.address}/nobody/here:1"), NotFound)


def test_check_many_keeps_order_and_reports_each(
    registry: RegistryServer, buildah: Buildah, client: RegistryClient
) -> None:
    a = push_image(buildah, registry, "many/a", "1")
    b = push_image(buildah, registry, "many/b", "1")
    refs = [a.reference, f"{registry.address}/many/a:nope", b.reference, "127.0.0.1:9/x/y:1"]
    results = check_many(client, refs, workers=4)
    assert [type(r) for r in results] == [ManifestInfo, NotFound, ManifestInfo, Failed]
    assert [str(r.reference) for r in results] == refs
    assert results[0].digest == a.digest  # type: ignore[union-attr]
    assert "connection failed" in results[3].message  # type: ignore[union-attr]
    heads = check_many(client, refs[:3], workers=2, method="head")
    assert [type(r) for r in heads] == [ManifestInfo, NotFound, ManifestInfo]
    assert check_many(client, [], workers=3) == []


def test_every_manifest_type_is_accepted() -> None:
    assert len(MANIFEST_TYPES) == 4
    assert "application/vnd.oci.image.index.v1+json" in MANIFEST_TYPES
    assert "application/vnd.docker.distribution.manifest.list.v2+json" in MANIFEST_TYPES


def test_stopped_registry_fails_fast_and_bounded(
    tmp_path_factory: pytest.TempPathFactory, buildah: Buildah
) -> None:
    root = tmp_path_factory.mktemp("short-lived")
    server = registry_server.start(root)
    try:
        pushed = push_image(buildah, server, "x/y", "1")
        with RegistryClient(retry=FAST, timeout=2, credentials=lambda r, p: None) as c:
            assert isinstance(c.head_manifest(pushed.reference), ManifestInfo)
    finally:
        registry_server.stop(root)
    with RegistryClient(retry=FAST, timeout=2, credentials=lambda r, p: None) as c:
        started = time.monotonic()
        with pytest.raises(RegistryError) as info:
            c.head_manifest(pushed.reference)
        elapsed = time.monotonic() - started
    message = info.value.one_line()
    assert message.startswith("Registry: HEAD http://")
    assert "connection failed" in message and "after 3 attempt(s)" in message
    assert "\n" not in message
    assert elapsed < 3
