"""Shared fixtures: the real registry on loopback, and real images pushed into it with buildah.

The CI rule: a test that needs a host tool fails when ``CI`` is set and the tool is missing (so a
green CI never hides a skipped integration test), and skips locally, saying which tool is missing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.tools import registry_server
from pipeline.tools.buildah import PrivateStore

ROOT = Path(__file__).resolve().parent.parent


def run_pipeline(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline ARGS`` in ``cwd`` (the repository by default), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=300,
    )


def need_tool(name: str) -> str:
    """The path of host tool ``name``; fail under CI, skip otherwise, when it is missing."""
    path = shutil.which(name) or (
        name if os.path.isabs(name) and os.access(name, os.X_OK) else None
    )
    if path:
        return path
    message = f"host tool {name!r} is not installed (nox -s setup-host installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


#: buildah on a private store (tests import it from here).
Buildah = PrivateStore


@dataclass(frozen=True)
class PushedImage:
    reference: str  # host:port/repo:tag
    digest: str  # of the manifest (or index) as pushed


@pytest.fixture(scope="session")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Buildah:
    need_tool("buildah")
    return Buildah(tmp_path_factory.mktemp("buildah"))


def push_image(
    buildah: Buildah,
    registry: registry_server.RegistryServer,
    repository: str,
    tag: str,
    *,
    content: str | None = None,
    labels: dict[str, str] | None = None,
    platforms: Sequence[str] = (),
    authfile: Path | None = None,
) -> PushedImage:
    """Push a real image to ``registry`` as ``repository:tag``; with ``platforms``
    (``os/arch[/variant]``), a multi-platform index of one image per platform."""
    target = f"{registry.address}/{repository}:{tag}"
    digest_file = buildah.root / f"digest-{uuid.uuid4().hex}"
    push_opts = ["--tls-verify=false", "--digestfile", str(digest_file)]
    if authfile is not None:
        # An auth file, never --creds: run() logs the command line.
        push_opts += ["--authfile", str(authfile)]
    content = content if content is not None else f"{repository}:{tag} {uuid.uuid4()}\n"
    local = f"localhost/test-{uuid.uuid4().hex[:12]}"
    if not platforms:
        buildah.image(local, content=content, labels=labels)
        buildah("push", *push_opts, local, f"docker://{target}")
    else:
        buildah("manifest", "create", local)
        for platform in platforms:
            _, arch, *variant = platform.split("/")
            image = buildah.image(
                f"{local}-{arch}{''.join(variant)}",
                content=f"{content}{platform}\n",
                arch=arch,
                variant=variant[0] if variant else None,
                labels=labels,
            )
            buildah("manifest", "add", local, image)
        buildah("manifest", "push", "--all", *push_opts, local, f"docker://{target}")
    return PushedImage(target, digest_file.read_text().strip())


def write_authfile(path: Path, host: str, username: str, password: str) -> Path:
    """A containers auth.json with one entry for ``host``."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": token}}}))
    path.chmod(0o600)
    return path


def _start(root: Path, **kwargs: object) -> Iterator[registry_server.RegistryServer]:
    need_tool(registry_server.BINARY)
    server = registry_server.start(root, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        registry_server.stop(root)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[registry_server.RegistryServer]:
    """A plain-http registry on a free loopback port, for the whole session."""
    yield from _start(tmp_path_factory.mktemp("registry"))


#: Credentials of ``registry_tls_auth``; a test plants them and greps output for them. A constant,
#: because test modules import this file again as ``tests.conftest`` (a second module object).
TLS_AUTH = registry_server.BasicAuth("pipeline", "planted-secret-Zq7w3k9x")


@pytest.fixture(scope="session")
def registry_tls_auth(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[registry_server.RegistryServer]:
    """A registry with htpasswd basic auth (``TLS_AUTH``) over TLS (self-signed certificate)."""
    need_tool("openssl")
    yield from _start(tmp_path_factory.mktemp("registry-tls"), auth=TLS_AUTH, tls=True)
