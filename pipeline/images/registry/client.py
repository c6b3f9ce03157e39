"""The OCI distribution API as the pipeline uses it: manifests, configs, tags, many at once."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

from pipeline.core.errors import RegistryError
from pipeline.images.reference import DOCKER_HUB, ImageReference
from pipeline.images.registry.auth import Authenticator, Credentials, find_credentials
from pipeline.images.registry.models import (
    ACCEPT,
    INDEX_TYPES,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    MAX_TAG_PAGES,
    Failed,
    ImageDetails,
    ManifestInfo,
    NotFound,
    RetryPolicy,
    as_reference,
    config_labels,
    platform_string,
)
from pipeline.images.registry.transport import (
    CERTS_DIRS,
    NOT_FOUND_CODES,
    Transport,
    describe_error_body,
    error_codes,
    expect_ok,
    manifest_media_type,
    not_found,
)

_Answer = TypeVar("_Answer")
#: What ``describe`` learns of a digest: media type, platforms, labels, platforms gone.
_Details = tuple[str, tuple[str, ...], dict[str, str], tuple[str, ...]]


class RegistryClient:
    """A client for any number of registries, safe to share between threads.

    ``https_loopback``: loopback registries use plain http unless this is set; then https, with
    verification against ``ca_bundle`` (or ``REGISTRY_CA_BUNDLE``, or ``certs.d``) when one is
    found, and without verification otherwise. Every other registry is always https, verified.
    ``credentials(registry, repository)`` replaces the lookup in the auth files.
    """

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        pool_size: int = 16,
        credentials: Callable[[str, str], Credentials | None] | None = None,
        https_loopback: bool = False,
        ca_bundle: str | Path | None = None,
        certs_dirs: Sequence[Path] = CERTS_DIRS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        bundle = ca_bundle or os.environ.get("REGISTRY_CA_BUNDLE") or None
        self.transport = Transport(
            retry=retry or RetryPolicy.from_env(),
            timeout=timeout,
            pool_size=pool_size,
            https_loopback=https_loopback,
            ca_bundle=str(bundle) if bundle else None,
            certs_dirs=certs_dirs,
            sleep=sleep,
        )
        self.auth = Authenticator(self.transport, credentials or find_credentials)
        self._lock = threading.Lock()
        # What a digest names never changes, so its details are fetched once per client (and
        # by one thread: the others asking meanwhile wait for its answer).
        self._details: dict[str, _Details] = {}
        self._fetching: dict[str, threading.Event] = {}

    def __repr__(self) -> str:
        return f"RegistryClient(retry={self.transport.retry!r}, timeout={self.transport.timeout})"

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def head_manifest(self, ref: ImageReference | str) -> ManifestInfo | NotFound:
        """Digest, media type and size of ``ref``'s manifest, without its body."""
        ref = as_reference(ref)
        resp = self.auth.request(
            "HEAD", ref, f"manifests/{ref.version}", headers={"Accept": ACCEPT}
        )
        with resp:
            missing = not_found(ref, resp, "HEAD")
            if missing is not None:
                return missing
            expect_ok(resp, "HEAD", ref)
            digest = resp.headers.get("Docker-Content-Digest")
            if not digest:
                raise RegistryError(
                    f"HEAD {ref}: the registry sent no Docker-Content-Digest header",
                    hint="the registry is not OCI distribution compliant; use GET instead",
                )
            if ref.digest and digest != ref.digest:
                raise RegistryError(f"HEAD {ref}: registry answered digest {digest}")
            media_type = manifest_media_type(resp, ref, "HEAD")
            return ManifestInfo(ref, digest, media_type, _int(resp.headers.get("Content-Length")))

    def get_manifest_document(
        self, ref: ImageReference | str
    ) -> tuple[ManifestInfo, dict[str, Any]] | NotFound:
        """The manifest (or index) of ``ref``, parsed and checked against its digest."""
        ref = as_reference(ref)
        resp = self.auth.request("GET", ref, f"manifests/{ref.version}", headers={"Accept": ACCEPT})
        with resp:
            missing = not_found(ref, resp, "GET")
            if missing is not None:
                return missing
            expect_ok(resp, "GET", ref)
            media_type = manifest_media_type(resp, ref, "GET")
            body = resp.content
        digest = _manifest_digest(ref, body, resp.headers.get("Docker-Content-Digest"))
        doc = _manifest_json(ref, body, media_type)
        return _manifest_info(ref, digest, media_type, len(body), doc), doc

    def config_digest(self, ref: ImageReference | str) -> str | None:
        """The config digest (an image's id) of a single-image manifest; None for an index or
        when ``ref`` is not there."""
        answer = self.get_manifest_document(ref)
        return None if isinstance(answer, NotFound) else answer[0].config_digest

    def get_blob_json(self, ref: ImageReference, digest: str) -> dict[str, Any] | NotFound:
        """A JSON blob (an image config) of ``ref``'s repository, checked against ``digest``."""
        resp = self.auth.request("GET", ref, f"blobs/{digest}", stream=True)
        with resp:
            missing = not_found(ref, resp, "GET")
            if missing is not None:
                return missing
            expect_ok(resp, "GET", ref)
            chunks = []
            size = 0
            for chunk in resp.iter_content(65536):
                size += len(chunk)
                if size > MAX_CONFIG_BYTES:
                    raise RegistryError(f"GET {ref} blob {digest}: larger than a config can be")
                chunks.append(chunk)
        body = b"".join(chunks)
        if digest.startswith("sha256:") and _digest_of(body) != digest:
            raise RegistryError(f"GET {ref} blob {digest}: content does not match its digest")
        try:
            data = json.loads(body)
        except ValueError:
            raise RegistryError(f"GET {ref} blob {digest}: not valid JSON") from None
        if not isinstance(data, dict):
            raise RegistryError(f"GET {ref} blob {digest}: not a JSON object")
        return data

    def get_config(
        self, ref: ImageReference | str, platform: str | None = None
    ) -> dict[str, Any] | NotFound:
        """The image config of ``ref``; for an index, that of ``platform`` (``os/arch``) or of
        the first platform listed."""
        ref = as_reference(ref)
        answer = self.get_manifest_document(ref)
        if isinstance(answer, NotFound):
            return answer
        info, doc = answer
        if info.is_index:
            chosen = _index_entry(doc, platform)
            if chosen is None:
                return NotFound(ref, f"no platform {platform or ''} in the index".strip())
            answer = self.get_manifest_document(ref.with_digest(chosen))
            if isinstance(answer, NotFound):
                return NotFound(ref, f"index entry {chosen}: {answer.reason}")
            info, doc = answer
        assert info.config_digest is not None  # set for every image manifest
        return self.get_blob_json(ref, info.config_digest)

    def list_tags(self, ref: ImageReference | str, *, page_size: int | None = None) -> list[str]:
        """Every tag of ``ref``'s repository, following ``Link`` pages; [] if it has none."""
        ref = as_reference(ref)
        url = f"{self.transport.base_url(ref.api_host)}/v2/{ref.repository}/tags/list"
        if page_size:
            url += f"?n={page_size}"
        tags: list[str] = []
        seen_urls: set[str] = set()
        for _ in range(MAX_TAG_PAGES):
            if url in seen_urls:
                raise RegistryError(f"{ref.name}: tag list pages link back to {url}")
            seen_urls.add(url)
            resp = self.auth.request("GET", ref, "tags/list", url=url)
            with resp:
                if resp.status_code == 404 and error_codes(resp) & NOT_FOUND_CODES:
                    return tags
                expect_ok(resp, "GET", ref)
                try:
                    data = resp.json()
                except ValueError:
                    raise RegistryError(f"GET {url}: tag list is not valid JSON") from None
                page = data.get("tags") if isinstance(data, dict) else None
                if page is not None and not isinstance(page, list):
                    raise RegistryError(f"GET {url}: 'tags' is not a list")
                tags.extend(str(t) for t in page or [])
                nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                return tags
            url = urljoin(url, nxt)
        raise RegistryError(f"{ref.name}: more than {MAX_TAG_PAGES} pages of tags")

    def ping(self, registry: str) -> None:
        """Raise ``RegistryError`` unless ``registry`` answers ``/v2/`` like a registry."""
        host = "registry-1.docker.io" if registry == DOCKER_HUB else registry
        resp = self.transport.send("GET", f"{self.transport.base_url(host)}/v2/", host=host)
        with resp:
            if resp.status_code in (200, 401):
                return
            raise RegistryError(
                f"GET {resp.url}: HTTP {resp.status_code}: {describe_error_body(resp)}",
                hint="is this a registry (OCI distribution API)?",
            )

    def describe(self, ref: ImageReference | str) -> ImageDetails | NotFound:
        """One HEAD for the tag's digest; the manifest and config of a digest only once."""
        ref = as_reference(ref)
        head = self.head_manifest(ref)
        if isinstance(head, NotFound):
            return head
        return self.details(ref, head.digest)

    def details(self, ref: ImageReference | str, digest: str) -> ImageDetails | NotFound:
        """Media type, platforms and labels of ``digest`` in ``ref``'s repository, fetched once
        per digest by this client (a digest names the same bytes in any repository; that it is
        in this one, the caller's HEAD said)."""
        ref = as_reference(ref)
        known = self._known(ref.with_digest(digest))
        if known is None:  # deleted between the HEAD and now
            return NotFound(ref, f"{digest} vanished while it was read")
        media_type, platforms, labels, gone = known
        return ImageDetails(ref, digest, media_type, platforms, labels, gone)

    def _known(self, pinned: ImageReference) -> _Details | None:
        digest = pinned.digest or ""
        with self._lock:
            known = self._details.get(digest)
            waiting = self._fetching.get(digest) if known is None else None
            mine = known is None and waiting is None
            if mine:
                self._fetching[digest] = threading.Event()
        if known is not None:
            return known
        if waiting is not None:
            waiting.wait()
            with self._lock:
                known = self._details.get(digest)
            # The fetch failed or found nothing: its own reference reported that; try again.
            return known if known is not None else self._digest_details(pinned)
        try:
            known = self._digest_details(pinned)
            if known is not None:
                with self._lock:
                    self._details[digest] = known
            return known
        finally:
            with self._lock:
                self._fetching.pop(digest).set()

    def _digest_details(self, pinned: ImageReference) -> _Details | None:
        answer = self.get_manifest_document(pinned)
        if isinstance(answer, NotFound):
            return None
        info, _ = answer
        if info.is_index:
            labels, gone = self._index_details(pinned, info)
            return info.media_type, info.platforms, labels, gone
        assert info.config_digest is not None  # set for every image manifest
        config = self.get_blob_json(pinned, info.config_digest)
        if isinstance(config, NotFound):
            raise RegistryError(f"{pinned}: config missing ({config.reason})")
        return info.media_type, (platform_string(config),), config_labels(config), ()

    def _index_details(
        self, pinned: ImageReference, index: ManifestInfo
    ) -> tuple[dict[str, str], tuple[str, ...]]:
        """The labels of the first platform whose image is there, and the platforms whose
        image manifest is gone (one HEAD for each after the first found)."""
        labels: dict[str, str] | None = None
        gone = []
        for platform, child in index.children:
            if labels is not None:
                if isinstance(self.head_manifest(pinned.with_digest(child)), NotFound):
                    gone.append(platform)
                continue
            answer = self.get_manifest_document(pinned.with_digest(child))
            if isinstance(answer, NotFound):
                gone.append(platform)
                continue
            config_digest = answer[0].config_digest
            if config_digest is None:  # an index inside the index: not an image
                continue
            config = self.get_blob_json(pinned, config_digest)
            if isinstance(config, NotFound):
                raise RegistryError(f"{pinned} ({platform}): config missing ({config.reason})")
            labels = config_labels(config)
        return labels or {}, tuple(gone)

    def describe_many(
        self, refs: Iterable[ImageReference | str], *, workers: int = 16
    ) -> list[ImageDetails | NotFound | Failed]:
        """``describe`` for every reference concurrently, in order; a failed one is ``Failed``."""
        return for_each(refs, self.describe, workers)


