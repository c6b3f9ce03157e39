"""Registry authentication: where credentials come from, what a ``WWW-Authenticate`` challenge
asks for, and the ``Authorization`` header that answers it (basic, or a bearer token fetched from
the challenge's realm and cached until it expires).

Credentials and tokens live in objects whose repr hides them, and no message here names more
than the username.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pipeline.core.errors import RegistryError
from pipeline.images.reference import DOCKER_HUB, ImageReference, is_loopback_host
from pipeline.images.registry.http import Response
from pipeline.images.registry.transport import Transport, describe_error_body

log = logging.getLogger("pipeline.images.registry.auth")


@dataclass(frozen=True)
class Credentials:
    """A username and password. The password never shows in ``repr`` or ``str``."""

    username: str
    password: str = field(repr=False)
    source: str = ""

    def __str__(self) -> str:
        return f"{self.username} (from {self.source or 'the caller'})"


def _basic(creds: Credentials) -> str:
    import base64  # only with credentials: an anonymous audit starts without it

    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


# --------------------------------------------------------------------------- credentials


def auth_files(env: Mapping[str, str] | None = None) -> list[Path]:
    """The auth files the container tools read, in the order they read them."""
    env = os.environ if env is None else env
    files: list[Path] = []
    if env.get("REGISTRY_AUTH_FILE"):
        files.append(Path(env["REGISTRY_AUTH_FILE"]))
    if env.get("XDG_RUNTIME_DIR"):
        files.append(Path(env["XDG_RUNTIME_DIR"]) / "containers/auth.json")
    home = env.get("HOME") or str(Path.home())
    files.append(Path(home) / ".docker/config.json")
    return files


def _normalize_auth_key(key: str) -> str:
    key = re.sub(r"^[a-z]+://", "", key.strip())
    key = re.sub(r"/v[12]/?$", "", key).rstrip("/")
    host, sep, rest = key.partition("/")
    if host in ("index.docker.io", "registry-1.docker.io"):
        host = DOCKER_HUB
    return host + sep + rest


def _decode_entry(entry: Any, where: str) -> Credentials | None:
    import base64
    import binascii

    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            log.warning("%s: an 'auth' entry is not base64 of user:password; ignored", where)
            return None
        if sep:
            return Credentials(user, password, where)
    if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
        return Credentials(entry["username"], entry["password"], where)
    return None


def _auths_of(path: Path) -> dict[str, Any] | None:
    """The ``auths`` map of an auth file by normalised key; None if the file is not there
    or holds no such map."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RegistryError(
            f"{path}: cannot read auth file: {type(exc).__name__}",
            hint="fix or remove it; it must be JSON with an 'auths' map",
        ) from None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return None
    return {_normalize_auth_key(k): v for k, v in auths.items() if isinstance(k, str)}


def find_credentials(
    registry: str, repository: str = "", env: Mapping[str, str] | None = None
) -> Credentials | None:
    """Credentials for ``registry`` (most specific ``auths`` key first), from the auth files in
    order, then ``PIPELINE_REGISTRY_USERNAME``/``PIPELINE_REGISTRY_PASSWORD``."""
    env = os.environ if env is None else env
    parts = repository.split("/") if repository else []
    wanted = [f"{registry}/{'/'.join(parts[:n])}" for n in range(len(parts), 0, -1)]
    wanted.append(registry)
    for path in auth_files(env):
        by_key = _auths_of(path) or {}
        for key in wanted:
            if key in by_key:
                creds = _decode_entry(by_key[key], str(path))
                if creds is not None:
                    return creds
    user = env.get("PIPELINE_REGISTRY_USERNAME")
    password = env.get("PIPELINE_REGISTRY_PASSWORD")
    if user and password is not None:
        return Credentials(user, password, "PIPELINE_REGISTRY_USERNAME/PASSWORD")
    return None


# --------------------------------------------------------------------------- challenges


@dataclass(frozen=True)
class Challenge:
    """A registry's ``WWW-Authenticate`` challenge: the scheme and its parameters."""

    scheme: str  # "basic" or "bearer"
    params: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str | None:
        return dict(self.params).get(name)


