"""A loopback HTTP proxy of our own in front of the real registry, to inject faults.

It forwards every method with its body (blob uploads included: ``Content-Length`` or chunked)
and keeps the client's ``Host`` header, so the registry's upload ``Location`` URLs name the proxy
and every request of a push passes through it. Before forwarding it runs, in order, the one-shot
``faults`` (one per request) and the ``handler``; either may answer the request itself. When the
registry behind it is down, the proxy drops the connection, as a dead registry would.

Used by tests/test_registry_faults.py and the reliability suites (``tests/reliability/``).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

#: A fault returns True when it answered the request itself; False lets the proxy forward.
Fault = Callable[[BaseHTTPRequestHandler], bool]
HOP_BY_HOP = frozenset(
    {"transfer-encoding", "connection", "content-encoding", "keep-alive", "content-length"}
)


def _read_body(h: BaseHTTPRequestHandler) -> bytes | None:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size = int(h.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(h.rfile.read(size))
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else None


class Proxy:
    """A tiny HTTP server in a thread in front of ``upstream`` (``http://host:port``)."""

    def __init__(self, upstream: str | None = None, port: int = 0) -> None:
        self.upstream = upstream
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self.handler: Fault | None = None
        self.session = requests.Session()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.serve(self)

            do_HEAD = do_DELETE = do_PUT = do_POST = do_PATCH = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append(f"{h.command} {h.path}")
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None and fault(h):
            return
        if self.handler is not None and self.handler(h):
            return
        self.forward(h)

    def forward(self, h: BaseHTTPRequestHandler) -> None:
        assert self.upstream, "no upstream and nothing answered"
        body = _read_body(h)
        # Repeated headers (skopeo sends one Accept per media type) are joined, not collapsed.
        headers = {
            name: ", ".join(h.headers.get_all(name) or [])
            for name in dict.fromkeys(h.headers.keys())
            if name.lower() not in HOP_BY_HOP | {"expect"}
        }
        try:
            resp = requests.request(
                h.command,
                f"{self.upstream}{h.path}",
                headers=headers,
                data=body,
                timeout=60,
                allow_redirects=False,
            )
        except requests.ConnectionError:
            drop(h)  # the registry is down: so is the proxy, as far as a client can tell
            return
        h.send_response(resp.status_code)
        for name, value in resp.headers.items():
            if name.lower() not in HOP_BY_HOP:
                h.send_header(name, value)
        length = resp.headers.get("Content-Length") if h.command == "HEAD" else None
        h.send_header("Content-Length", length or str(len(resp.content)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(resp.content)

    def reset(self) -> None:
        with self._lock:
            self.faults = []
            self.handler = None
            self.requests = []

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Fault:
    """A fault that answers ``status`` with ``body`` (the body is left out for HEAD)."""

    def fault(h: BaseHTTPRequestHandler) -> bool:
        _read_body(h)
        h.send_response(status)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)
        return True

    return fault


def drop(h: BaseHTTPRequestHandler) -> bool:
    """Close the connection without answering."""
    h.close_connection = True
    with contextlib.suppress(OSError):
        h.connection.shutdown(2)
    return True


def delay(seconds: float) -> Fault:
    """Answer late (then forward): a slow registry."""

    def fault(h: BaseHTTPRequestHandler) -> bool:
        time.sleep(seconds)
        return False

    return fault


@dataclass
class Schedule:
    """A seeded fault at a bounded random point: from request number ``start`` on (0-based),
    ``count`` requests (``None``: all the rest) get ``fault``; ``on_start`` runs once when the
    fault begins (e.g. to kill the registry behind the proxy)."""

    start: int
    fault: Fault
    count: int | None = None
    on_start: Callable[[], None] | None = None
    seen: int = 0
    hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, h: BaseHTTPRequestHandler) -> bool:
        with self._lock:
            number = self.seen
            self.seen += 1
            active = number >= self.start and (self.count is None or self.hits < self.count)
            if active:
                self.hits += 1
                first = self.hits == 1
        if not active:
            return False
        if first and self.on_start is not None:
            self.on_start()
        return self.fault(h)


def random_schedule(rng: random.Random, requests_in_clean_run: int, kind: str) -> Schedule:
    """A fault of ``kind`` at a random request of a run that makes about that many requests."""
    start = rng.randrange(max(1, requests_in_clean_run))
    faults: dict[str, tuple[Fault, int | None]] = {
        "500": (answer(500, b'{"errors":[{"code":"UNKNOWN","message":"injected"}]}'), None),
        "503-burst": (answer(503, b"busy"), rng.randint(1, 3)),
        "429": (answer(429, b"slow down", {"Retry-After": "1"}), None),
        "429-once": (answer(429, b"slow down", {"Retry-After": "1"}), 1),
        "drop": (drop, None),
        "drop-once": (drop, 1),
        "delay": (delay(rng.uniform(0.2, 0.8)), rng.randint(2, 6)),
    }
    fault, count = faults[kind]
    return Schedule(start=start, fault=fault, count=count)
