"""The local registry: the real distribution registry (``docker-registry serve``) on loopback.

Used by the ``local`` target and by the tests. Everything it owns lives under one root directory
(default ``build/registry/``): the config, the storage, the log, a pid file and a state file
(port, url) that ``status`` and ``stop`` read, so a registry started by one command can be found
and stopped by the next.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from pipeline.core.errors import SetupError, ToolError
from pipeline.core.locks import file_lock
from pipeline.tools.run import run, tool_env

log = logging.getLogger("pipeline.registry_server")

BINARY = "/usr/bin/docker-registry"
DEFAULT_ROOT = Path("build/registry")
LOOPBACK = "127.0.0.1"
PID_FILE = "registry.pid"
STATE_FILE = "registry.json"
CONFIG_FILE = "config.yml"
LOG_FILE = "registry.log"
LOCK_FILE = "registry.lock"

# Popen children of this process, so ``stop`` can reap them (no zombie keeps the pid alive).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class BasicAuth:
    """htpasswd credentials for the registry. The password never shows in ``repr``."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class TLSFiles:
    """A certificate (PEM, also the CA to trust for a self-signed one) and its key."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class RegistryServer:
    root: Path
    pid: int
    port: int
    url: str
    host: str = LOOPBACK
    tls_cert: Path | None = None
    auth_user: str | None = None

    @property
    def address(self) -> str:
        """``host:port``, the registry part of an image reference."""
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / LOG_FILE


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could listen on ``port`` now.

    With SO_REUSEADDR, as the registry's own Go listener has: connections of a server that just
    stopped linger in TIME_WAIT on its port for a minute, and without the option they would make
    a free port look taken (a registry restarted on its port after a crash).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def make_self_signed_cert(
    directory: Path, hosts: tuple[str, ...] = (LOOPBACK, "localhost")
) -> TLSFiles:
    """A self-signed certificate valid for ``hosts`` (IPs as IP SANs), made with ``openssl``."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "registry.crt", directory / "registry.key"
    sans = ",".join(
        f"IP:{h}" if h.replace(".", "").isdigit() or ":" in h else f"DNS:{h}" for h in hosts
    )
    run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
            "-days", "30", "-subj", f"/CN={hosts[0]}",
            "-addext", f"subjectAltName={sans}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-keyout", str(key), "-out", str(cert),
        ]
    )  # fmt: skip
    key.chmod(0o600)
    return TLSFiles(cert, key)


def _htpasswd_line(auth: BasicAuth) -> str:
    import bcrypt  # only needed when auth is asked for

    if ":" in auth.username or not auth.username:
        raise SetupError("registry username must be non-empty and hold no ':'")
    hashed = bcrypt.hashpw(auth.password.encode(), bcrypt.gensalt(rounds=10)).decode()
    return f"{auth.username}:{hashed}\n"


def _config(
    root: Path, port: int, auth: BasicAuth | None, tls: TLSFiles | None
) -> dict[str, object]:
    http: dict[str, object] = {
        "addr": f"{LOOPBACK}:{port}",
        # A fixed secret keeps upload state valid across restarts and silences a warning.
        "secret": secrets.token_hex(16),
        "headers": {"X-Content-Type-Options": ["nosniff"]},
    }
    if tls is not None:
        http["tls"] = {"certificate": str(tls.cert), "key": str(tls.key)}
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "fields": {"service": "registry"}},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "storage")},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": http,
    }
    if auth is not None:
        config["auth"] = {
            "htpasswd": {"realm": "pipeline-registry", "path": str(root / "htpasswd")}
        }
    return config


