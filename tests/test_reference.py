from __future__ import annotations

import pytest

from pipeline.reference import ImageReference, is_loopback_host, parse_reference

SHA = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "canonical"),
    [
        ("busybox", "docker.io", "library/busybox", "latest", None,
         "docker.io/library/busybox:latest"),
        ("library/busybox:1.36", "docker.io", "library/busybox", "1.36", None, None),
        ("index.docker.io/foo/bar", "docker.io", "foo/bar", "latest", None, None),
        ("docker.io/nginx", "docker.io", "library/nginx", "latest", None, None),
        ("quay.io/kubevirt/virt-api:v1.1.0", "quay.io", "kubevirt/virt-api", "v1.1.0", None,
         None),
        ("localhost:5000/a/b:1", "localhost:5000", "a/b", "1", None, None),
        ("localhost/a", "localhost", "a", "latest", None, None),
        ("127.0.0.1:5000/suse/sles/15.3/virt-api:0.49.0-150300.8.1", "127.0.0.1:5000",
         "suse/sles/15.3/virt-api", "0.49.0-150300.8.1", None, None),
        (f"quay.io/k/v@{SHA}", "quay.io", "k/v", None, SHA, f"quay.io/k/v@{SHA}"),
        (f"quay.io/k/v:1.0@{SHA}", "quay.io", "k/v", "1.0", SHA, f"quay.io/k/v:1.0@{SHA}"),
        ("Registry.Example.com/a__b/c.d-e:Tag_1", "Registry.Example.com", "a__b/c.d-e",
         "Tag_1", None, None),
        ("[::1]:5000/x:y", "[::1]:5000", "x", "y", None, None),
    ],
)  # fmt: skip
def test_parse_normalizes_like_the_container_tools(
    text: str,
    registry: str,
    repository: str,
    tag: str | None,
    digest: str | None,
    canonical: str | None,
) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    if canonical:
        assert str(ref) == canonical
    # The canonical form parses back to the same reference.
    assert parse_reference(str(ref)) == ref


def test_docker_hub_api_host_and_version() -> None:
    hub = parse_reference("busybox")
    assert hub.api_host == "registry-1.docker.io"
    assert hub.version == "latest"
    pinned = parse_reference(f"quay.io/k/v:1@{SHA}")
    assert pinned.api_host == "quay.io"
    assert pinned.version == SHA
    assert pinned.with_tag("2") == ImageReference("quay.io", "k/v", "2", None)
    assert pinned.with_digest(SHA).tag is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("quay.io/kubevirt/virt-api:v0,21.0", "invalid tag 'v0,21.0'"),
        ("quay.io/kubevirt/Virt-Api:1", "must be lowercase"),
        ("quay.io/k/v:.hidden", "invalid tag"),
        ("quay.io/k/v:" + "a" * 129, "invalid tag"),
        ("quay.io/k/v@sha256:abc", "exactly 64"),
        ("quay.io/k/v@sha256:" + "AB" * 32, "lowercase hex"),
        ("quay.io/k/v@md5", "expected <algorithm>:<hex>"),
        ("quay.io/k//v", "invalid repository path component ''"),
        ("quay.io/k/-v", "invalid repository path component '-v'"),
        ("quay.io/", "missing repository name"),
        ("", "empty"),
        ("quay.io/k/v :1", "whitespace"),
        ("-bad.host/x", "invalid registry host"),
        (":tag", "missing repository name"),
    ],
)
def test_invalid_references_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace("[", r"\[")):
        parse_reference(text)


def test_loopback_hosts() -> None:
    for host in ("127.0.0.1:5000", "127.1.2.3", "localhost", "localhost:80", "[::1]:5000", "::1"):
        assert is_loopback_host(host), host
    for host in ("quay.io", "10.0.0.1:5000", "128.0.0.1", "registry.local:5000"):
        assert not is_loopback_host(host), host
