from __future__ import annotations

import random
import re

import pytest

from pipeline.images.reference import ImageReference, is_loopback_host, parse_reference

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
        (
            "quay.io/kubevirt/Virt-Api:1",
            "'Virt-Api' of 'quay.io/kubevirt/Virt-Api' must be lower case",
        ),
        ("quay.io/k/v:.hidden", "invalid tag"),
        ("quay.io/k/v:" + "a" * 129, "invalid tag"),
        ("quay.io/k/v@sha256:abc", "exactly 64"),
        ("quay.io/k/v@sha256:" + "AB" * 32, "64 lower-case hex"),
        ("quay.io/k/v@md5", "expected <algorithm>:<hex>"),
        ("quay.io/k//v", "'quay.io/k//v' has an empty path component"),
        ("quay.io/k/-v", "repository path component '-v' of 'quay.io/k/-v' is malformed"),
        ("quay.io/", "has no repository name after the registry 'quay.io'"),
        ("", "empty"),
        ("quay.io/k/v :1", "must not contain white space"),
        ("-bad.host/x", "invalid registry host"),
        (":tag", "':tag' has no repository name"),
    ],
)
def test_invalid_references_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_reference(text)


def test_loopback_hosts() -> None:
    for host in ("127.0.0.1:5000", "127.1.2.3", "localhost", "localhost:80", "[::1]:5000", "::1"):
        assert is_loopback_host(host), host
    for host in ("quay.io", "10.0.0.1:5000", "128.0.0.1", "registry.local:5000"):
        assert not is_loopback_host(host), host


# --- the distribution grammar, case by case ---------------------------------------------------

#: Each reference with its canonical (normalized) form.
VALID_REFS = [
    ("opensuse/tumbleweed", "docker.io/opensuse/tumbleweed:latest"),
    ("registry.opensuse.org/opensuse/tumbleweed",
     "registry.opensuse.org/opensuse/tumbleweed:latest"),
    ("registry.suse.com/suse/sle15:15.3", "registry.suse.com/suse/sle15:15.3"),
    ("registry.suse.com/suse/sles/15.3/virt-api:0.58.0-150300.8.3.1",
     "registry.suse.com/suse/sles/15.3/virt-api:0.58.0-150300.8.3.1"),
    ("localhost/pipeline/local-base:latest", "localhost/pipeline/local-base:latest"),
    ("127.0.0.1:5555/kubevirt/virt-api:1.1.0-3.2", "127.0.0.1:5555/kubevirt/virt-api:1.1.0-3.2"),
    ("localhost:5000/a__b/c--d/e.f_g:T_a.g-1", "localhost:5000/a__b/c--d/e.f_g:T_a.g-1"),
    ("[::1]:5000/kubevirt/virt-api:v1", "[::1]:5000/kubevirt/virt-api:v1"),
    ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64),
    ("quay.io/kubevirt/virt-api:v1.1.0@sha256:" + "0123456789abcdef" * 4,
     "quay.io/kubevirt/virt-api:v1.1.0@sha256:" + "0123456789abcdef" * 4),
    ("Registry.Example.COM/lower/case:Tag", "Registry.Example.COM/lower/case:Tag"),
    ("registry.suse.com:65535/suse/sle15", "registry.suse.com:65535/suse/sle15:latest"),
    ("quay.io/k/v@sha384:" + "0a" * 48, "quay.io/k/v@sha384:" + "0a" * 48),
    ("x/" + "b" * 240, "docker.io/x/" + "b" * 240 + ":latest"),
]  # fmt: skip
INVALID_REFS = [
    ("", "empty"),
    ("Opensuse/tumbleweed", "lower case"),
    ("registry.suse.com/SUSE/sle15", "lower case"),
    ("kubevirt/virt-api:", "tag ''"),
    ("kubevirt/virt-api:.hidden", "tag"),
    ("kubevirt/virt-api:" + "x" * 129, "tag"),
    ("kubevirt//virt-api", "empty path component"),
    ("kubevirt/virt-api-", "malformed"),
    ("kubevirt/virt api", "white space"),
    ("kubevirt/virt-api@sha256:abc", "digest"),
    ("kubevirt/virt-api@sha256:" + "A" * 64, "64 lower-case"),
    ("registry.suse.com:99999/suse/sle15", "port"),
    ("-registry.com/x", "host"),
    ("%%TAGPREFIX%%/virt-api:%%PKG_VERSION%%", "is not valid"),
    ("%%TAGPREFIX%%/virt-api", "malformed"),
    (":tag", "no repository"),
    ("a/" + "b" * 260, "longer than 255"),
    # Stricter than before the merge of the two parsers:
    ("registry.suse.com:0/suse/sle15", "port '0' of 'registry.suse.com:0' is not a port number"),
    ("localhost:/x", "port '' of 'localhost:' is not a port number"),
    ("[::1]:65536/x", "port '65536'"),
    ("Opensuse/tumbleweed", "a registry host needs a '.' or a ':' or is localhost"),
    ("B", "path component 'B' of 'B' must be lower case"),
    ("x/" + "b" * 250, "longer than 255 characters (262 as docker.io/x/"),
    ("ab" * 32, "64-hex image ID"),
    ("quay.io/k/v@sha384:" + "0a" * 32, "sha384 needs exactly 96 lower-case hex digits"),
    ("quay.io/k/v@sha512:" + "0a" * 32, "sha512 needs exactly 128 lower-case hex digits"),
    ("quay.io/k/v@foo:" + "a" * 31, "expected at least 32 hex digits"),
    ("quay.io/k/v\t", "white space"),
    ("%%TAGPREFIX%%/virt-api:%%PKG_VERSION%%",
     "the OBS placeholders %%TAGPREFIX%%, %%PKG_VERSION%% is not valid until"),
    ("kubevirt/virt-api:1.0-%RELEASE%", "invalid tag '1.0-%RELEASE%'"),
    ("kubevirt/virt-api:1.0-%RELEASE%", "OBS placeholder %RELEASE% is not valid"),
]  # fmt: skip


