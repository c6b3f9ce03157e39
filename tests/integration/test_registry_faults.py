"""Faults between the client and the real registry: a loopback proxy of our own
(tests/reliability/faultproxy.py) that answers errors, throttles, drops connections or garbles
bodies, then forwards to the real registry."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.core.errors import RegistryError
from pipeline.images.registry import (
    Credentials,
    ManifestInfo,
    NotFound,
    RegistryClient,
    RetryPolicy,
    parse_challenge,
)
from pipeline.tools.registry_server import RegistryServer
from tests.reliability.faultproxy import Fault, Proxy, answer, drop
from tests.support.registry import Buildah, PushedImage, get_manifest, push_image

FAST = RetryPolicy(attempts=4, total_seconds=5.0, backoff=0.01, max_backoff=0.05)


@pytest.fixture
def proxy(registry: RegistryServer) -> Iterator[Proxy]:
    p = Proxy(registry.url)
    yield p
    p.close()


@pytest.fixture(scope="module")
def image(registry: RegistryServer, buildah: Buildah) -> PushedImage:
    return push_image(buildah, registry, "faults/image", "1.0-1")


def through(proxy: Proxy, image: PushedImage) -> str:
    return f"{proxy.address}/{image.reference.split('/', 1)[1]}"


def make_client(sleeps: list[float] | None = None, **kwargs: object) -> RegistryClient:
    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        time.sleep(min(seconds, 0.05))

    return RegistryClient(
        retry=kwargs.pop("retry", FAST),  # type: ignore[arg-type]
        timeout=3,
        credentials=lambda r, p: None,
        sleep=sleep,
        **kwargs,  # type: ignore[arg-type]
    )


pytestmark = pytest.mark.tools


def test_500_then_success(proxy: Proxy, image: PushedImage) -> None:
    proxy.faults = [answer(500, b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}')]
    with make_client() as client:
        info = client.head_manifest(through(proxy, image))
    assert isinstance(info, ManifestInfo) and info.digest == image.digest
    assert len(proxy.requests) == 2


def test_429_honours_retry_after(proxy: Proxy, image: PushedImage) -> None:
    proxy.faults = [answer(429, b"slow down", {"Retry-After": "2"}), answer(503)]
    sleeps: list[float] = []
    with make_client(sleeps) as client:
        info = get_manifest(client, through(proxy, image))
    assert isinstance(info, ManifestInfo)
    assert sleeps[0] == 2.0  # Retry-After, not the backoff
    assert sleeps[1] <= FAST.max_backoff  # the 503: backoff
    assert len(proxy.requests) == 3


def test_retry_after_beyond_the_budget_stops(proxy: Proxy, image: PushedImage) -> None:
    proxy.faults = [answer(429, b"", {"Retry-After": "3600"})]
    with make_client() as client, pytest.raises(RegistryError) as info:
        client.head_manifest(through(proxy, image))
    assert "HTTP 429" in info.value.message and "Retry-After 3600s" in info.value.message
    assert len(proxy.requests) == 1


def test_dropped_connections_are_retried(proxy: Proxy, image: PushedImage) -> None:
    proxy.faults = [drop, drop]
    with make_client() as client:
        info = get_manifest(client, through(proxy, image))
    assert isinstance(info, ManifestInfo) and info.digest == image.digest
    assert len(proxy.requests) == 3


def test_persistent_5xx_ends_in_one_clear_error(proxy: Proxy, image: PushedImage) -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    proxy.faults = [answer(502, html, {"Content-Type": "text/html"})] * 10
    retry = RetryPolicy(attempts=3, total_seconds=5, backoff=0.01, max_backoff=0.02)
    with make_client(retry=retry) as client, pytest.raises(RegistryError) as info:
        get_manifest(client, through(proxy, image))
    line = info.value.one_line()
    assert "HTTP 502: an HTML page (502 Bad Gateway)" in line
    assert "after 3 attempt(s)" in line
    assert len(proxy.requests) == 3


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            answer(200, b"<html>login</html>", {"Content-Type": "text/html"}),
            "unexpected Content-Type 'text/html' for a manifest",
        ),
        (
            answer(
                200,
                b'{"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.ima',
                {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            ),
            "manifest is not valid JSON",
        ),
        (
            answer(
                200,
                b'{"schemaVersion": 2}',
                {
                    "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                    "Docker-Content-Digest": "sha256:" + "0" * 64,
                },
            ),
            "but the registry says sha256:0000",
        ),
        (
            answer(404, b"<!DOCTYPE html><title>Not Here</title>", {"Content-Type": "text/html"}),
            "HTTP 404 with an HTML page (Not Here)",
        ),
        (
            answer(400, b'{"errors":[{"code":"TAG_INVALID","message":"tag did not match"}]}'),
            "HTTP 400: TAG_INVALID: tag did not match",
        ),
        (
            answer(403, b'{"errors":[{"code":"DENIED","message":"requested access is denied"}]}'),
            "access denied: DENIED: requested access is denied",
        ),
    ],
)  # fmt: skip
def test_wrong_answers_are_clear_errors(
    proxy: Proxy, image: PushedImage, fault: Fault, message: str
) -> None:
    proxy.faults = [fault]
    with make_client() as client, pytest.raises(RegistryError) as info:
        get_manifest(client, through(proxy, image))
    line = info.value.one_line()
    assert message in line, line
    assert "\n" not in line and "Traceback" not in line


def test_head_without_digest_header_is_an_error(proxy: Proxy, image: PushedImage) -> None:
    proxy.faults = [answer(200, b"", {"Content-Type": "application/vnd.oci.image.index.v1+json"})]
    with make_client() as client, pytest.raises(RegistryError, match="no Docker-Content-Digest"):
        client.head_manifest(through(proxy, image))


def test_redirect_loop(proxy: Proxy, image: PushedImage) -> None:
    def loop(h: BaseHTTPRequestHandler) -> bool:
        return answer(307, b"", {"Location": h.path})(h)

    proxy.handler = loop
    with make_client() as client, pytest.raises(RegistryError, match="redirect loop"):
        get_manifest(client, through(proxy, image))


def test_tag_pages_follow_link_headers(proxy: Proxy, registry: RegistryServer) -> None:
    """The proxy pages the real registry's tag list by ``n``/``last`` and ``Link`` headers."""
    tags = [f"t{i}" for i in range(7)]

    def paging(h: BaseHTTPRequestHandler) -> bool:
        url = urlsplit(h.path)
        if not url.path.endswith("/tags/list"):
            return False
        query = parse_qs(url.query)
        n = int(query.get("n", ["100"])[0])
        last = query.get("last", [""])[0]
        rest = [t for t in tags if t > last]
        page, more = rest[:n], rest[n:]
        headers = {"Content-Type": "application/json"}
        if more:
            headers["Link"] = f'<{url.path}?n={n}&last={page[-1]}>; rel="next"'
        body = json.dumps({"name": "paged", "tags": page}).encode()
        return answer(200, body, headers)(h)

    proxy.handler = paging
    with make_client() as client:
        assert client.list_tags(f"{proxy.address}/paged/repo", page_size=3) == tags
    assert [r.split("?", 1)[1] for r in proxy.requests] == [
        "n=3",
        "n=3&last=t2",
        "n=3&last=t5",
    ]


