"""HTTP/1.1 messages on a socket, as the registry client's ``http`` module exchanges them:
the request head it sends, the answer's head it reads (status line, header fields, the
connection's fate) and the body as its framing delimits it (RFC 9112 section 6.3: no body for
HEAD, 1xx, 204 and 304, then chunked, then Content-Length, else to the close).

What a server sends that is not HTTP/1.1 as read here is a ``ProtocolError`` naming it."""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from typing import IO, NamedTuple, overload

#: Longest status or header line, and most header fields, taken from a server (as http.client).
MAX_LINE = 65536
MAX_FIELDS = 100
#: Methods whose request without a body still says so (``Content-Length: 0``), as http.client.
SAYS_EMPTY_BODY = frozenset({"POST", "PUT", "PATCH"})


class RemoteDisconnected(ConnectionResetError):
    """The server closed the connection instead of answering: on a reused keep-alive
    connection, the sign that it was closed while idle."""


class ProtocolError(Exception):
    """What the server sent is not HTTP/1.1 as the client reads it (or ends too early)."""


class Headers:
    """An answer's header fields by name, case-insensitive. A field sent twice reads as its
    first value, as ``http.client``'s message read it."""

    __slots__ = ("_fields",)

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields: dict[str, str] = {}
        for name, value in fields:
            self._fields.setdefault(name.lower(), value)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        return self._fields.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __repr__(self) -> str:
        return f"Headers({sorted(self._fields)})"


class Connection:
    """One socket to a registry (or through its tunnel) and the buffered reader of its answers."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader: IO[bytes] = sock.makefile("rb")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class Body:
    """An answer's body as its framing delimits it; ``done`` once read to its end."""

    def __init__(self, reader: IO[bytes], *, length: int | None, chunked: bool) -> None:
        self._reader = reader
        self._left = length  # of the body, or of the current chunk when chunked
        self._chunked = chunked
        self.to_close = length is None and not chunked
        self.done = length == 0 and not chunked

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (at least one unless at the end)."""
        if self.done:
            return b""
        if self._chunked:
            return self._read_chunked(size)
        if self._left is None:  # delimited by the close
            data = self._reader.read1(size)  # type: ignore[attr-defined]
            self.done = not data
            return bytes(data)
        data = self._exact(min(size, self._left))
        self._left -= len(data)
        self.done = not self._left
        return data

    def read_all(self) -> bytes:
        return b"".join(iter(lambda: self.read(65536), b""))

    def _read_chunked(self, size: int) -> bytes:
        if not self._left:
            line = read_line(self._reader)
            try:
                self._left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError("a chunk size that is not hexadecimal") from None
            if not self._left:
                while read_line(self._reader).strip():  # the trailer, up to its empty line
                    pass
                self.done = True
                return b""
        data = self._exact(min(size, self._left))
        self._left -= len(data)
        if not self._left and self._exact(2) != b"\r\n":
            raise ProtocolError("a chunk not ended by CRLF")
        return data

    def _exact(self, count: int) -> bytes:
        data = self._reader.read(count)
        if len(data) != count:
            raise ProtocolError("the answer ended early (IncompleteRead)")
        return data


class Head(NamedTuple):
    """An answer's status line and header fields."""

    status: int
    reason: str
    headers: Headers
    will_close: bool


def authority(host: str, port: int, scheme: str) -> str:
    """``host[:port]`` as a Host header or CONNECT target says it (the port only when it is
    not the scheme's own; an IPv6 address in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if scheme == "https" else 80) else f"{shown}:{port}"


def request_head(method: str, target: str, authority: str, headers: Mapping[str, str]) -> bytes:
    """The request line and header fields, as bytes to send. A header value holding a line
    break is refused (it would inject a field)."""
    fields = {"Host": authority, "Accept-Encoding": "identity", **headers}
    if method in SAYS_EMPTY_BODY:
        fields.setdefault("Content-Length", "0")
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in fields.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"a line break in the header field {name!r}")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_line(reader: IO[bytes]) -> bytes:
    line = reader.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ProtocolError("a line longer than 64 KiB")
    return line


def read_head(reader: IO[bytes]) -> Head:
    line = read_line(reader)
    if not line:
        raise RemoteDisconnected("closed without an answer")
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not re.fullmatch(r"\d{3}", parts[1]):
        raise ProtocolError(f"not an HTTP/1 status line: {line[:40]!r}")
    fields: list[tuple[str, str]] = []
    while (line := read_line(reader)) not in (b"\r\n", b"\n", b""):
        text = line.decode("latin-1")
        if text[0] in " \t" and fields:  # an obsolete folded continuation of the last field
            fields[-1] = (fields[-1][0], f"{fields[-1][1]} {text.strip()}")
            continue
        name, colon, value = text.partition(":")
        if not colon or len(fields) == MAX_FIELDS:
            raise ProtocolError(f"not a header field: {line[:40]!r}")
        fields.append((name.strip(), value.strip()))
    headers = Headers(fields)
    tokens = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    old = parts[0] == "HTTP/1.0"
    will_close = "close" in tokens or (old and "keep-alive" not in tokens)
    reason = parts[2].strip() if len(parts) > 2 else ""
    return Head(int(parts[1]), reason, headers, will_close)


def read_final_head(reader: IO[bytes]) -> Head:
    """The final answer's head, past any informational (1xx) ones."""
    while True:
        head = read_head(reader)
        if not 100 <= head.status < 200 or head.status == 101:
            return head


def body_of(reader: IO[bytes], method: str, head: Head) -> Body:
    """The body's framing (RFC 9112 section 6.3)."""
    if method == "HEAD" or head.status in (204, 304) or head.status < 200:
        return Body(reader, length=0, chunked=False)
    coding = head.headers.get("Transfer-Encoding")
    if coding is not None:
        chunked = coding.rsplit(",", 1)[-1].strip().lower() == "chunked"
        return Body(reader, length=None, chunked=chunked)
    length = head.headers.get("Content-Length")
    if length is None:
        return Body(reader, length=None, chunked=False)
    if not length.strip().isdigit():
        raise ProtocolError(f"a Content-Length that is not a number: {length[:20]!r}")
    return Body(reader, length=int(length), chunked=False)
