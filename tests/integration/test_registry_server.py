"""Start, find and stop the real docker-registry by its own pid and state files."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from pipeline.core.errors import SetupError, ToolError
from pipeline.tools import registry_server
from tests.support.tools import need_tool

pytestmark = pytest.mark.tools


def test_start_status_stop(tmp_path: Path) -> None:
    need_tool(registry_server.BINARY)
    root = tmp_path / "reg"
    server = registry_server.start(root)
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert requests.get(f"{server.url}/v2/", timeout=5).status_code == 200
        state = json.loads((root / "registry.json").read_text())
        assert (state["port"], state["url"], state["pid"]) == (server.port, server.url, server.pid)
        assert int((root / "registry.pid").read_text()) == server.pid
        assert registry_server.status(root) == server
        # Starting again finds the running one instead of starting a second.
        assert registry_server.start(root) == server
        with pytest.raises(SetupError, match="already runs on port"):
            registry_server.start(root, port=server.port + 1)
        # Its log goes to a file under root, and storage and config live there too.
        assert "GET /v2/" in server.log_path.read_text()
        config = json.loads((root / "config.yml").read_text())
        assert config["storage"]["delete"] == {"enabled": True}
        assert config["http"]["addr"] == f"127.0.0.1:{server.port}"
    finally:
        assert registry_server.stop(root) is True
    assert registry_server.status(root) is None
    assert not (root / "registry.pid").exists()
    assert (
        not Path(f"/proc/{server.pid}").exists()
        or not Path(f"/proc/{server.pid}/cmdline").read_bytes()
    )
    assert registry_server.stop(root) is False
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/v2/", timeout=2)


def test_a_port_left_in_time_wait_is_free() -> None:
    """A server that closed its connections first leaves them in TIME_WAIT on its port; a
    registry restarted there (its Go listener sets SO_REUSEADDR) can listen, so the check must
    say free. Without SO_REUSEADDR in the check, every restart after a kill failed for 60 s."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()  # the server side closes first: its end goes to TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()
    assert registry_server._port_free(port)
    # A port someone listens on is still taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert not registry_server._port_free(busy.getsockname()[1])


def test_start_during_a_slow_stop_waits_for_it(tmp_path: Path) -> None:
    """A stop in another thread (the fault proxy's "kill") and a restart on the same port: the
    restart must wait, so the stop cannot remove the new server's state files and orphan it."""
    need_tool(registry_server.BINARY)
    root = tmp_path / "reg"
    old = registry_server.start(root)
    # A stopped process ignores SIGTERM until SIGKILL, so this stop takes its whole grace time.
    os.kill(old.pid, signal.SIGSTOP)
    stopper = threading.Thread(target=registry_server.stop, args=(root,))
    stopper.start()
    time.sleep(0.5)
    new = registry_server.start(root, port=old.port)
    stopper.join()
    try:
        assert new.pid != old.pid
        assert registry_server.status(root) == new
        assert requests.get(f"{new.url}/v2/", timeout=5).status_code == 200
    finally:
        assert registry_server.stop(root) is True


def test_stop_never_kills_a_pid_that_is_not_its_registry(tmp_path: Path) -> None:
    root = tmp_path / "stale"
    root.mkdir()
    # A stale pid file naming a live process that is not the registry: this test process.
    (root / "registry.pid").write_text(f"{os.getpid()}\n")
    (root / "registry.json").write_text(json.dumps({"port": 1, "url": "http://127.0.0.1:1"}))
    assert registry_server.status(root) is None
    assert registry_server.stop(root) is False
    assert not (root / "registry.pid").exists()  # stale files are cleaned up


def test_basic_auth_and_tls(tmp_path: Path) -> None:
    need_tool(registry_server.BINARY)
    need_tool("openssl")
    root = tmp_path / "secure"
    auth = registry_server.BasicAuth("alice", "wonderland-pw")
    assert "wonderland-pw" not in repr(auth)
    server = registry_server.start(root, auth=auth, tls=True)
    try:
        assert server.url.startswith("https://") and server.tls_cert is not None
        url, ca = f"{server.url}/v2/", str(server.tls_cert)
        assert requests.get(url, verify=ca, timeout=5).status_code == 401
        assert requests.get(url, verify=ca, auth=("alice", "wonderland-pw"), timeout=5).ok
        assert requests.get(url, verify=ca, auth=("alice", "x"), timeout=5).status_code == 401
        assert "wonderland-pw" not in (root / "htpasswd").read_text()
        assert "wonderland-pw" not in (root / "registry.json").read_text()
    finally:
        registry_server.stop(root)


def test_a_registry_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    need_tool(registry_server.BINARY)
    first = registry_server.start(tmp_path / "a")
    try:
        with pytest.raises(SetupError, match=f"port {first.port} on 127.0.0.1 is in use"):
            registry_server.start(tmp_path / "b", port=first.port, wait_seconds=10)
    finally:
        registry_server.stop(tmp_path / "a")
    assert registry_server.status(tmp_path / "b") is None
    # A config docker-registry refuses: it exits, and the error quotes its log.
    bad = tmp_path / "c"
    bad.mkdir()
    (bad / "bad.crt").write_text("not a certificate")
    (bad / "bad.key").write_text("not a key")
    with pytest.raises(ToolError) as info:
        registry_server.start(bad, tls=registry_server.TLSFiles(bad / "bad.crt", bad / "bad.key"))
    assert "docker-registry exited" in info.value.message
    with pytest.raises(SetupError, match="TLS file not found"):
        registry_server.start(bad, tls=registry_server.TLSFiles(bad / "no.crt", bad / "no.key"))


def test_need_tool_fails_under_ci_and_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = "no-such-tool-for-pipeline-tests"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"host tool '{missing}' is not installed"):
        need_tool(missing)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        need_tool(missing)
    assert need_tool("sh").endswith("/sh")
