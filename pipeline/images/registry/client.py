"""The OCI distribution API client; what it guards against is in the package docstring."""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urljoin

import requests
from requests.adapters import HTTPAdapter

from pipeline.core.errors import RegistryError
from pipeline.images.reference import DOCKER_HUB, ImageReference, is_loopback_host, parse_reference

log = logging.getLogger("pipeline.images.registry.client")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
ACCEPT = ", ".join(MANIFEST_TYPES)

#: Error codes of the distribution spec that mean "this thing is not there".
NOT_FOUND_CODES = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "TAG_UNKNOWN"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_TAG_PAGES = 10_000
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_CONFIG_BYTES = 16 * 1024 * 1024
USER_AGENT = "kubevirt-downstream-pipeline"
CERTS_DIRS = (
    Path("/etc/containers/certs.d"),
    Path.home() / ".config/containers/certs.d",
    Path("/etc/docker/certs.d"),
)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ManifestInfo:
    """What the registry holds for a reference. ``platforms`` are ``os/arch[/variant]``."""

    reference: ImageReference
    digest: str
    media_type: str
    size: int
    platforms: tuple[str, ...] = ()
    config_digest: str | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True)
class ImageDetails:
    """What verify needs of one reference: its digest (from the tag), and of that digest the
    media type, platforms and labels (of the first platform, for an index)."""

    reference: ImageReference
    digest: str
    media_type: str
    platforms: tuple[str, ...]
    labels: Mapping[str, str]


@dataclass(frozen=True)
class NotFound:
    """The registry answered that the reference does not exist (``reason`` says which part)."""

    reference: ImageReference
    reason: str


@dataclass(frozen=True)
class Failed:
    """In a many-at-once answer: the request for this reference failed (registry down, auth,
    ...), so the others could still be answered."""

    reference: ImageReference
    message: str


