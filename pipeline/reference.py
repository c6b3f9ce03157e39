"""Image references, parsed and normalized the way the container tools (docker, podman) do.

The grammar is the distribution project's reference grammar::

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [ domain "/" ] path-component [ "/" path-component ]*
    domain    := host [ ":" port ]

The first component is a domain only when it contains ``.`` or ``:`` or is ``localhost``;
otherwise the reference is on Docker Hub (``docker.io``), where single-component names live under
``library/``. A reference keeps both its tag and its digest when it has both (the digest is what
is pulled; the tag is what a person reads and what the pipeline verifies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

DOCKER_HUB = "docker.io"
#: Where the Docker Hub registry API actually answers.
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DEFAULT_TAG = "latest"
NAME_MAX = 255

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_ALGO = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*")
#: Lengths of the hex part for the algorithms the OCI image spec registers.
_DIGEST_HEX_LEN = {"sha256": 64, "sha512": 128}


@dataclass(frozen=True)
class ImageReference:
    """A normalized image reference. ``str()`` is the canonical, fully qualified form."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def name(self) -> str:
        """``registry/repository``, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host (and port) the registry API is reached at."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def version(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_tag(self, tag: str) -> ImageReference:
        """The same repository at ``tag`` (and no digest)."""
        _check_tag(tag)
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> ImageReference:
        """The same repository pinned to ``digest`` (and no tag)."""
        _check_digest(digest)
        return replace(self, tag=None, digest=digest)


def _check_tag(tag: str) -> None:
    if not _TAG.fullmatch(tag):
        raise ValueError(
            f"invalid tag {tag!r}: a tag is 1-128 of letters, digits, '_', '.', '-' "
            "and must not start with '.' or '-'"
        )


def _check_digest(digest: str) -> None:
    algo, sep, hexpart = digest.partition(":")
    if not sep or not _DIGEST_ALGO.fullmatch(algo):
        raise ValueError(f"invalid digest {digest!r}: expected <algorithm>:<hex>")
    want = _DIGEST_HEX_LEN.get(algo)
    if want is not None:
        if len(hexpart) != want or not re.fullmatch(r"[0-9a-f]+", hexpart):
            raise ValueError(
                f"invalid digest {digest!r}: {algo} needs exactly {want} lowercase hex digits"
            )
    elif len(hexpart) < 32 or not re.fullmatch(r"[0-9a-fA-F]+", hexpart):
        raise ValueError(f"invalid digest {digest!r}: expected at least 32 hex digits")


def _split_domain(name: str) -> tuple[str | None, str]:
    first, sep, rest = name.partition("/")
    if sep and (("." in first) or (":" in first) or first == "localhost" or first != first.lower()):
        return first, rest
    return None, name


def parse_reference(text: str) -> ImageReference:
    """Parse ``text`` into a normalized reference; raise ``ValueError`` saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"an image reference must be a string, not {type(text).__name__}")
    if not text:
        raise ValueError("empty image reference")
    if text != text.strip() or any(ch.isspace() for ch in text):
        raise ValueError("an image reference must not contain whitespace")

    remainder, at, digest = text.partition("@")
    if at:
        _check_digest(digest)
    name, tag = remainder, None
    # A ':' after the last '/' separates the tag; one before it belongs to a host:port.
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        name, tag = remainder[:colon], remainder[colon + 1 :]
        _check_tag(tag)
    if not name:
        raise ValueError("missing repository name")

    domain, path = _split_domain(name)
    if domain is not None:
        if not _DOMAIN.fullmatch(domain):
            raise ValueError(f"invalid registry host {domain!r}")
        registry = DOCKER_HUB if domain.lower() in _HUB_ALIASES else domain
    else:
        registry = DOCKER_HUB
    if not path:
        raise ValueError("missing repository name after the registry")
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            if component.lower() != component and _PATH_COMPONENT.fullmatch(component.lower()):
                raise ValueError(f"repository name must be lowercase: {path!r}")
            raise ValueError(
                f"invalid repository path component {component!r}: lowercase letters and "
                "digits, separated by '.', '_', '__' or '-'"
            )
    if len(name) > NAME_MAX:
        raise ValueError(f"repository name longer than {NAME_MAX} characters")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if tag is None and not at:
        tag = DEFAULT_TAG
    return ImageReference(registry=registry, repository=path, tag=tag, digest=digest or None)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1, with or without a port."""
    bare = host
    if bare.startswith("["):
        bare = bare[1 : bare.find("]")] if "]" in bare else bare[1:]
    elif bare.count(":") == 1:
        bare = bare.split(":", 1)[0]
    bare = bare.lower()
    if bare == "localhost" or bare == "::1":
        return True
    parts = bare.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isdigit() for p in parts)