# ----------------------------------------------------------------------------- bearer tokens

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "1" * 64,
            "size": 2,
        },
        "layers": [],
    }
).encode()


class TokenRegistry:
    """A registry stand-in that wants bearer tokens, and the token service that issues them."""

    def __init__(self, username: str, password: str, token: str) -> None:
        self.username, self.password, self.token = username, password, token
        self.token_requests: list[dict[str, list[str]]] = []
        self.proxy = Proxy()
        self.proxy.handler = self.handle

    def handle(self, h: BaseHTTPRequestHandler) -> bool:
        url = urlsplit(h.path)
        if url.path == "/token":
            self.token_requests.append(parse_qs(url.query))
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if h.headers.get("Authorization") != f"Basic {expected}":
                return answer(401, b'{"details":"bad credentials"}')(h)
            body = json.dumps({"token": self.token, "expires_in": 300}).encode()
            return answer(200, body, {"Content-Type": "application/json"})(h)
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            repo = url.path.split("/manifests/")[0].removeprefix("/v2/")
            challenge = (
                f'Bearer realm="http://{self.proxy.address}/token",'
                f'service="test-registry",scope="repository:{repo}:pull"'
            )
            err = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
            return answer(401, err, {"WWW-Authenticate": challenge})(h)
        return answer(
            200,
            MANIFEST,
            {
                "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                "Docker-Content-Digest": "sha256:" + hashlib.sha256(MANIFEST).hexdigest(),
            },
        )(h)  # fmt: skip


