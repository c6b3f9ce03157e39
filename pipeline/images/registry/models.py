"""What the registry client speaks in: manifest media types, size limits, the answers it gives
(``ManifestInfo``, ``ImageDetails``, ``NotFound``, ``Failed``) and its retry bounds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.core.errors import RegistryError
from pipeline.images.reference import ImageReference, parse_reference

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
ACCEPT = ", ".join(MANIFEST_TYPES)

MAX_TAG_PAGES = 10_000
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_CONFIG_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ManifestInfo:
    """What the registry holds for a reference. ``platforms`` are ``os/arch[/variant]``."""

    reference: ImageReference
    digest: str
    media_type: str
    size: int
    platforms: tuple[str, ...] = ()
    config_digest: str | None = None
    #: For an index: ``(platform, digest)`` of each image it lists (attestations left out).
    children: tuple[tuple[str, str], ...] = ()

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True)
class ImageDetails:
    """What verify needs of one reference: its digest (from the tag), and of that digest the
    media type, platforms and labels (of the first platform there, for an index). ``gone``:
    platforms an index lists whose image manifest is no longer in the registry."""

    reference: ImageReference
    digest: str
    media_type: str
    platforms: tuple[str, ...]
    labels: Mapping[str, str]
    gone: tuple[str, ...] = ()

    @property
    def present(self) -> tuple[str, ...]:
        """The platforms that can be pulled: listed, and their manifest still there."""
        return tuple(p for p in self.platforms if p not in self.gone)

    def lacks(self, platform: str) -> bool:
        """Whether ``platform`` (``os/arch``, or with its variant) cannot be pulled."""
        return not any(p == platform or p.startswith(platform + "/") for p in self.present)


@dataclass(frozen=True)
class NotFound:
    """The registry answered that the reference does not exist (``reason`` says which part)."""

    reference: ImageReference
    reason: str


@dataclass(frozen=True)
class Failed:
    """In a many-at-once answer: the request for this reference failed (registry down, auth,
    ...), so the others could still be answered."""

    reference: ImageReference
    message: str


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retrying transient failures: at most ``attempts`` failed tries and
    ``total_seconds``. A 429 (slow down) is no failure: only ``total_seconds`` bounds those."""

    attempts: int = 5
    total_seconds: float = 60.0
    backoff: float = 0.5
    max_backoff: float = 8.0
    #: A Retry-After longer than this (or than the time left) ends the retrying.
    max_retry_after: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetryPolicy:
        """Defaults, overridden by ``PIPELINE_REGISTRY_ATTEMPTS`` / ``_RETRY_SECONDS``."""
        env = os.environ if env is None else env
        policy = cls()
        try:
            if "PIPELINE_REGISTRY_ATTEMPTS" in env:
                policy = cls(attempts=max(1, int(env["PIPELINE_REGISTRY_ATTEMPTS"])))
            if "PIPELINE_REGISTRY_RETRY_SECONDS" in env:
                seconds = float(env["PIPELINE_REGISTRY_RETRY_SECONDS"])
                policy = cls(attempts=policy.attempts, total_seconds=max(0.0, seconds))
        except ValueError as exc:
            raise RegistryError(
                f"bad retry setting in the environment: {exc}",
                hint="PIPELINE_REGISTRY_ATTEMPTS is an integer, _RETRY_SECONDS a number",
            ) from exc
        return policy

    def delay(self, attempt: int) -> float:
        """Backoff before try ``attempt + 1``: exponential with full jitter."""
        import random  # only a retry needs it, not a run whose registry answers at once

        ceiling = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)  # jitter, not crypto


def platform_string(platform: Mapping[str, Any]) -> str:
    """``os/arch[/variant]`` of an index entry's ``platform`` or of an image config."""
    text = f"{platform.get('os', '?')}/{platform.get('architecture', '?')}"
    if platform.get("variant"):
        text += f"/{platform['variant']}"
    return text


def config_labels(config: Mapping[str, Any]) -> dict[str, str]:
    """The labels of an image config (empty when it has none)."""
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def as_reference(ref: ImageReference | str) -> ImageReference:
    """``ref`` parsed; a malformed one is a ``RegistryError``."""
    if isinstance(ref, ImageReference):
        return ref
    try:
        return parse_reference(ref)
    except ValueError as exc:
        raise RegistryError(f"invalid image reference {ref!r}: {exc}") from None