_PARAM = re.compile(r'\s*([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_challenge(header: str) -> Challenge | None:
    """Parse one ``WWW-Authenticate`` value (``Bearer realm="...",service="..."``)."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params: list[tuple[str, str]] = []
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if not match or match.end() == pos:
            break
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params.append((match.group(1).lower(), re.sub(r"\\(.)", r"\1", value)))
        pos = match.end()
    return Challenge(scheme.lower(), tuple(params))


def _challenge_of(resp: Response) -> Challenge | None:
    header = resp.headers.get("WWW-Authenticate", "")
    return parse_challenge(header) if header else None


@dataclass
class _Token:
    """A bearer token and when it expires."""

    value: str = field(repr=False)
    expires: float

    def __repr__(self) -> str:
        return "_Token(<hidden>)"


# --------------------------------------------------------------------------- answering them


class Authenticator:
    """Requests to a repository that answer its registry's auth challenges, safe between threads.

    It remembers each host's last challenge (so later requests carry credentials from the
    start), looks credentials up once per repository, and caches bearer tokens per host and
    scope until they expire.
    """

    def __init__(
        self, transport: Transport, find: Callable[[str, str], Credentials | None]
    ) -> None:
        self._transport = transport
        self._find = find
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._challenges: dict[str, Challenge] = {}
        self._creds_cache: dict[tuple[str, str], Credentials | None] = {}

    def credentials(self, registry: str, repository: str) -> Credentials | None:
        key = (registry, repository)
        with self._lock:
            if key in self._creds_cache:
                return self._creds_cache[key]
        creds = self._find(registry, repository)
        with self._lock:
            self._creds_cache[key] = creds
        return creds

    def request(
        self,
        method: str,
        ref: ImageReference,
        path: str,
        *,
        actions: str = "pull",
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        params: Mapping[str, str] | None = None,
        url: str | None = None,
    ) -> Response:
        """A request to ``ref``'s registry that answers auth challenges (once)."""
        host = ref.api_host
        url = url or f"{self._transport.base_url(host)}/v2/{ref.repository}/{path}"

        def send(auth_header: str | None) -> Response:
            return self._transport.send(
                method,
                url,
                host=host,
                headers=headers,
                auth_header=auth_header,
                stream=stream,
                params=params,
            )

        resp = send(self.header(ref, actions))
        if resp.status_code != 401:
            return resp
        retried_auth = self._answer(resp, f"{method} {url}", ref, actions)
        resp.close()
        resp = send(retried_auth)
        if resp.status_code == 401:
            creds = self.credentials(ref.registry, ref.repository)
            who = f"user {creds}" if creds else "anonymous access"
            raise RegistryError(
                f"{ref.registry}: credentials rejected for {ref.repository} ({who}): "
                f"{describe_error_body(resp)}",
                hint="check the username and password in the auth file",
            )
        return resp

    def _answer(self, resp: Response, what: str, ref: ImageReference, actions: str) -> str:
        """The ``Authorization`` value that answers the challenge of the 401 ``resp``."""
        challenge = _challenge_of(resp)
        if challenge is None:
            raise RegistryError(
                f"{what}: 401 without a usable WWW-Authenticate challenge",
                hint="the server does not look like a registry",
            )
        with self._lock:
            self._challenges[ref.api_host] = challenge
        header = self.header(ref, actions, challenge=challenge, fresh=True)
        if header is None:
            raise RegistryError(
                f"{ref.registry}: authentication required for {ref.repository}, "
                "and no credentials found",
                hint="log in (podman/buildah login, or an entry in REGISTRY_AUTH_FILE, "
                "$XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json) or set "
                "PIPELINE_REGISTRY_USERNAME/PIPELINE_REGISTRY_PASSWORD",
            )
        return header

    def header(
        self,
        ref: ImageReference,
        actions: str,
        *,
        challenge: Challenge | None = None,
        fresh: bool = False,
    ) -> str | None:
        """The ``Authorization`` value for ``ref`` under ``challenge`` (by default the host's
        last one); None when nothing asked for credentials, or there are none for basic.
        ``fresh``: fetch a new token even if one is cached (the registry refused it)."""
        if challenge is None:
            with self._lock:
                challenge = self._challenges.get(ref.api_host)
            if challenge is None:
                return None
        creds = self.credentials(ref.registry, ref.repository)
        if challenge.scheme == "basic":
            return _basic(creds) if creds is not None else None
        if challenge.scheme != "bearer":
            raise RegistryError(f"{ref.registry}: unsupported auth scheme {challenge.scheme!r}")
        return f"Bearer {self._token(ref, actions, challenge, creds, fresh).value}"

    def _token(
        self,
        ref: ImageReference,
        actions: str,
        challenge: Challenge,
        creds: Credentials | None,
        fresh: bool,
    ) -> _Token:
        host = ref.api_host
        own_scope = f"repository:{ref.repository}:{actions}"
        scope = (challenge.get("scope") if fresh else None) or own_scope
        with self._lock:
            token = self._tokens.get((host, scope))
        if token is not None and not fresh and token.expires > time.monotonic():
            return token
        token = self._fetch_token(ref, challenge, scope, creds)
        with self._lock:
            self._tokens[(host, scope)] = token
            # Later requests for the same repository (no challenge param) find it too.
            self._tokens[(host, own_scope)] = token
        return token

    def _fetch_token(
        self, ref: ImageReference, challenge: Challenge, scope: str, creds: Credentials | None
    ) -> _Token:
        realm = challenge.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise RegistryError(f"{ref.registry}: bearer challenge without a usable realm")
        query = {"scope": scope}
        if challenge.get("service"):
            query["service"] = challenge.get("service") or ""
        realm_host = re.sub(r"^[a-z]+://", "", realm).split("/", 1)[0]
        if realm.startswith("http://") and creds and not is_loopback_host(realm_host):
            raise RegistryError(
                f"{ref.registry}: token realm {realm} is plain http; refusing to send credentials"
            )
        auth = _basic(creds) if creds is not None else None
        url = f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}"
        resp = self._transport.send("GET", url, host=realm_host, auth_header=auth)
        return _token_from(resp, ref.registry, scope, creds)


def _token_from(resp: Response, registry: str, scope: str, creds: Credentials | None) -> _Token:
    """The token in a token service's answer."""
    if resp.status_code in (401, 403):
        who = f"user {creds}" if creds else "anonymous"
        raise RegistryError(
            f"{registry}: token service refused {who} for {scope}: {describe_error_body(resp)}",
            hint="check the credentials in the auth file",
        )
    if resp.status_code != 200:
        raise RegistryError(
            f"{registry}: token service answered HTTP {resp.status_code}: "
            f"{describe_error_body(resp)}"
        )
    try:
        data = resp.json()
    except ValueError:
        raise RegistryError(f"{registry}: token service answered no JSON") from None
    value = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise RegistryError(f"{registry}: token service answered without a token")
    expires_in = data.get("expires_in", 60)
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else 60.0
    # Renew a little early so a token does not expire between check and use.
    return _Token(value, time.monotonic() + max(1.0, lifetime - 5))