@pytest.mark.parametrize(("ref", "canonical"), VALID_REFS)
def test_valid_references(ref: str, canonical: str) -> None:
    parsed = parse_reference(ref)
    assert str(parsed) == canonical
    assert parse_reference(canonical) == parsed


@pytest.mark.parametrize(("ref", "reason"), INVALID_REFS, ids=[r[1] for r in INVALID_REFS])
def test_invalid_references(ref: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)) as info:
        parse_reference(ref)
    # The reason ends up after "file:line: ... :" in one line of output.
    assert "\n" not in str(info.value)


def test_reference_parts() -> None:
    ref = parse_reference("127.0.0.1:5555/kubevirt/virt-api:1.1.0-3.2")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "127.0.0.1:5555",
        "kubevirt/virt-api",
        "1.1.0-3.2",
        None,
    )
    # No domain in the text: the reference is on Docker Hub.
    assert parse_reference("opensuse/tumbleweed").registry == "docker.io"
    assert parse_reference("localhost/x").registry == "localhost"


def test_with_tag_and_with_digest_check_their_argument() -> None:
    ref = parse_reference("quay.io/k/v:1")
    with pytest.raises(ValueError, match=re.escape("invalid tag '-x'")):
        ref.with_tag("-x")
    with pytest.raises(ValueError, match="64 lower-case hex"):
        ref.with_digest("sha256:" + "A" * 64)


# --- generated inputs -------------------------------------------------------------------------


def _component(rng: random.Random) -> str:
    parts = ["".join(rng.choice("abz09") for _ in range(rng.randint(1, 5)))]
    for _ in range(rng.randint(0, 2)):
        parts.append(rng.choice([".", "_", "__", "-", "--"]))
        parts.append("".join(rng.choice("abz09") for _ in range(rng.randint(1, 4))))
    return "".join(parts)


def test_generated_references_follow_the_grammar() -> None:
    rng = random.Random(3)
    for _ in range(500):
        domain = rng.choice(["", "registry.suse.com/", "localhost:5000/", "127.0.0.1:5555/"])
        path = "/".join(_component(rng) for _ in range(rng.randint(1, 4)))
        if not domain:
            # Without a domain, a first component with a dot would be read as a registry host.
            first, slash, rest = path.partition("/")
            path = first.replace(".", "_") + slash + rest
        tag = rng.choice(["", ":latest", ":1.1.0-150500.3.7", ":" + "_" * 128])
        ref = domain + path + tag
        parsed = parse_reference(ref)
        repository = path if domain or "/" in path else f"library/{path}"
        assert parsed.repository == repository
        assert str(parsed) == (domain or "docker.io/") + repository + (tag or ":latest")
        position = rng.randrange(len(path))
        broken = domain + path[:position] + rng.choice("A !@#$%") + path[position:] + tag
        with pytest.raises(ValueError):
            parse_reference(broken)
