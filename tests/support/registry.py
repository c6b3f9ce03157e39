"""Real images in the loopback registry: pushed with buildah on a private store, one platform or
an index of several; auth files for registries that want credentials; and what the tests ask of
a registry that the pipeline does not (a manifest's details, labels, deletes, checks of many)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.core.errors import RegistryError
from pipeline.images.reference import ImageReference
from pipeline.images.registry import Failed, ManifestInfo, NotFound, RegistryClient
from pipeline.images.registry.client import for_each
from pipeline.images.registry.models import as_reference, config_labels, platform_string
from pipeline.images.registry.transport import describe_error_body, expect_ok
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


def get_manifest(
    client: RegistryClient, ref: ImageReference | str, *, resolve_platform: bool = False
) -> ManifestInfo | NotFound:
    """``client.get_manifest_document`` without the body. ``resolve_platform``: for a single
    image, read its config blob so ``platforms`` holds its one platform too."""
    answer = client.get_manifest_document(ref)
    if isinstance(answer, NotFound):
        return answer
    info, _ = answer
    if resolve_platform and not info.is_index and info.config_digest:
        config = client.get_blob_json(info.reference, info.config_digest)
        if isinstance(config, NotFound):
            raise RegistryError(f"{info.reference}: config blob {info.config_digest} missing")
        info = replace(info, platforms=(platform_string(config),))
    return info


def get_labels(
    client: RegistryClient, ref: ImageReference | str, platform: str | None = None
) -> dict[str, str]:
    """The labels of an image (empty when it has none); ``RegistryError`` if it is missing."""
    config = client.get_config(ref, platform)
    if isinstance(config, NotFound):
        raise RegistryError(f"{config.reference}: not found ({config.reason})")
    return config_labels(config)


def delete_manifest(client: RegistryClient, ref: ImageReference | str) -> bool:
    """Delete the manifest ``ref`` names (by tag: its digest). False when it was not there."""
    ref = as_reference(ref)
    if not ref.digest:
        head = client.head_manifest(ref)
        if isinstance(head, NotFound):
            return False
        ref = ref.with_digest(head.digest)
    resp = client.auth.request("DELETE", ref, f"manifests/{ref.digest}", actions="delete")
    with resp:
        if resp.status_code in (200, 202):
            return True
        if resp.status_code == 404:
            return False
        if resp.status_code == 405:
            raise RegistryError(
                f"DELETE {ref}: the registry does not allow deletes ({describe_error_body(resp)})",
                hint="enable storage.delete in the registry configuration",
            )
        expect_ok(resp, "DELETE", ref)
    return True


def check_many(
    client: RegistryClient,
    refs: Iterable[ImageReference | str],
    *,
    workers: int = 8,
    method: str = "get",
    resolve_platform: bool = False,
) -> list[ManifestInfo | NotFound | Failed]:
    """Check every reference concurrently; one result per reference, in the given order.

    ``method`` "head" only asks for the digest; "get" also reads platforms and config digest.
    A reference whose check fails (auth, unreachable) gives ``Failed``, not an exception.
    """

    def one(ref: ImageReference) -> ManifestInfo | NotFound:
        if method == "head":
            return client.head_manifest(ref)
        return get_manifest(client, ref, resolve_platform=resolve_platform)

    return for_each(refs, one, workers)
