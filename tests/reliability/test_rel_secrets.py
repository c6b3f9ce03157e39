"""Secrets never leak: a registry password and a bearer token planted, then plan, publish and
verify-tags at every verbosity (none, -v, --debug, --json), succeeding and failing; stdout,
stderr and every file under build/ (report.json, releases.json, releases/*.json, logs) are
searched for the password, its base64 forms and the token.

The shared build's registry is put behind a token gate on the fault proxy: every request needs
``Bearer <token>``, and the token service hands the token out only for the planted basic
credentials (read from ``REGISTRY_AUTH_FILE``; ``PIPELINE_REGISTRY_PASSWORD`` holds the password
too). The TLS registry with htpasswd (``registry_tls_auth``) is asked as well.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pipeline.core.errors import EXIT_MISMATCH, EXIT_OK, EXIT_TOOL
from pipeline.tools.registry_server import RegistryServer
from tests.reliability.faultproxy import Proxy, answer
from tests.reliability.project import Project, Result, delete_tags
from tests.support.registry import TLS_AUTH, write_authfile
from tests.support.shared_build import SharedBuild

pytestmark = [pytest.mark.tools, pytest.mark.slow]

TOKEN = "planted-bearer-token-9f8e7d6c5b4a"
VERBOSITY = ((), ("-v",), ("--debug",), ("--json", "-"))


def secrets() -> dict[str, str]:
    user, password = TLS_AUTH.username, TLS_AUTH.password
    return {
        "password": password,
        "base64(user:password)": base64.b64encode(f"{user}:{password}".encode()).decode(),
        "base64(password)": base64.b64encode(password.encode()).decode(),
        "urlsafe base64(user:password)": base64.urlsafe_b64encode(
            f"{user}:{password}".encode()
        ).decode(),
        "token": TOKEN,
    }


class TokenGate:
    """In front of the registry: Bearer ``TOKEN`` or 401; the token for the planted credentials."""

    def __init__(self, proxy: Proxy, refuse_token: bool = False) -> None:
        self.proxy = proxy
        self.refuse_token = refuse_token
        self.tokens_issued = 0
        self.authorized = 0

    def __call__(self, h: BaseHTTPRequestHandler) -> bool:
        url = urlsplit(h.path)
        if url.path == "/token":
            basic = base64.b64encode(f"{TLS_AUTH.username}:{TLS_AUTH.password}".encode()).decode()
            if h.headers.get("Authorization") != f"Basic {basic}":
                return answer(401, b'{"details":"bad credentials"}')(h)
            self.tokens_issued += 1
            body = json.dumps({"token": TOKEN, "access_token": TOKEN, "expires_in": 300})
            return answer(200, body.encode(), {"Content-Type": "application/json"})(h)
        if h.headers.get("Authorization") == f"Bearer {TOKEN}" and not self.refuse_token:
            self.authorized += 1
            return False  # forward to the registry
        repo = url.path.removeprefix("/v2/").split("/manifests/")[0].split("/blobs/")[0]
        repo = repo.split("/tags/")[0]
        challenge = (
            f'Bearer realm="http://{self.proxy.address}/token",service="reliability",'
            f'scope="repository:{repo}:pull,push"'
        )
        err = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
        return answer(
            401, err, {"WWW-Authenticate": challenge, "Content-Type": "application/json"}
        )(h)


def assert_no_secret(result: Result, build_dir: Path, what: str) -> None:
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    for path in sorted(p for p in build_dir.rglob("*") if p.is_file()):
        texts[str(path)] = path.read_bytes().decode("latin-1")
    for name, secret in secrets().items():
        for where, text in texts.items():
            assert secret not in text, f"{what}: the {name} is in {where}"


@pytest.fixture
def gated(shared: SharedBuild, proxy: Proxy, tmp_path: Path) -> Iterator[tuple[Project, TokenGate]]:
    project = shared.copy(tmp_path / "project")
    authfile = write_authfile(
        tmp_path / "auth.json", shared.address, TLS_AUTH.username, TLS_AUTH.password
    )
    project.env = {
        "REGISTRY_AUTH_FILE": str(authfile),
        "PIPELINE_REGISTRY_USERNAME": TLS_AUTH.username,
        "PIPELINE_REGISTRY_PASSWORD": TLS_AUTH.password,
        "PIPELINE_REGISTRY_ATTEMPTS": "2",
        "PIPELINE_REGISTRY_RETRY_SECONDS": "2",
    }
    gate = TokenGate(proxy)
    proxy.handler = gate
    yield project, gate
    proxy.reset()


def test_successful_runs_at_every_verbosity(
    gated: tuple[Project, TokenGate], shared: SharedBuild
) -> None:
    project, gate = gated
    report = project.report()
    entry = report["containers"]["images"]["cdi-apiserver"]
    repo = entry["reference"].split("/", 1)[1].rsplit(":", 1)[0]
    for verbosity in VERBOSITY:
        # something to push each time, so buildah and skopeo authenticate too
        delete_tags(shared.url, repo, [entry["reference"].rsplit(":", 1)[1]])
        for verb in ("plan", "publish", "verify-tags"):
            result = project.run(verb, *verbosity)
            what = f"{verb} {' '.join(verbosity)}"
            assert result.returncode == EXIT_OK, f"{what}\n{result.explain()}"
            assert_no_secret(result, project.build_dir, what)
    assert gate.tokens_issued and gate.authorized, "the runs did not go through the token gate"


def test_failing_runs_at_every_verbosity(
    gated: tuple[Project, TokenGate], shared: SharedBuild, tmp_path: Path
) -> None:
    project, gate = gated
    missing = tmp_path / "missing.yaml"
    missing.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n"
        f"    - name: x\n      image: {shared.address}/kubevirt/virt-api:0.0.0-none\n"
    )
    for verbosity in VERBOSITY:
        result = project.run("verify-tags", "--manifests", str(missing), *verbosity)
        what = f"verify-tags of a missing tag {' '.join(verbosity)}"
        assert result.returncode == EXIT_MISMATCH, f"{what}\n{result.explain()}"
        assert_no_secret(result, project.build_dir, what)
        gate.refuse_token = True  # the token is issued, then refused: "credentials rejected"
        for verb in ("publish", "verify-tags"):
            result = project.run(verb, *verbosity)
            what = f"{verb} with the token refused {' '.join(verbosity)}"
            assert result.returncode == EXIT_TOOL, f"{what}\n{result.explain()}"
            assert "Traceback" not in result.stderr or "--debug" in verbosity, what
            assert_no_secret(result, project.build_dir, what)
        gate.refuse_token = False


def test_tls_registry_with_basic_auth(
    registry_tls_auth: RegistryServer, shared: SharedBuild, tmp_path: Path
) -> None:
    """verify-tags against the htpasswd registry over TLS, credentials from the auth file."""
    project = shared.copy(tmp_path / "project")
    authfile = write_authfile(
        tmp_path / "auth.json", registry_tls_auth.address, TLS_AUTH.username, TLS_AUTH.password
    )
    project.env = {
        "REGISTRY_AUTH_FILE": str(authfile),
        "PIPELINE_REGISTRY_PASSWORD": TLS_AUTH.password,
        "PIPELINE_REGISTRY_USERNAME": TLS_AUTH.username,
        "PIPELINE_REGISTRY_ATTEMPTS": "1",
    }
    manifest = tmp_path / "tls.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n"
        f"    - name: x\n      image: {registry_tls_auth.address}/kubevirt/virt-api:1.0\n"
    )
    for verbosity in VERBOSITY:
        result = project.run("verify-tags", "--manifests", str(manifest), *verbosity)
        what = f"verify-tags on the TLS registry {' '.join(verbosity)}"
        assert result.returncode in (EXIT_MISMATCH, EXIT_TOOL), f"{what}\n{result.explain()}"
        assert_no_secret(result, project.build_dir, what)