def for_each(
    refs: Iterable[ImageReference | str],
    one: Callable[[ImageReference], _Answer],
    workers: int,
) -> list[_Answer | Failed]:
    """``one`` for every reference, ``workers`` at a time, answers in the given order; a
    reference whose request fails (auth, unreachable) gives ``Failed``, not an exception."""
    parsed = [as_reference(r) for r in refs]

    def guarded(ref: ImageReference) -> _Answer | Failed:
        try:
            return one(ref)
        except RegistryError as exc:
            return Failed(ref, exc.one_line())

    if not parsed:
        return []
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="registry") as pool:
        return list(pool.map(guarded, parsed))


def _digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _manifest_digest(ref: ImageReference, body: bytes, sent: str | None) -> str:
    """The digest of a manifest body, which must match the one the registry ``sent`` and the
    one ``ref`` pins."""
    if len(body) > MAX_MANIFEST_BYTES:
        raise RegistryError(f"GET {ref}: manifest of {len(body)} bytes is too large")
    digest = _digest_of(body)
    if sent and sent != digest:
        raise RegistryError(
            f"GET {ref}: body has digest {digest} but the registry says {sent}",
            hint="a proxy changed the manifest, or the download was cut short",
        )
    if ref.digest and ref.digest != digest:
        raise RegistryError(f"GET {ref}: body has digest {digest}, not the one asked for")
    return digest


