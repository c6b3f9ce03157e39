"""The registry client's HTTP (``registry/http.py``) against stand-in servers on loopback
(``http.server`` in a thread), and the adaptive per-registry limit (``registry/limiter.py``)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.images.registry import http as registry_http
from pipeline.images.registry.http import (
    ConnectFailed,
    Session,
    TimedOut,
    TooManyRedirects,
)
from pipeline.images.registry.limiter import HOLD_SECONDS, AdaptiveLimit
from pipeline.tools.registry_server import make_self_signed_cert

Handler = Callable[[BaseHTTPRequestHandler], None]


class Server:
    """A loopback HTTP/1.1 server whose every request is answered by ``handle``; it counts the
    connections it accepted."""

    def __init__(self, handle: Handler) -> None:
        server = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server.lock:
                    server.connections += 1

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                handle(self)

            do_HEAD = do_GET

        self.lock = threading.Lock()
        self.connections = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        poll = {"poll_interval": 0.02}  # shutdown() waits up to one poll
        threading.Thread(target=self.httpd.serve_forever, kwargs=poll, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def serving(handle: Handler) -> Iterator[Server]:
    server = Server(handle)
    try:
        yield server
    finally:
        server.close()


def reply(h: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    h.send_response(status)
    for name, value in headers.items():
        h.send_header(name.replace("_", "-"), value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


def session() -> Session:
    return Session(pool_size=4, user_agent="test")


def test_connections_are_kept_and_reused() -> None:
    with serving(lambda h: reply(h, 200, b"hello", Link='</v2/x?last=a>; rel="next"')) as srv:
        client = session()
        for _ in range(3):
            resp = client.request("GET", f"{srv.url}/v2/", timeout=5)
            assert resp.status_code == 200 and resp.content == b"hello"
        head = client.request("HEAD", f"{srv.url}/v2/", timeout=5)
        assert head.content == b"" and head.headers.get("content-length") == "5"
        assert resp.links == {"next": {"url": "/v2/x?last=a", "rel": "next"}}
        client.close()
    assert srv.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_unnoticed() -> None:
    def close_after(h: BaseHTTPRequestHandler) -> None:
        reply(h, 200, b"ok")
        h.close_connection = True  # no "Connection: close": the client learns on reuse

    with serving(close_after) as srv:
        client = session()
        answers = [client.request("GET", f"{srv.url}/v2/", timeout=5).content for _ in range(3)]
        client.close()
    assert answers == [b"ok"] * 3 and srv.connections == 3


def test_a_chunked_answer_is_read_whole() -> None:
    def chunked(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for part in (b'{"tags": ', b'["1.0"]}'):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        h.wfile.write(b"0\r\n\r\n")

    with serving(chunked) as srv:
        client = session()
        assert client.request("GET", f"{srv.url}/v2/t", timeout=5).json() == {"tags": ["1.0"]}
        streamed = client.request("GET", f"{srv.url}/v2/t", timeout=5, stream=True)
        with streamed:
            assert b"".join(streamed.iter_content(3)) == b'{"tags": ["1.0"]}'
        client.close()


def test_redirects_keep_authorization_only_within_the_origin() -> None:
    seen: list[tuple[str, str | None]] = []

    def echo(h: BaseHTTPRequestHandler) -> None:
        seen.append((h.path, h.headers.get("Authorization")))
        reply(h, 200, b"blob")

    with serving(echo) as storage:

        def redirect(h: BaseHTTPRequestHandler) -> None:
            seen.append((h.path, h.headers.get("Authorization")))
            target = "/v2/here" if h.path == "/v2/start" else f"{storage.url}/blob"
            reply(h, 307, Location=target)

        with serving(redirect) as registry:
            client = session()
            got = client.request(
                "GET", f"{registry.url}/v2/start", headers={"Authorization": "Bearer t"}, timeout=5
            )
            client.close()
    assert got.content == b"blob" and got.url == f"{storage.url}/blob"
    assert seen == [("/v2/start", "Bearer t"), ("/v2/here", "Bearer t"), ("/blob", None)]


def test_a_redirect_loop_and_a_dead_port_and_a_silent_server_are_named() -> None:
    with (
        serving(lambda h: reply(h, 307, Location=h.path)) as srv,
        contextlib.closing(session()) as client,
        pytest.raises(TooManyRedirects),
    ):
        client.request("GET", f"{srv.url}/v2/", timeout=5)
    with contextlib.closing(session()) as client, pytest.raises(ConnectFailed) as dead:
        client.request("GET", "http://127.0.0.1:9/v2/", timeout=5)
    assert dead.value.kind == "connection failed" and "Refused" in dead.value.detail
    with serving(lambda h: time.sleep(1.0)) as srv, contextlib.closing(session()) as client:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            client.request("GET", f"{srv.url}/v2/", timeout=0.2)
        assert time.monotonic() - started < 0.9


def serve_each(listener: socket.socket, handle: Callable[[socket.socket], None]) -> None:
    """Accept connections on ``listener`` in a thread, each handled by ``handle``, until the
    listener is closed."""

    def loop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            handle(conn)

    threading.Thread(target=loop, daemon=True).start()


def read_head(conn: socket.socket) -> bytes:
    """A request head, byte by byte: what follows it stays unread (a tunnel's TLS)."""
    head = b""
    while b"\r\n\r\n" not in head and (part := conn.recv(1)):
        head += part
    return head


@contextlib.contextmanager
def raw_server(answer: Callable[[bytes], bytes]) -> Iterator[str]:
    """A loopback server that reads each connection's request head, sends ``answer(head)``
    as it is and closes: for answers ``http.server`` would not send."""
    listener = socket.create_server(("127.0.0.1", 0))

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.sendall(answer(read_head(conn)))

    serve_each(listener, handle)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_answers_framed_by_the_close_or_malformed_are_read_or_named() -> None:
    answers = {
        "/close": b"HTTP/1.0 200 OK\r\nX-Folded: a\r\n b\r\n\r\nto the end",
        "/bad-status": b"HELLO\r\n\r\n",
        "/bad-length": b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        "/short": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        "/bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    }
    with raw_server(lambda head: answers[head.split()[1].decode()]) as url:
        client = session()
        whole = client.request("GET", f"{url}/close", timeout=5)
        assert whole.content == b"to the end" and whole.headers["x-folded"] == "a b"
        assert client.request("GET", f"{url}/continue", timeout=5).status_code == 204
        for path, named in (
            ("/bad-status", "not an HTTP/1 status line"),
            ("/bad-length", "a Content-Length that is not a number"),
            ("/short", "the answer ended early"),
            ("/bad-chunk", "a chunk size that is not hexadecimal"),
        ):
            with pytest.raises(ConnectFailed, match=named):
                client.request("GET", f"{url}{path}", timeout=5)
        client.close()


def test_a_plain_http_proxy_is_sent_the_absolute_form_and_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    def proxy(h: BaseHTTPRequestHandler) -> None:
        seen.append((h.path, h.headers.get("Host"), h.headers.get("Proxy-Authorization")))
        reply(h, 200, b"via proxy")

    with serving(proxy) as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        monkeypatch.setattr(
            registry_http, "_proxy_for", lambda scheme, host: ("127.0.0.1", port, "Basic eA==")
        )
        client = session()
        got = client.request("GET", "http://registry.example:5000/v2/", timeout=5)
        client.close()
    assert got.content == b"via proxy"
    assert seen == [("http://registry.example:5000/v2/", "registry.example:5000", "Basic eA==")]


@contextlib.contextmanager
def connect_proxy(refuse: bool = False) -> Iterator[tuple[int, list[bytes]]]:
    """A CONNECT proxy on loopback: it records each request head, then relays both ways (or
    answers 407 when ``refuse``)."""
    listener = socket.create_server(("127.0.0.1", 0))
    heads: list[bytes] = []
    opened: list[socket.socket] = []  # closed on the way out, whichever relay ends first

    def relay(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def handle(conn: socket.socket) -> None:
        opened.append(conn)
        head = read_head(conn)
        heads.append(head)
        if refuse:
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            conn.close()
            return
        host, port = head.split()[1].decode().rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        opened.append(upstream)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=relay, args=(conn, upstream), daemon=True).start()
        threading.Thread(target=relay, args=(upstream, conn), daemon=True).start()

    serve_each(listener, handle)
    try:
        yield listener.getsockname()[1], heads
    finally:
        listener.close()
        for sock in opened:
            sock.close()


def test_https_through_a_proxy_is_a_tunnel_verified_against_the_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = make_self_signed_cert(tmp_path)
    with serving(lambda h: reply(h, 200, b"secret")) as srv:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert, tls.key)
        srv.httpd.socket = context.wrap_socket(srv.httpd.socket, server_side=True)
        origin = srv.url.replace("http://", "https://") + "/v2/"
        for refuse in (False, True):
            with connect_proxy(refuse) as (port, heads):
                proxy = ("127.0.0.1", port, "Basic eA==")
                monkeypatch.setattr(registry_http, "_proxy_for", lambda scheme, host, p=proxy: p)
                client = session()
                if refuse:
                    authority = origin.split("/")[2]
                    refused = f"the proxy answered 407 .* to CONNECT {authority}$"
                    with pytest.raises(ConnectFailed, match=refused):
                        client.request("GET", origin, timeout=5, verify=str(tls.cert))
                else:
                    got = client.request("GET", origin, timeout=5, verify=str(tls.cert))
                    assert got.content == b"secret"
                client.close()
            authority = origin.split("/")[2]
            assert heads[0].startswith(f"CONNECT {authority} HTTP/1.1\r\n".encode())
            assert b"Proxy-Authorization: Basic eA==" in heads[0]


# --------------------------------------------------------------------------- the limit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_push_back_halves_the_limit_once_per_round_then_it_grows_to_below_there() -> None:
    clock = Clock()
    limit = AdaptiveLimit(8, clock=clock)
    with contextlib.ExitStack() as stack:
        answers = [stack.enter_context(limit.slot()) for _ in range(8)]
        for answer in answers[:3]:
            answer(True)  # three 429s from one round of requests: one cut
    assert (limit.limit, limit.cuts) == (4, 1)
    with limit.slot() as answer:
        answer(True)  # sent after the cut: the registry still pushes back
    assert (limit.limit, limit.cuts) == (2, 2)
    for _ in range(50):
        with limit.slot() as answer:
            answer(False)
    assert limit.limit == 3, "grows back to just below where the registry pushed back"
    clock.now += HOLD_SECONDS + 1
    for _ in range(50):
        with limit.slot() as answer:
            answer(False)
    assert limit.limit == 8, "after a quiet while, up to the ceiling again"


def test_requests_beyond_the_limit_wait_for_a_slot() -> None:
    limit = AdaptiveLimit(2)
    entered = threading.Event()

    def third() -> None:
        with limit.slot():
            entered.set()

    with limit.slot(), limit.slot():
        waiting = threading.Thread(target=third)
        waiting.start()
        assert not entered.wait(0.2), "a third request went past a limit of 2"
    assert entered.wait(5)
    waiting.join()
