"""HTTP/1.1 for the registry client, on the standard library's sockets: keep-alive connections
pooled per registry, redirects, TLS, and the proxies the environment names.

Why not requests: ``verify-tags --releases`` sends thousands of small requests, and requests
spends about 1.5 ms of CPU on each (hooks, cookies, header merging, urllib3's pool) where a
plain socket exchange spends 0.4 ms; importing it costs more than the whole start-up budget of
the verb (0.1 s). Why not ``http.client``: importing it loads ``ssl`` and the e-mail parser,
about 20 ms of that budget, on every run, where most audits ask loopback or plain-http
registries; here ``ssl`` is imported when a TLS connection is first opened. The registry API
needs little of HTTP: no request bodies, no cookies, no compression (the answers are small
JSON, asked for as identity), no multipart. The messages on the socket are ``wire``'s.

A failure without an answer is one ``HttpError`` naming its kind; an answer of any status is a
``Response``. Nothing here logs: the transport logs method, URL and status, never headers.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlencode, urljoin, urlsplit

from pipeline.images.reference import is_loopback_host
from pipeline.images.registry.wire import (
    Body,
    Connection,
    Head,
    ProtocolError,
    authority,
    body_of,
    read_final_head,
    request_head,
)

if TYPE_CHECKING:
    import ssl

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([^";,]+)"?')
Verify = bool | str
#: A proxy's host, port and Proxy-Authorization value (None without credentials).
_Proxy = tuple[str, int, str | None]


class HttpError(Exception):
    """No answer: ``kind`` says how (``connection failed``, ``timed out``, ...)."""

    kind = "connection failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConnectFailed(HttpError):
    pass


class TimedOut(HttpError):
    kind = "timed out"


class TlsFailed(HttpError):
    kind = "TLS verification failed"


class TooManyRedirects(HttpError):
    kind = "too many redirects"


#: A keep-alive connection the server closed while it idled fails like this on reuse.
_STALE = (ConnectionResetError, BrokenPipeError)
#: What an exchange raises for a failure without an answer (``_failure`` names it).
_EXCHANGE_ERRORS = (OSError, ProtocolError)


class Response:
    """One answer. The body is read at once unless the request streamed it; a response read to
    its end gives its connection back to the pool, one closed early closes the connection."""

    def __init__(
        self,
        head: Head,
        raw: Body,
        url: str,
        release: Callable[[bool], None],
        body: bytes | None,
    ) -> None:
        self.status_code = head.status
        self.reason = head.reason
        self.headers = head.headers
        self.url = url
        self._will_close = head.will_close or raw.to_close
        self._raw = raw
        self._release: Callable[[bool], None] | None = release
        self._body = body

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {self.url}>"

    @property
    def content(self) -> bytes:
        if self._body is None:
            self._body = b"".join(self.iter_content(65536))
        return self._body

    @property
    def text(self) -> str:
        match = re.search(r"charset=([\w-]+)", self.headers.get("Content-Type", ""))
        return self.content.decode(match.group(1) if match else "utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The ``Link`` header by relation: ``{"next": {"url": ...}}``."""
        header = self.headers.get("Link", "")
        return {rel: {"url": url, "rel": rel} for url, rel in _LINK.findall(header)}

    def iter_content(self, size: int) -> Iterator[bytes]:
        if self._body is not None:
            yield self._body
            return
        try:
            while chunk := self._raw.read(size):
                yield chunk
        except _EXCHANGE_ERRORS as exc:
            self._drop()
            raise _failure(exc) from None
        self.close()

    def close(self) -> None:
        """Give the connection back when the body was read to its end, else close it."""
        if self._release is None:
            return
        if self._raw.done:
            self._release(not self._will_close)
        else:
            self._drop()
        self._release = None

    def _drop(self) -> None:
        if self._release is not None:
            self._release(False)
            self._release = None

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Route(NamedTuple):
    """Where a connection goes: the origin, and the proxy in between (if any)."""

    scheme: str
    host: str
    port: int
    verify: Verify
    proxy: _Proxy | None