@pytest.fixture
def token_registry() -> Iterator[TokenRegistry]:
    server = TokenRegistry("robot", "s3cret-bearer-password", "tok-abcdef-123456")
    yield server
    server.proxy.close()


def test_bearer_flow_fetches_and_caches_a_token(token_registry: TokenRegistry) -> None:
    creds = Credentials("robot", "s3cret-bearer-password", "test")
    with RegistryClient(retry=FAST, credentials=lambda r, p: creds) as client:
        ref = f"{token_registry.proxy.address}/kubevirt/virt-api:1"
        info = get_manifest(client, ref)
        assert isinstance(info, ManifestInfo)
        assert info.config_digest == "sha256:" + "1" * 64
        assert isinstance(client.head_manifest(ref), ManifestInfo)
        assert isinstance(get_manifest(client, f"{ref[:-2]}:2"), ManifestInfo)
    # One token for the scope, reused: challenge, token, retry, then straight through.
    assert len(token_registry.token_requests) == 1
    query = token_registry.token_requests[0]
    assert query == {"scope": ["repository:kubevirt/virt-api:pull"], "service": ["test-registry"]}
    assert [r.split(" ")[0] for r in token_registry.proxy.requests] == [
        "GET", "GET", "GET", "HEAD", "GET",
    ]  # fmt: skip


def test_bearer_with_wrong_password_is_clear(token_registry: TokenRegistry) -> None:
    creds = Credentials("robot", "wrong-password-xyz", "test")
    client = RegistryClient(retry=FAST, credentials=lambda r, p: creds)
    with client, pytest.raises(RegistryError) as info:
        get_manifest(client, f"{token_registry.proxy.address}/kubevirt/virt-api:1")
    line = info.value.one_line()
    assert "token service refused user robot" in line
    assert "wrong-password-xyz" not in line


def test_bearer_without_credentials_says_how_to_log_in(token_registry: TokenRegistry) -> None:
    client = RegistryClient(retry=FAST, credentials=lambda r, p: None)
    with client, pytest.raises(RegistryError) as info:
        get_manifest(client, f"{token_registry.proxy.address}/kubevirt/virt-api:1")
    assert "token service refused anonymous" in info.value.one_line()


def test_parse_challenge() -> None:
    c = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push"'
    )
    assert c is not None and c.scheme == "bearer"
    assert c.get("realm") == "https://auth.example/token"
    assert c.get("scope") == "repository:a/b:pull,push"
    basic = parse_challenge('Basic realm="Registry Realm"')
    assert basic is not None and basic.scheme == "basic" and basic.get("realm") == "Registry Realm"


def test_not_found_through_proxy_is_a_value(proxy: Proxy, registry: RegistryServer) -> None:
    with make_client() as client:
        assert isinstance(get_manifest(client, f"{proxy.address}/faults/none:1"), NotFound)
