"""Real images in the loopback registry: pushed with buildah on a private store, one platform or
an index of several; auth files for registries that want credentials."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.tools import registry_server
from tests.support.buildah import PrivateStore
from tests.support.tools import need_tool

#: buildah on a private store (the registry tests' images).
Buildah = PrivateStore


@dataclass(frozen=True)
class PushedImage:
    reference: str  # host:port/repo:tag
    digest: str  # of the manifest (or index) as pushed


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


def running_registry(root: Path, **kwargs: object) -> Iterator[registry_server.RegistryServer]:
    """A registry server under ``root`` for as long as the generator is open."""
    need_tool(registry_server.BINARY)
    server = registry_server.start(root, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        registry_server.stop(root)


#: Credentials of ``registry_tls_auth``; a test plants them and greps output for them. A constant,
#: so that every importer sees the same value.
TLS_AUTH = registry_server.BasicAuth("pipeline", "planted-secret-Zq7w3k9x")
