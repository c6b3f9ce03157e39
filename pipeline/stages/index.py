"""An image of every architecture as one OCI image index: what publish pushes for each tag.

The containers stage leaves one image per architecture in local storage (``<reference>-<arch>``);
publish makes a manifest list of them (``buildah manifest create``/``add``, one entry per
architecture with the platform its config names) and pushes it with ``--all``: every
architecture's image first, by digest, then the index at the tag. So a tag never names an index
that lacks an architecture, and the digest a tag holds is the index's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.core.report import ImageBuild
from pipeline.images.reference import is_loopback_host, parse_reference
from pipeline.images.registry import NotFound, RegistryClient
from pipeline.images.registry.models import platform_string
from pipeline.tools import buildah

#: Where publish keeps its short-lived lists in local storage (never pushed under this name).
LIST_PREFIX = "localhost/pipeline-publish"


def abandoned_lists(names: Iterable[str], alive: Callable[[int], bool]) -> list[str]:
    """The lists among ``names`` that a publish made and never removed: each is named for the
    process that made it (``<image>:<pid>-<random>``), and that process is gone (killed with
    SIGKILL, or the machine stopped, before its ``finally`` ran)."""
    found = []
    for name in names:
        if not name.startswith(f"{LIST_PREFIX}/"):
            continue
        pid = name.rsplit(":", 1)[-1].split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            found.append(name)
    return sorted(found)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_abandoned_lists() -> list[str]:
    """Remove the lists killed publishes left in local storage; their names. Such a list is of
    no use, and once an image in it is removed (prune, a rebuild) ``buildah images`` fails for
    the whole store ("reading manifest for image instance ..."); a list a commit left half-made
    fails it at once."""
    gone = abandoned_lists(buildah.stored_names(), process_alive)
    for name in gone:
        buildah.manifest_rm(name)
    return gone


@contextmanager
def local_list(image: ImageBuild) -> Iterator[str]:
    """A manifest list of ``image``'s architectures in local storage, removed afterwards."""
    name = f"{LIST_PREFIX}/{image.name}:{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        buildah.manifest_create(name, [arch.id for arch in image.by_platform])
        yield name
    finally:
        buildah.manifest_rm(name)


def push_index(list_name: str, tag: str, workdir: Path) -> str:
    """Push the list to ``tag`` (every architecture's image, then the index); its digest."""
    ref = parse_reference(tag)
    digestfile = workdir / f"{uuid.uuid4().hex}.digest"
    return buildah.manifest_push(
        list_name,
        f"docker://{tag}",
        digestfile=digestfile,
        tls_verify=not is_loopback_host(ref.registry),
    )


def holds_these_images(client: RegistryClient, tag: str, image: ImageBuild) -> bool:
    """Whether ``tag`` names an index of exactly ``image``'s architectures, each entry an image
    whose config is that architecture's image (its id): this build's set, pushed before from
    somewhere that did not record the digest. Anything else there is another image."""
    answer = client.get_manifest_document(tag)
    if isinstance(answer, NotFound):
        return False
    info, doc = answer
    if not info.is_index:
        return False
    entries = _entries(doc)
    if sorted(entries) != sorted(image.platforms):
        return False
    ref = parse_reference(tag)
    for arch in image.by_platform:
        config = client.config_digest(ref.with_digest(entries[arch.platform]))
        if config != f"sha256:{arch.id}":
            return False
    return True


def _entries(index: dict[str, Any]) -> dict[str, str]:
    """platform -> manifest digest of an index's image entries (attestations left out)."""
    found = {}
    for entry in index.get("manifests", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
            continue
        platform = entry.get("platform")
        if isinstance(platform, dict) and platform.get("os") != "unknown":
            found[platform_string(platform)] = entry["digest"]
    return found