class Session:
    """Requests over pooled keep-alive connections, safe to share between threads."""

    def __init__(self, *, pool_size: int, user_agent: str, max_redirects: int = 10) -> None:
        self.pool_size = max(1, pool_size)
        self.user_agent = user_agent
        self.max_redirects = max_redirects
        self._lock = threading.Lock()
        self._idle: dict[_Route, list[Connection]] = {}
        self._contexts: dict[Verify, ssl.SSLContext] = {}
        self._proxies: dict[tuple[str, str], _Proxy | None] = {}

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for conn in connections:
                conn.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float,
        verify: Verify = True,
        stream: bool = False,
    ) -> Response:
        """``method url``, following up to ``max_redirects`` redirects; ``Authorization`` is
        dropped when a redirect leaves the origin."""
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        sent = {"User-Agent": self.user_agent, **(headers or {})}
        for _ in range(self.max_redirects + 1):
            resp = self._send(method, url, sent, timeout, verify, stream)
            location = resp.headers.get("Location")
            if resp.status_code not in REDIRECTS or not location:
                return resp
            resp.content  # noqa: B018 - read to the end, so the connection is reused
            resp.close()
            target = urljoin(url, location)
            if urlsplit(target)[:2] != urlsplit(url)[:2]:
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            if resp.status_code == 303 and method != "HEAD":
                method = "GET"
            url = target
        raise TooManyRedirects(f"more than {self.max_redirects} redirects, last to {url}")

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        timeout: float,
        verify: Verify,
        stream: bool,
    ) -> Response:
        route, target, headers = self._route(url, headers, verify)
        request = request_head(
            method, target, authority(route.host, route.port, route.scheme), headers
        )
        try:
            conn, head = self._exchange(route, request, timeout)
        except _EXCHANGE_ERRORS as exc:
            raise _failure(exc) from None
        try:
            raw = body_of(conn.reader, method, head)
        except ProtocolError as exc:
            conn.close()
            raise _failure(exc) from None
        release = self._releaser(route, conn)
        if stream:
            return Response(head, raw, url, release, None)
        try:
            body = raw.read_all()
        except _EXCHANGE_ERRORS as exc:
            conn.close()
            raise _failure(exc) from None
        resp = Response(head, raw, url, release, body)
        resp.close()  # read whole: the connection goes back at once
        return resp

    def _route(
        self, url: str, headers: dict[str, str], verify: Verify
    ) -> tuple[_Route, str, dict[str, str]]:
        """Where ``url`` goes, the request target to send, and the headers (with the proxy's
        credentials for a plain http proxy)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectFailed(f"not an http(s) URL: {url}")
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        tls = parts.scheme == "https"
        proxy = self._proxy(parts.scheme, host)
        route = _Route(parts.scheme, host, port, verify if tls else False, proxy)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if route.proxy is not None and not tls:
            target = url  # the absolute form, through a plain http proxy
            if route.proxy[2]:
                headers = {**headers, "Proxy-Authorization": route.proxy[2]}
        return route, target, headers

    def _exchange(self, route: _Route, request: bytes, timeout: float) -> tuple[Connection, Head]:
        """Send on an idle connection (once more on a new one if the server had closed it)."""
        conn = self._take(route)
        reused = conn is not None
        for _ in range(2):
            if conn is None:
                conn = self._connect(route, timeout)
            else:
                conn.sock.settimeout(timeout)
            try:
                conn.sock.sendall(request)
                return conn, read_final_head(conn.reader)
            except _STALE:
                conn.close()
                if not reused:
                    raise
                conn, reused = None, False
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _take(self, route: _Route) -> Connection | None:
        with self._lock:
            idle = self._idle.get(route)
            return idle.pop() if idle else None

    def _releaser(self, route: _Route, conn: Connection) -> Callable[[bool], None]:
        def release(reusable: bool) -> None:
            if reusable:
                with self._lock:
                    idle = self._idle.setdefault(route, [])
                    if len(idle) < self.pool_size:
                        idle.append(conn)
                        return
            conn.close()

        return release

    def _connect(self, route: _Route, timeout: float) -> Connection:
        """A new connection: to the origin or its proxy, tunnelled and wrapped in TLS for
        https."""
        host, port = (route.proxy[0], route.proxy[1]) if route.proxy else (route.host, route.port)
        sock = socket.create_connection((host, port), timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if route.scheme == "https":
                if route.proxy is not None:
                    _tunnel(sock, route.host, route.port, route.proxy[2])
                sock = self._context(route.verify).wrap_socket(sock, server_hostname=route.host)
        except BaseException:
            sock.close()
            raise
        return Connection(sock)

    def _proxy(self, scheme: str, host: str) -> _Proxy | None:
        key = (scheme, host)
        with self._lock:
            if key in self._proxies:
                return self._proxies[key]
        found = _proxy_for(scheme, host)
        with self._lock:
            self._proxies[key] = found
        return found

    def _context(self, verify: Verify) -> ssl.SSLContext:
        with self._lock:
            context = self._contexts.get(verify)
        if context is None:
            context = _ssl_context(verify)
            with self._lock:
                self._contexts[verify] = context
        return context


def _tunnel(sock: socket.socket, host: str, port: int, proxy_auth: str | None) -> None:
    """Ask the proxy on ``sock`` for a tunnel to ``host:port`` (``CONNECT``)."""
    where = authority(host, port, "")
    headers = {"Proxy-Authorization": proxy_auth} if proxy_auth else {}
    sock.sendall(request_head("CONNECT", where, where, headers))
    with sock.makefile("rb") as reader:  # a 2xx answer to CONNECT has no body: nothing is lost
        head = read_final_head(reader)
    if not 200 <= head.status < 300:
        raise ConnectFailed(f"the proxy answered {head.status} {head.reason} to CONNECT {where}")


def _ssl_context(verify: Verify) -> ssl.SSLContext:
    """``True``: the system's CAs and certifi's (what requests trusted); a path: that CA file;
    ``False``: no verification (only ever chosen for a loopback registry)."""
    import ssl  # only for a TLS registry: importing it costs 20 ms of start-up

    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    context = ssl.create_default_context()
    try:
        import certifi  # what requests verified against; the system's CAs stay trusted too

        context.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError):
        pass
    return context


def _failure(exc: BaseException) -> HttpError:
    ssl = sys.modules.get("ssl")  # imported by the first TLS connection, if there was one
    if ssl is not None and isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return TlsFailed(" ".join(str(exc).split())[:200])
    if isinstance(exc, TimeoutError):
        return TimedOut(type(exc).__name__)
    if isinstance(exc, ProtocolError):
        return ConnectFailed(str(exc))
    return ConnectFailed(type(exc).__name__)


def _proxy_for(scheme: str, host: str) -> _Proxy | None:
    """The proxy ``HTTPS_PROXY``/``HTTP_PROXY`` (and ``NO_PROXY``) name for ``host``: host, port
    and the Proxy-Authorization of its user:password. Never for a loopback registry."""
    if is_loopback_host(host) or not any(k.lower().endswith("_proxy") for k in os.environ):
        return None
    import urllib.request  # only with proxies configured: it is a heavy import

    proxies = urllib.request.getproxies_environment()
    url = proxies.get(scheme) or proxies.get("all")
    if not url or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    auth = None
    if parts.username is not None:
        import base64

        raw = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(raw).decode()
    return (parts.hostname or "", parts.port or 80, auth)