def _pid_is_ours(pid: int, root: Path) -> bool:
    """True when ``pid`` is a docker-registry serving this root's config (not a reused pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    config = str((root / CONFIG_FILE).resolve()).encode()
    return bool(argv) and argv[0].endswith(b"docker-registry") and config in argv


def _read_state(root: Path) -> RegistryServer | None:
    try:
        data = json.loads((root / STATE_FILE).read_text())
        pid = int((root / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        return RegistryServer(
            root=root,
            pid=pid,
            port=int(data["port"]),
            url=str(data["url"]),
            tls_cert=Path(data["tls_cert"]) if data.get("tls_cert") else None,
            auth_user=data.get("auth_user"),
        )
    except (KeyError, TypeError, ValueError):
        return None


def status(root: Path = DEFAULT_ROOT) -> RegistryServer | None:
    """The registry running for ``root``, or None."""
    root = root.resolve()
    server = _read_state(root)
    if server is None or not _pid_is_ours(server.pid, root):
        return None
    child = _children.get(server.pid)
    if child is not None and child.poll() is not None:
        return None
    return server


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(server: RegistryServer, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    verify: bool | str = str(server.tls_cert) if server.tls_cert else False
    problem = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ToolError(
                f"docker-registry exited ({proc.returncode}) at start: "
                f"{_log_tail(server.log_path)}",
                argv=list(map(str, proc.args)) if isinstance(proc.args, list) else [],
                returncode=proc.returncode,
                hint=f"see {server.log_path}",
            )
        try:
            resp = requests.get(f"{server.url}/v2/", timeout=2, verify=verify)
            resp.close()
            if resp.status_code in (200, 401):
                return
            problem = f"HTTP {resp.status_code}"
        except (requests.RequestException, OSError) as exc:
            problem = type(exc).__name__
        time.sleep(0.1)
    _terminate(proc.pid)
    raise ToolError(
        f"docker-registry did not answer /v2/ within {seconds:g}s ({problem})",
        hint=f"see {server.log_path}",
    )


def start(
    root: Path = DEFAULT_ROOT,
    port: int | None = None,
    auth: BasicAuth | None = None,
    tls: TLSFiles | bool | None = None,
    *,
    wait_seconds: float = 20.0,
) -> RegistryServer:
    """Start a registry for ``root`` (or return the one already running there).

    ``tls=True`` makes a self-signed certificate under ``root/tls``; ``auth`` turns on htpasswd
    basic auth. Returns once ``/v2/`` answers.
    """
    root = root.resolve()
    # Start and stop of one root are serialised (across processes and threads): otherwise a
    # stop still shutting the old server down can remove the state files of a server started
    # meanwhile on the same port, which then runs on unseen and holds the port.
    with file_lock(root / LOCK_FILE):
        return _start(root, port, auth, tls, wait_seconds)


def _start(
    root: Path,
    port: int | None,
    auth: BasicAuth | None,
    tls: TLSFiles | bool | None,
    wait_seconds: float,
) -> RegistryServer:
    running = status(root)
    if running is not None:
        if port is None or port == running.port:
            return running
        raise SetupError(
            f"a registry for {root} already runs on port {running.port}",
            hint="stop it first (python -m pipeline registry stop)",
        )
    if not Path(BINARY).exists():
        raise SetupError(
            f"{BINARY} not found",
            hint="install the Debian package docker-registry (nox -s setup-host)",
        )
    (root / "storage").mkdir(parents=True, exist_ok=True)
    tls_files = make_self_signed_cert(root / "tls") if tls is True else (tls or None)
    port = _prepare(root, port, auth, tls_files)
    proc = _spawn(root)
    server = RegistryServer(
        root=root,
        pid=proc.pid,
        port=port,
        url=f"{'https' if tls_files else 'http'}://{LOOPBACK}:{port}",
        tls_cert=tls_files.cert if tls_files else None,
        auth_user=auth.username if auth else None,
    )
    _write_state(server)
    _wait_ready(server, proc, wait_seconds)
    log.info("registry for %s listening on %s (pid %d)", root, server.url, proc.pid)
    return server


def _prepare(
    root: Path, port: int | None, auth: BasicAuth | None, tls_files: TLSFiles | None
) -> int:
    """Write the registry's config (and htpasswd) under ``root``; return the port it will use."""
    if tls_files is not None:
        for path in (tls_files.cert, tls_files.key):
            if not path.is_file():
                raise SetupError(f"{path}: TLS file not found")
    if auth is not None:
        htpasswd = root / "htpasswd"
        htpasswd.write_text(_htpasswd_line(auth))
        htpasswd.chmod(0o600)
    if port is None:
        port = free_port()
    elif not _port_free(port):
        # Checked first: otherwise the other server answering /v2/ would look like ours.
        raise SetupError(
            f"port {port} on {LOOPBACK} is in use", hint="choose another port or leave it unset"
        )
    config_path = root / CONFIG_FILE
    # JSON is YAML, and writing it needs no YAML emitter.
    config_path.write_text(json.dumps(_config(root, port, auth, tls_files), indent=2) + "\n")
    config_path.chmod(0o600)
    return port


def _spawn(root: Path) -> subprocess.Popen[bytes]:
    argv = [BINARY, "serve", str(root / CONFIG_FILE)]
    log.debug("$ %s", " ".join(argv))
    with open(root / LOG_FILE, "ab") as logfile:
        # Not run(): run() waits for the command to finish, and a server does not finish.
        # Same rules as run() otherwise: an argv list and the minimal tool_env() environment.
        proc = subprocess.Popen(  # noqa: S603 - argv list, never a shell
            argv,
            env=tool_env(),
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            cwd=root,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    return proc


def _write_state(server: RegistryServer) -> None:
    (server.root / PID_FILE).write_text(f"{server.pid}\n")
    state = {
        "pid": server.pid,
        "port": server.port,
        "url": server.url,
        "tls_cert": str(server.tls_cert) if server.tls_cert else None,
        "auth_user": server.auth_user,
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    (server.root / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")


def _terminate(pid: int, grace: float = 10.0) -> None:
    child = _children.pop(pid, None)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if child is not None:
            if child.poll() is not None:
                return
        elif not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if child is not None:
        child.wait(timeout=5)


def garbage_collect(root: Path = DEFAULT_ROOT) -> None:
    """Remove the blobs no manifest references any more (after manifests were deleted).

    The registry must not serve ``root`` meanwhile: a blob uploaded during the sweep could be
    removed (the distribution registry's documented restriction), so callers stop it first.
    """
    config = root.resolve() / CONFIG_FILE
    if not config.is_file():
        raise SetupError(f"{config} not found", hint="start the registry once first")
    run([BINARY, "garbage-collect", str(config)], timeout=600)


def stop(root: Path = DEFAULT_ROOT) -> bool:
    """Stop the registry of ``root``. False when none was running (stale files are removed)."""
    root = root.resolve()
    if not root.is_dir():
        return False
    with file_lock(root / LOCK_FILE):  # see start()
        server = _read_state(root)
        stopped = False
        if server is not None and _pid_is_ours(server.pid, root):
            _terminate(server.pid)
            stopped = True
        elif server is not None:
            log.info("registry pid %d of %s is not running any more", server.pid, root)
        for name in (PID_FILE, STATE_FILE):
            (root / name).unlink(missing_ok=True)
        return stopped
