"""Image references checked against the grammar of the distribution project (``reference.go``).

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [ domain "/" ] path-component ( "/" path-component )*
    domain    := host [ ":" port ]

A first component is the domain when it holds a ``.`` or a ``:`` or is ``localhost``, the same
rule docker and buildah use; otherwise it is the first path component and must be lower case.
Errors are :class:`InvalidReference` (a ``ValueError``) whose text says what is wrong, so a caller
can wrap it into an :class:`~pipeline.errors.InputError` with the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_LABEL = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST = re.compile(rf"{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9A-Fa-f:.]+\]")
_PORT = re.compile(r"[0-9]{1,5}")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}")
_NAME_MAX = 255


class InvalidReference(ValueError):
    """An image reference that registries would refuse; the text says why."""


@dataclass(frozen=True)
class Reference:
    domain: str | None
    path: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse_reference(ref: str) -> Reference:
    if not ref:
        raise InvalidReference("the reference is empty")
    if ref != ref.strip() or any(c.isspace() for c in ref):
        raise InvalidReference(f"{ref!r} contains white space")
    rest, at, digest = ref.partition("@")
    if at:
        _check_digest(digest)
    name, tag = rest, None
    last = rest.rfind(":")
    if last > rest.rfind("/"):
        name, tag = rest[:last], rest[last + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidReference(
                f"tag {tag!r} is not valid: 1 to 128 of letters, digits, '_', '.', '-', "
                "not starting with '.' or '-'"
            )
    if not name:
        raise InvalidReference(f"{ref!r} has no repository name")
    if len(name) > _NAME_MAX:
        raise InvalidReference(f"repository name is longer than {_NAME_MAX} characters")
    domain, path = _split_domain(name)
    for component in path.split("/"):
        if not component:
            raise InvalidReference(f"repository name {name!r} has an empty path component")
        if not _PATH_COMPONENT.fullmatch(component):
            lowered_ok = _PATH_COMPONENT.fullmatch(component.lower()) is not None
            reason = "must be lower case" if lowered_ok else "is malformed"
            raise InvalidReference(
                f"path component {component!r} of {name!r} {reason} (letters a-z, digits, "
                "separated by '.', '_', '__' or '-')"
            )
    return Reference(domain, path, tag, digest if at else None)


def validate_reference(ref: str) -> None:
    """Raise :class:`InvalidReference` unless ``ref`` is a valid image reference."""
    parse_reference(ref)


def _split_domain(name: str) -> tuple[str | None, str]:
    first, slash, remainder = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        return None, name
    host, colon, port = first.partition(":")
    if first.startswith("["):
        closing = first.find("]")
        host, colon, port = (
            first[: closing + 1],
            first[closing + 1 : closing + 2],
            first[closing + 2 :],
        )
    if not _HOST.fullmatch(host):
        raise InvalidReference(f"registry host {host!r} is not a valid host name")
    if colon and not (_PORT.fullmatch(port) and 0 < int(port) < 65536):
        raise InvalidReference(f"registry port {port!r} is not a port number")
    return first, remainder


def _check_digest(digest: str) -> None:
    if not _DIGEST.fullmatch(digest):
        raise InvalidReference(f"digest {digest!r} is not algorithm:hex")
    algorithm, _, encoded = digest.partition(":")
    if algorithm == "sha256" and not re.fullmatch(r"[0-9a-f]{64}", encoded):
        raise InvalidReference("a sha256 digest needs 64 lower-case hex digits")
    if algorithm == "sha512" and not re.fullmatch(r"[0-9a-f]{128}", encoded):
        raise InvalidReference("a sha512 digest needs 128 lower-case hex digits")
