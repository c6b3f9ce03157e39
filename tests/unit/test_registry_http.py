"""The registry client's HTTP (``registry/http.py``) against stand-in servers on loopback
(``http.server`` in a thread), and the adaptive per-registry limit (``registry/limiter.py``)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.images.registry.http import (
    ConnectFailed,
    Session,
    TimedOut,
    TooManyRedirects,
)
from pipeline.images.registry.limiter import HOLD_SECONDS, AdaptiveLimit

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
