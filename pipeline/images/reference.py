"""Image references, parsed and normalized the way the container tools (docker, podman) do.

The grammar is the distribution project's reference grammar::

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [ domain "/" ] path-component [ "/" path-component ]*
    domain    := host [ ":" port ]

The first component is a domain only when it contains ``.`` or ``:`` or is ``localhost``;
otherwise the reference is on Docker Hub (``docker.io``), where single-component names live under
``library/``. A port is 1 to 65535; the name (as written and as normalized) is at most 255
characters; sha256, sha384 and sha512 digests have exactly their length of lower-case hex.
A reference keeps both its tag and its digest when it has both (the digest is what is pulled; the
tag is what a person reads and what the pipeline verifies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pipeline.obs.conventions import ANY_PLACEHOLDER

DOCKER_HUB = "docker.io"
#: Where the Docker Hub registry API actually answers.
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DEFAULT_TAG = "latest"
NAME_MAX = 255

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\]")
_PORT = re.compile(r"[0-9]{1,5}")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_ALGO = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*")
#: Lengths of the hex part for the algorithms go-digest registers (and so registries check).
_DIGEST_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}
#: The container tools read a bare 64-hex word as an image ID, never as a repository.
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")


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
                f"invalid digest {digest!r}: {algo} needs exactly {want} lower-case hex digits"
            )
    elif len(hexpart) < 32 or not re.fullmatch(r"[0-9a-fA-F]+", hexpart):
        raise ValueError(f"invalid digest {digest!r}: expected at least 32 hex digits")


def _split_domain(name: str) -> tuple[str | None, str]:
    """Split off the registry the way docker and buildah decide it is one.

    Docker also takes an upper-case first component for a host; here it is a path component
    and so refused: ``Opensuse/tumbleweed`` is a typo far more often than a registry."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, name


def _check_domain(domain: str) -> None:
    host, colon, port = domain.partition(":")
    if domain.startswith("["):
        # An IPv6 literal holds colons of its own; the port follows the closing bracket.
        close = domain.find("]") + 1
        host, colon, port = domain[:close], domain[close : close + 1], domain[close + 1 :]
    if not host or not _HOST.fullmatch(host):
        raise ValueError(f"invalid registry host {host!r}")
    if colon and not (_PORT.fullmatch(port) and 0 < int(port) < 65536):
        raise ValueError(f"registry port {port!r} of {domain!r} is not a port number (1 to 65535)")


def _check_path(path: str, name: str, first_is_path: bool) -> None:
    for index, component in enumerate(path.split("/")):
        if not component:
            raise ValueError(
                f"repository name {name!r} has an empty path component ('//' or a '/' at an end)"
            )
        if _PATH_COMPONENT.fullmatch(component):
            continue
        if _PATH_COMPONENT.fullmatch(component.lower()):
            why = f"path component {component!r} of {name!r} must be lower case"
            if index == 0 and first_is_path and "/" in path:
                why += " (a registry host needs a '.' or a ':' or is localhost)"
            raise ValueError(why)
        raise ValueError(
            f"repository path component {component!r} of {name!r} is malformed: lower-case "
            "letters and digits, separated by '.', '_', '__' or '-'"
        )


def _parse(text: str) -> ImageReference:
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
        raise ValueError(f"{text!r} has no repository name")
    if _IMAGE_ID.fullmatch(name):
        raise ValueError(f"{name!r} is a 64-hex image ID, not a repository name")

    domain, path = _split_domain(name)
    if domain is not None:
        _check_domain(domain)
        registry = DOCKER_HUB if domain.lower() in _HUB_ALIASES else domain
        if not path:
            raise ValueError(f"{text!r} has no repository name after the registry {domain!r}")
    else:
        registry = DOCKER_HUB
    _check_path(path, name, first_is_path=domain is None)
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    # Registries count the name as written; docker counts it normalized (docker.io/library/...).
    length = max(len(name), len(registry) + 1 + len(path))
    if length > NAME_MAX:
        raise ValueError(
            f"repository name is longer than {NAME_MAX} characters ({length} as "
            f"{registry}/{path[:20]}...)"
        )
    if tag is None and not at:
        tag = DEFAULT_TAG
    return ImageReference(registry=registry, repository=path, tag=tag, digest=digest or None)


def parse_reference(text: str) -> ImageReference:
    """Parse ``text`` into a normalized reference; raise ``ValueError`` saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"an image reference must be a string, not {type(text).__name__}")
    if not text:
        raise ValueError("empty image reference")
    if any(ch.isspace() for ch in text):
        raise ValueError(f"an image reference must not contain white space: {text!r}")
    try:
        return _parse(text)
    except ValueError as exc:
        placeholders = list(dict.fromkeys(m.group() for m in ANY_PLACEHOLDER.finditer(text)))
        if not placeholders:
            raise
        noun = "placeholders" if len(placeholders) > 1 else "placeholder"
        raise ValueError(
            f"{exc}; a reference holding the OBS {noun} {', '.join(placeholders)} is not valid "
            "until the build services replace it"
        ) from None


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
