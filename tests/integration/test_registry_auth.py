"""Credentials against the real registry: basic auth over TLS, and no secret in any log line,
error or repr."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from pipeline.core.errors import RegistryError
from pipeline.images.registry import (
    Credentials,
    ManifestInfo,
    NotFound,
    RegistryClient,
    RetryPolicy,
)
from pipeline.tools import registry_server
from pipeline.tools.registry_server import RegistryServer
from tests.support.registry import (
    TLS_AUTH,
    Buildah,
    delete_manifest,
    get_labels,
    get_manifest,
    push_image,
    write_authfile,
)

FAST = RetryPolicy(attempts=2, total_seconds=2.0, backoff=0.01, max_backoff=0.02)


@pytest.mark.tools
def test_basic_auth_over_tls_with_auth_file(
    registry_tls_auth: RegistryServer,
    buildah: Buildah,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = registry_tls_auth
    assert server.tls_cert is not None and server.url.startswith("https://")
    authfile = write_authfile(
        tmp_path / "auth.json", server.address, TLS_AUTH.username, TLS_AUTH.password
    )
    pushed = push_image(buildah, server, "secure/app", "1", authfile=authfile)
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(authfile))
    monkeypatch.delenv("PIPELINE_REGISTRY_USERNAME", raising=False)
    # Verified against the registry's own certificate as the CA bundle.
    with RegistryClient(retry=FAST, https_loopback=True, ca_bundle=server.tls_cert) as client:
        info = get_manifest(client, pushed.reference)
        assert isinstance(info, ManifestInfo) and info.digest == pushed.digest
        assert client.list_tags(f"{server.address}/secure/app") == ["1"]
        assert isinstance(client.head_manifest(f"{server.address}/secure/none:1"), NotFound)
    # A CA that did not sign the certificate: verification fails, clearly.
    other = registry_server.make_self_signed_cert(tmp_path / "other")
    client = RegistryClient(retry=FAST, https_loopback=True, ca_bundle=other.cert)
    with client, pytest.raises(RegistryError, match="TLS verification failed"):
        client.head_manifest(pushed.reference)
    # Wrong password: a one-line error naming the user, not the password.
    wrong = write_authfile(tmp_path / "wrong.json", server.address, TLS_AUTH.username, "nope-42")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(wrong))
    client = RegistryClient(retry=FAST, https_loopback=True, ca_bundle=server.tls_cert)
    with client, pytest.raises(RegistryError) as rejected:
        client.head_manifest(pushed.reference)
    line = rejected.value.one_line()
    assert f"credentials rejected for secure/app (user {TLS_AUTH.username}" in line
    assert "nope-42" not in line
    # No credentials at all.
    client = RegistryClient(
        retry=FAST, https_loopback=True, ca_bundle=server.tls_cert, credentials=lambda r, p: None
    )
    with client, pytest.raises(RegistryError, match="no credentials found"):
        client.head_manifest(pushed.reference)


@pytest.mark.tools
def test_https_loopback_without_ca_skips_verification(
    registry_tls_auth: RegistryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGISTRY_CA_BUNDLE", raising=False)
    creds = Credentials(TLS_AUTH.username, TLS_AUTH.password, "test")
    client = RegistryClient(
        retry=FAST, https_loopback=True, certs_dirs=(), credentials=lambda r, p: creds
    )
    # The self-signed certificate is accepted: that is the point of this mode (loopback only).
    with client:
        client.ping(registry_tls_auth.address)
        got = client.head_manifest(f"{registry_tls_auth.address}/secure/none:1")
    assert isinstance(got, NotFound)


@pytest.mark.tools
def test_no_secret_in_logs_errors_or_reprs(
    registry_tls_auth: RegistryServer,
    buildah: Buildah,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every path that handles a secret, logged at DEBUG, then grep it all for the secrets."""
    caplog.set_level(logging.DEBUG)
    server = registry_tls_auth
    password = TLS_AUTH.password
    authfile = write_authfile(tmp_path / "a.json", server.address, TLS_AUTH.username, password)
    pushed = push_image(buildah, server, "secret/app", "1", authfile=authfile)
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(authfile))
    texts: list[str] = []
    with RegistryClient(retry=FAST, https_loopback=True, ca_bundle=server.tls_cert) as client:
        get_manifest(client, pushed.reference)
        get_labels(client, pushed.reference)
        delete_manifest(client, pushed.reference)
        texts += [repr(client), repr(client.__dict__), repr(client.auth.__dict__)]
        texts += [repr(client.auth._creds_cache), repr(client.auth._tokens)]
    wrong = "planted-wrong-password-77"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(write_authfile(
        tmp_path / "b.json", server.address, TLS_AUTH.username, wrong)))  # fmt: skip
    with RegistryClient(retry=FAST, https_loopback=True, ca_bundle=server.tls_cert) as client:
        with pytest.raises(RegistryError) as info:
            client.head_manifest(pushed.reference)
        texts += [str(info.value), info.value.one_line(), repr(info.value), str(info.value.hint)]
    creds = Credentials("someone", password, "x")
    texts += [repr(creds), str(creds), repr([creds])]
    out, err = capfd.readouterr()
    everything = "\n".join([caplog.text, out, err, *texts])
    assert "GET" in caplog.text  # the requests were logged...
    for secret in (password, wrong):
        assert secret not in everything  # ...without a secret
        for user_pass in (f"{TLS_AUTH.username}:{secret}",):
            assert base64.b64encode(user_pass.encode()).decode() not in everything
    assert "Authorization" not in everything and "Basic " not in everything