_Answer = TypeVar("_Answer")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retrying transient failures: at most ``attempts`` tries and ``total_seconds``."""

    attempts: int = 5
    total_seconds: float = 60.0
    backoff: float = 0.5
    max_backoff: float = 8.0
    #: A Retry-After longer than this (or than the time left) ends the retrying.
    max_retry_after: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetryPolicy:
        """Defaults, overridden by ``PIPELINE_REGISTRY_ATTEMPTS`` / ``_RETRY_SECONDS``."""
        env = os.environ if env is None else env
        policy = cls()
        try:
            if "PIPELINE_REGISTRY_ATTEMPTS" in env:
                policy = cls(attempts=max(1, int(env["PIPELINE_REGISTRY_ATTEMPTS"])))
            if "PIPELINE_REGISTRY_RETRY_SECONDS" in env:
                seconds = float(env["PIPELINE_REGISTRY_RETRY_SECONDS"])
                policy = cls(attempts=policy.attempts, total_seconds=max(0.0, seconds))
        except ValueError as exc:
            raise RegistryError(
                f"bad retry setting in the environment: {exc}",
                hint="PIPELINE_REGISTRY_ATTEMPTS is an integer, _RETRY_SECONDS a number",
            ) from exc
        return policy

    def delay(self, attempt: int) -> float:
        """Backoff before try ``attempt + 1``: exponential with full jitter."""
        ceiling = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)  # jitter, not crypto


@dataclass(frozen=True)
class Credentials:
    """A username and password. The password never shows in ``repr`` or ``str``."""

    username: str
    password: str = field(repr=False)
    source: str = ""

    def __str__(self) -> str:
        return f"{self.username} (from {self.source or 'the caller'})"


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
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            raise RegistryError(
                f"{path}: cannot read auth file: {type(exc).__name__}",
                hint="fix or remove it; it must be JSON with an 'auths' map",
            ) from None
        auths = data.get("auths") if isinstance(data, dict) else None
        if not isinstance(auths, dict):
            continue
        by_key = {_normalize_auth_key(k): v for k, v in auths.items() if isinstance(k, str)}
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


# --------------------------------------------------------------------------- auth challenges


@dataclass(frozen=True)
class Challenge:
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


@dataclass
class _Token:
    value: str = field(repr=False)
    expires: float

    def __repr__(self) -> str:
        return "_Token(<hidden>)"


# --------------------------------------------------------------------------- error text


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_error_body(resp: requests.Response) -> str:
    """A short, single-line description of an error response body."""
    ctype = resp.headers.get("Content-Type", "")
    body = resp.text if resp.content else ""
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("errors"), list):
            parts = []
            for err in data["errors"]:
                if isinstance(err, dict):
                    code = str(err.get("code", "UNKNOWN"))
                    message = str(err.get("message", "")).strip()
                    parts.append(f"{code}: {message}" if message else code)
            if parts:
                return _one_line("; ".join(parts))
        if "html" in ctype.lower() or body.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
            title = re.search(r"<title[^>]*>(.*?)</title>", body, re.I | re.S)
            what = f" ({_one_line(title.group(1), 80)})" if title else ""
            return f"an HTML page{what}, not a registry API answer"
        return _one_line(body, 160)
    return resp.reason or "no body"


def _error_codes(resp: requests.Response) -> set[str]:
    try:
        data = resp.json()
    except ValueError:
        return set()
    if not isinstance(data, dict) or not isinstance(data.get("errors"), list):
        return set()
    return {str(e.get("code")) for e in data["errors"] if isinstance(e, dict)}


def _digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def platform_string(platform: Mapping[str, Any]) -> str:
    text = f"{platform.get('os', '?')}/{platform.get('architecture', '?')}"
    if platform.get("variant"):
        text += f"/{platform['variant']}"
    return text


def config_labels(config: Mapping[str, Any]) -> dict[str, str]:
    """The labels of an image config (empty when it has none)."""
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def _as_reference(ref: ImageReference | str) -> ImageReference:
    if isinstance(ref, ImageReference):
        return ref
    try:
        return parse_reference(ref)
    except ValueError as exc:
        raise RegistryError(f"invalid image reference {ref!r}: {exc}") from None


# --------------------------------------------------------------------------- the client


def _for_each(
    refs: Iterable[ImageReference | str],
    one: Callable[[ImageReference], _Answer],
    workers: int,
) -> list[_Answer | Failed]:
    """``one`` for every reference, ``workers`` at a time, answers in the given order; a
    reference whose request fails (auth, unreachable) gives ``Failed``, not an exception."""
    parsed = [_as_reference(r) for r in refs]

    def guarded(ref: ImageReference) -> _Answer | Failed:
        try:
            return one(ref)
        except RegistryError as exc:
            return Failed(ref, exc.one_line())

    if not parsed:
        return []
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="registry") as pool:
        return list(pool.map(guarded, parsed))


class RegistryClient:
    """A client for any number of registries, safe to share between threads.

    ``https_loopback``: loopback registries use plain http unless this is set; then https, with
    verification against ``ca_bundle`` (or ``REGISTRY_CA_BUNDLE``, or ``certs.d``) when one is
    found, and without verification otherwise. Every other registry is always https, verified.
    """

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        pool_size: int = 16,
        credentials: Callable[[str, str], Credentials | None] | None = None,
        https_loopback: bool = False,
        ca_bundle: str | Path | None = None,
        certs_dirs: Sequence[Path] = CERTS_DIRS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.retry = retry or RetryPolicy.from_env()
        self.timeout = timeout
        self.https_loopback = https_loopback
        bundle = ca_bundle or os.environ.get("REGISTRY_CA_BUNDLE") or None
        self.ca_bundle = str(bundle) if bundle else None
        self.certs_dirs = tuple(certs_dirs)
        self._find_credentials = credentials or (lambda reg, repo: find_credentials(reg, repo))
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._challenges: dict[str, Challenge] = {}
        self._creds_cache: dict[tuple[str, str], Credentials | None] = {}
        # What a digest names never changes, so its details are fetched once per client.
        self._details: dict[tuple[str, str], tuple[str, tuple[str, ...], dict[str, str]]] = {}
        self.session = requests.Session()
        self.session.max_redirects = 10
        self.session.headers["User-Agent"] = USER_AGENT
        # Retrying is ours (it knows Retry-After and the time budget), so urllib3's is off.
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"RegistryClient(retry={self.retry!r}, timeout={self.timeout})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- transport

    def base_url(self, host: str) -> str:
        if is_loopback_host(host) and not self.https_loopback:
            return f"http://{host}"
        return f"https://{host}"

    def _verify(self, host: str) -> bool | str:
        if self.ca_bundle:
            return self.ca_bundle
        for directory in self.certs_dirs:
            ca = directory / host / "ca.crt"
            if ca.is_file():
                return str(ca)
        return not is_loopback_host(host)

    def _credentials(self, registry: str, repository: str) -> Credentials | None:
        key = (registry, repository)
        with self._lock:
            if key in self._creds_cache:
                return self._creds_cache[key]
        creds = self._find_credentials(registry, repository)
        with self._lock:
            self._creds_cache[key] = creds
        return creds

    def _send(
        self,
        method: str,
        url: str,
        *,
        host: str,
        headers: Mapping[str, str] | None = None,
        auth_header: str | None = None,
        stream: bool = False,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One request with retries on transient failures. Returns any final response."""
        retry = self.retry
        started = time.monotonic()
        attempt = 0
        last_problem = ""
        while True:
            attempt += 1
            sent_headers = dict(headers or {})
            if auth_header:
                sent_headers["Authorization"] = auth_header
            try:
                resp = self.session.request(
                    method,
                    url,
                    headers=sent_headers,
                    params=params,
                    timeout=self.timeout,
                    verify=self._verify(host),
                    stream=stream,
                    allow_redirects=True,
                )
            except requests.TooManyRedirects:
                raise RegistryError(
                    f"{method} {url}: too many redirects (a redirect loop)",
                    hint="the registry or a proxy in front of it is misconfigured",
                ) from None
            except requests.exceptions.SSLError as exc:
                raise RegistryError(
                    f"{method} {url}: TLS verification failed: {_one_line(str(exc), 200)}",
                    hint="set REGISTRY_CA_BUNDLE or put the CA in certs.d/<host>/ca.crt",
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                last_problem = f"{kind} ({type(exc).__name__})"
                resp = None
            if resp is not None:
                log.debug("%s %s -> %s", method, url, resp.status_code)
                if resp.status_code not in RETRY_STATUSES and resp.status_code != 429:
                    return resp
                last_problem = f"HTTP {resp.status_code}: {describe_error_body(resp)}"
            elapsed = time.monotonic() - started
            left = retry.total_seconds - elapsed
            if attempt >= retry.attempts or left <= 0:
                break
            if resp is not None and resp.status_code == 429:
                wait = _retry_after(resp.headers.get("Retry-After"))
                if wait is None:
                    wait = retry.delay(attempt)
                if wait > min(left, retry.max_retry_after):
                    last_problem += f" (Retry-After {wait:g}s is past the retry budget)"
                    break
            else:
                wait = min(retry.delay(attempt), left)
            log.info("%s %s: %s; retrying in %.2fs", method, url, last_problem, wait)
            if resp is not None:
                resp.close()
            self._sleep(wait)
        if resp is not None:
            resp.close()
        elapsed = time.monotonic() - started
        raise RegistryError(
            f"{method} {url}: {last_problem}, after {attempt} attempt(s) in {elapsed:.1f}s",
            hint="is the registry running and reachable? "
            "PIPELINE_REGISTRY_ATTEMPTS / PIPELINE_REGISTRY_RETRY_SECONDS set the bounds",
        )

    def _request(
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
    ) -> requests.Response:
        """A request to ``ref``'s registry that answers auth challenges (once)."""
        host = ref.api_host
        url = url or f"{self.base_url(host)}/v2/{ref.repository}/{path}"
        auth = self._auth_header(ref, actions)
        resp = self._send(
            method, url, host=host, headers=headers, auth_header=auth, stream=stream, params=params
        )
        if resp.status_code != 401:
            return resp
        challenge = _challenge_of(resp)
        if challenge is None:
            raise RegistryError(
                f"{method} {url}: 401 without a usable WWW-Authenticate challenge",
                hint="the server does not look like a registry",
            )
        with self._lock:
            self._challenges[host] = challenge
        retried_auth = self._auth_header(ref, actions, challenge=challenge, fresh=True)
        if retried_auth is None:
            raise RegistryError(
                f"{ref.registry}: authentication required for {ref.repository}, "
                "and no credentials found",
                hint="log in (podman/buildah login, or an entry in REGISTRY_AUTH_FILE, "
                "$XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json) or set "
                "PIPELINE_REGISTRY_USERNAME/PIPELINE_REGISTRY_PASSWORD",
            )
        resp.close()
        resp = self._send(
            method,
            url,
            host=host,
            headers=headers,
            auth_header=retried_auth,
            stream=stream,
            params=params,
        )
        if resp.status_code == 401:
            creds = self._credentials(ref.registry, ref.repository)
            who = f"user {creds}" if creds else "anonymous access"
            raise RegistryError(
                f"{ref.registry}: credentials rejected for {ref.repository} ({who}): "
                f"{describe_error_body(resp)}",
                hint="check the username and password in the auth file",
            )
        return resp

    def _auth_header(
        self,
        ref: ImageReference,
        actions: str,
        *,
        challenge: Challenge | None = None,
        fresh: bool = False,
    ) -> str | None:
        host = ref.api_host
        if challenge is None:
            with self._lock:
                challenge = self._challenges.get(host)
            if challenge is None:
                return None
        creds = self._credentials(ref.registry, ref.repository)
        if challenge.scheme == "basic":
            if creds is None:
                return None
            raw = f"{creds.username}:{creds.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        if challenge.scheme != "bearer":
            raise RegistryError(f"{ref.registry}: unsupported auth scheme {challenge.scheme!r}")
        scope = f"repository:{ref.repository}:{actions}"
        if fresh and challenge.get("scope"):
            scope = challenge.get("scope") or scope
        key = (host, scope)
        with self._lock:
            token = self._tokens.get(key)
        if token is not None and not fresh and token.expires > time.monotonic():
            return f"Bearer {token.value}"
        token = self._fetch_token(ref, challenge, scope, creds)
        with self._lock:
            self._tokens[key] = token
            # Later requests for the same repository (no challenge param) find it too.
            self._tokens[(host, f"repository:{ref.repository}:{actions}")] = token
        return f"Bearer {token.value}"

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
        auth = None
        if creds is not None:
            raw = f"{creds.username}:{creds.password}".encode()
            auth = "Basic " + base64.b64encode(raw).decode()
        url = f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}"
        resp = self._send("GET", url, host=realm_host, auth_header=auth)
        if resp.status_code in (401, 403):
            who = f"user {creds}" if creds else "anonymous"
            raise RegistryError(
                f"{ref.registry}: token service refused {who} for {scope}: "
                f"{describe_error_body(resp)}",
                hint="check the credentials in the auth file",
            )
        if resp.status_code != 200:
            raise RegistryError(
                f"{ref.registry}: token service answered HTTP {resp.status_code}: "
                f"{describe_error_body(resp)}"
            )
        try:
            data = resp.json()
        except ValueError:
            raise RegistryError(f"{ref.registry}: token service answered no JSON") from None
        value = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(value, str) or not value:
            raise RegistryError(f"{ref.registry}: token service answered without a token")
        expires_in = data.get("expires_in", 60)
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 60.0
        # Renew a little early so a token does not expire between check and use.
        return _Token(value, time.monotonic() + max(1.0, lifetime - 5))

    # ---------------------------------------------------------------- manifests

    def head_manifest(self, ref: ImageReference | str) -> ManifestInfo | NotFound:
        """Digest, media type and size of ``ref``'s manifest, without its body."""
        ref = _as_reference(ref)
        resp = self._request("HEAD", ref, f"manifests/{ref.version}", headers={"Accept": ACCEPT})
        with resp:
            missing = self._not_found(ref, resp, "HEAD")
            if missing is not None:
                return missing
            self._expect_ok(resp, "HEAD", ref)
            digest = resp.headers.get("Docker-Content-Digest")
            if not digest:
                raise RegistryError(
                    f"HEAD {ref}: the registry sent no Docker-Content-Digest header",
                    hint="the registry is not OCI distribution compliant; use GET instead",
                )
            if ref.digest and digest != ref.digest:
                raise RegistryError(f"HEAD {ref}: registry answered digest {digest}")
            media_type = self._media_type(resp, ref, "HEAD")
            return ManifestInfo(ref, digest, media_type, _int(resp.headers.get("Content-Length")))

    def get_manifest_document(
        self, ref: ImageReference | str
    ) -> tuple[ManifestInfo, dict[str, Any]] | NotFound:
        """The manifest (or index) of ``ref``, parsed and checked against its digest."""
        ref = _as_reference(ref)
        resp = self._request("GET", ref, f"manifests/{ref.version}", headers={"Accept": ACCEPT})
        with resp:
            missing = self._not_found(ref, resp, "GET")
            if missing is not None:
                return missing
            self._expect_ok(resp, "GET", ref)
            media_type = self._media_type(resp, ref, "GET")
            body = resp.content
        if len(body) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"GET {ref}: manifest of {len(body)} bytes is too large")
        digest = _digest_of(body)
        sent = resp.headers.get("Docker-Content-Digest")
        if sent and sent != digest:
            raise RegistryError(
                f"GET {ref}: body has digest {digest} but the registry says {sent}",
                hint="a proxy changed the manifest, or the download was cut short",
            )
        if ref.digest and ref.digest != digest:
            raise RegistryError(f"GET {ref}: body has digest {digest}, not the one asked for")
        try:
            doc = json.loads(body)
        except json.JSONDecodeError as exc:
            raise RegistryError(
                f"GET {ref}: manifest is not valid JSON ({exc.msg} at byte {exc.pos})",
                hint="a truncated or corrupted answer",
            ) from None
        except ValueError:
            raise RegistryError(f"GET {ref}: manifest is not UTF-8 JSON") from None
        if not isinstance(doc, dict):
            raise RegistryError(f"GET {ref}: manifest is not a JSON object")
        declared = doc.get("mediaType")
        if isinstance(declared, str) and declared and declared != media_type:
            raise RegistryError(
                f"GET {ref}: Content-Type {media_type} but the manifest says {declared}"
            )
        platforms: tuple[str, ...] = ()
        config_digest = None
        if media_type in INDEX_TYPES:
            entries = doc.get("manifests")
            if not isinstance(entries, list):
                raise RegistryError(f"GET {ref}: index without a 'manifests' list")
            platforms = tuple(
                platform_string(m["platform"])
                for m in entries
                if isinstance(m, dict)
                and isinstance(m.get("platform"), dict)
                and m["platform"].get("os") != "unknown"  # attestations, not images
            )
        else:
            config = doc.get("config")
            if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
                raise RegistryError(f"GET {ref}: image manifest without a config descriptor")
            config_digest = config["digest"]
        return ManifestInfo(ref, digest, media_type, len(body), platforms, config_digest), doc

    def get_blob_json(self, ref: ImageReference, digest: str) -> dict[str, Any] | NotFound:
        """A JSON blob (an image config) of ``ref``'s repository, checked against ``digest``."""
        resp = self._request("GET", ref, f"blobs/{digest}", stream=True)
        with resp:
            missing = self._not_found(ref, resp, "GET")
            if missing is not None:
                return missing
            self._expect_ok(resp, "GET", ref)
            chunks = []
            size = 0
            for chunk in resp.iter_content(65536):
                size += len(chunk)
                if size > MAX_CONFIG_BYTES:
                    raise RegistryError(f"GET {ref} blob {digest}: larger than a config can be")
                chunks.append(chunk)
        body = b"".join(chunks)
        if digest.startswith("sha256:") and _digest_of(body) != digest:
            raise RegistryError(f"GET {ref} blob {digest}: content does not match its digest")
        try:
            data = json.loads(body)
        except ValueError:
            raise RegistryError(f"GET {ref} blob {digest}: not valid JSON") from None
        if not isinstance(data, dict):
            raise RegistryError(f"GET {ref} blob {digest}: not a JSON object")
        return data

    def get_config(
        self, ref: ImageReference | str, platform: str | None = None
    ) -> dict[str, Any] | NotFound:
        """The image config of ``ref``; for an index, that of ``platform`` (``os/arch``) or of
        the first platform listed."""
        ref = _as_reference(ref)
        answer = self.get_manifest_document(ref)
        if isinstance(answer, NotFound):
            return answer
        info, doc = answer
        if info.is_index:
            chosen = None
            for entry in doc.get("manifests", []):
                if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
                    continue
                raw = entry.get("platform")
                plat: dict[str, Any] = raw if isinstance(raw, dict) else {}
                if plat.get("os") == "unknown":
                    continue
                name = platform_string(plat)
                if platform is None or name == platform or name.startswith(platform + "/"):
                    chosen = entry["digest"]
                    break
            if chosen is None:
                return NotFound(ref, f"no platform {platform or ''} in the index".strip())
            answer = self.get_manifest_document(ref.with_digest(chosen))
            if isinstance(answer, NotFound):
                return NotFound(ref, f"index entry {chosen}: {answer.reason}")
            info, doc = answer
        assert info.config_digest is not None  # set for every image manifest
        return self.get_blob_json(ref, info.config_digest)

    # ---------------------------------------------------------------- tags

    def list_tags(self, ref: ImageReference | str, *, page_size: int | None = None) -> list[str]:
        """Every tag of ``ref``'s repository, following ``Link`` pages; [] if it has none."""
        ref = _as_reference(ref)
        base = self.base_url(ref.api_host)
        url = f"{base}/v2/{ref.repository}/tags/list"
        if page_size:
            url += f"?n={page_size}"
        tags: list[str] = []
        seen_urls: set[str] = set()
        for _ in range(MAX_TAG_PAGES):
            if url in seen_urls:
                raise RegistryError(f"{ref.name}: tag list pages link back to {url}")
            seen_urls.add(url)
            resp = self._request("GET", ref, "tags/list", url=url)
            with resp:
                if resp.status_code == 404 and _error_codes(resp) & NOT_FOUND_CODES:
                    return tags
                self._expect_ok(resp, "GET", ref)
                try:
                    data = resp.json()
                except ValueError:
                    raise RegistryError(f"GET {url}: tag list is not valid JSON") from None
                page = data.get("tags") if isinstance(data, dict) else None
                if page is not None and not isinstance(page, list):
                    raise RegistryError(f"GET {url}: 'tags' is not a list")
                tags.extend(str(t) for t in page or [])
                nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                return tags
            url = urljoin(url, nxt)
        raise RegistryError(f"{ref.name}: more than {MAX_TAG_PAGES} pages of tags")

    def ping(self, registry: str) -> None:
        """Raise ``RegistryError`` unless ``registry`` answers ``/v2/`` like a registry."""
        host = "registry-1.docker.io" if registry == DOCKER_HUB else registry
        resp = self._send("GET", f"{self.base_url(host)}/v2/", host=host)
        with resp:
            if resp.status_code in (200, 401):
                return
            raise RegistryError(
                f"GET {resp.url}: HTTP {resp.status_code}: {describe_error_body(resp)}",
                hint="is this a registry (OCI distribution API)?",
            )

    # ---------------------------------------------------------------- many at once

    def describe(self, ref: ImageReference | str) -> ImageDetails | NotFound:
        """One HEAD for the tag's digest; the manifest and config of a digest only once."""
        ref = _as_reference(ref)
        head = self.head_manifest(ref)
        if isinstance(head, NotFound):
            return head
        key = (ref.name, head.digest)
        with self._lock:
            known = self._details.get(key)
        if known is None:
            known = self._digest_details(ref.with_digest(head.digest))
            if known is None:  # deleted between the two requests
                return NotFound(ref, f"{head.digest} vanished while it was read")
            with self._lock:
                self._details[key] = known
        media_type, platforms, labels = known
        return ImageDetails(ref, head.digest, media_type, platforms, labels)

    def _digest_details(
        self, pinned: ImageReference
    ) -> tuple[str, tuple[str, ...], dict[str, str]] | None:
        answer = self.get_manifest_document(pinned)
        if isinstance(answer, NotFound):
            return None
        info, _ = answer
        if info.is_index:
            config = self.get_config(pinned)  # the first platform's
            platforms = info.platforms
        else:
            assert info.config_digest is not None  # set for every image manifest
            config = self.get_blob_json(pinned, info.config_digest)
            platforms = (platform_string(config),) if isinstance(config, dict) else ()
        if isinstance(config, NotFound):
            raise RegistryError(f"{pinned}: config missing ({config.reason})")
        return info.media_type, platforms, config_labels(config)

    def describe_many(
        self, refs: Iterable[ImageReference | str], *, workers: int = 16
    ) -> list[ImageDetails | NotFound | Failed]:
        """``describe`` for every reference concurrently, in order; a failed one is ``Failed``."""
        return _for_each(refs, self.describe, workers)

    # ---------------------------------------------------------------- checks

    @staticmethod
    def _not_found(ref: ImageReference, resp: requests.Response, method: str) -> NotFound | None:
        if resp.status_code != 404:
            return None
        codes = _error_codes(resp)
        if codes & NOT_FOUND_CODES:
            return NotFound(ref, describe_error_body(resp))
        if method == "HEAD" or not resp.content:
            return NotFound(ref, "HTTP 404")
        raise RegistryError(
            f"{method} {ref}: HTTP 404 with {describe_error_body(resp)}",
            hint="is this a registry (OCI distribution API)?",
        )

    @staticmethod
    def _expect_ok(resp: requests.Response, method: str, ref: ImageReference) -> None:
        if 200 <= resp.status_code < 300:
            return
        if resp.status_code == 403:
            raise RegistryError(
                f"{method} {ref}: access denied: {describe_error_body(resp)}",
                hint="the credentials lack permission for this repository",
            )
        raise RegistryError(f"{method} {ref}: HTTP {resp.status_code}: {describe_error_body(resp)}")

    @staticmethod
    def _media_type(resp: requests.Response, ref: ImageReference, method: str) -> str:
        media_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
        if media_type not in MANIFEST_TYPES:
            raise RegistryError(
                f"{method} {ref}: unexpected Content-Type {media_type or '(none)'!r} "
                "for a manifest",
                hint="the server is not a registry, or the image uses an old (schema 1) format",
            )
        return media_type


def _challenge_of(resp: requests.Response) -> Challenge | None:
    header = resp.headers.get("WWW-Authenticate", "")
    return parse_challenge(header) if header else None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0