def _manifest_json(ref: ImageReference, body: bytes, media_type: str) -> dict[str, Any]:
    """A manifest body as a JSON object that does not contradict its Content-Type."""
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RegistryError(
            f"GET {ref}: manifest is not valid JSON ({exc.msg} at byte {exc.pos})",
            hint="a truncated or corrupted answer",
        ) from None
    except ValueError:
        raise RegistryError(f"GET {ref}: manifest is not UTF-8 JSON") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"GET {ref}: manifest is not a JSON object")
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared and declared != media_type:
        raise RegistryError(
            f"GET {ref}: Content-Type {media_type} but the manifest says {declared}"
        )
    return doc


def _manifest_info(
    ref: ImageReference, digest: str, media_type: str, size: int, doc: dict[str, Any]
) -> ManifestInfo:
    """An index's platforms, or an image manifest's config digest."""
    if media_type in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise RegistryError(f"GET {ref}: index without a 'manifests' list")
        children = tuple(
            (platform_string(m["platform"]), m["digest"])
            for m in entries
            if isinstance(m, dict)
            and isinstance(m.get("platform"), dict)
            and isinstance(m.get("digest"), str)
            and m["platform"].get("os") != "unknown"  # attestations, not images
        )
        platforms = tuple(platform for platform, _ in children)
        return ManifestInfo(ref, digest, media_type, size, platforms, children=children)
    config = doc.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
        raise RegistryError(f"GET {ref}: image manifest without a config descriptor")
    return ManifestInfo(ref, digest, media_type, size, config_digest=config["digest"])


def _index_entry(index: dict[str, Any], platform: str | None) -> str | None:
    """The digest of the first image in ``index`` for ``platform`` (any, if None)."""
    for entry in index.get("manifests", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
            continue
        raw = entry.get("platform")
        plat: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if plat.get("os") == "unknown":  # attestations, not images
            continue
        name = platform_string(plat)
        if platform is None or name == platform or name.startswith(platform + "/"):
            digest: str = entry["digest"]
            return digest
    return None


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0
