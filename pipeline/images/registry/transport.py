"""HTTP to registries: one pooled session (``http.py``), the TLS verification choice, bounded
retries of transient failures, how many requests each registry gets at once (``limiter.py``),
and the checks every API answer goes through.

This layer knows nothing of credentials: it sends whatever ``Authorization`` value it is given
(``auth.py`` decides it) and logs only method, URL and status.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pipeline.core.errors import RegistryError
from pipeline.images.reference import ImageReference, is_loopback_host
from pipeline.images.registry.http import HttpError, Response, Session, TlsFailed, TooManyRedirects
from pipeline.images.registry.limiter import AdaptiveLimit
from pipeline.images.registry.models import MANIFEST_TYPES, NotFound, RetryPolicy

log = logging.getLogger("pipeline.images.registry.transport")

#: Error codes of the distribution spec that mean "this thing is not there".
NOT_FOUND_CODES = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "TAG_UNKNOWN"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
USER_AGENT = "kubevirt-downstream-pipeline"
CERTS_DIRS = (
    Path("/etc/containers/certs.d"),
    Path.home() / ".config/containers/certs.d",
    Path("/etc/docker/certs.d"),
)


class Transport:
    """The session, the retrying and the per-registry limits shared by every request of one
    client, safe between threads.

    ``https_loopback``: loopback registries use plain http unless this is set; then https, with
    verification against ``ca_bundle`` (or ``certs.d``) when one is found, and without
    verification otherwise. Every other registry is always https, verified.
    """

    def __init__(
        self,
        *,
        retry: RetryPolicy,
        timeout: float,
        pool_size: int,
        https_loopback: bool,
        ca_bundle: str | None,
        certs_dirs: Sequence[Path],
        sleep: Callable[[float], None],
    ) -> None:
        self.retry = retry
        self.timeout = timeout
        self.https_loopback = https_loopback
        self.ca_bundle = ca_bundle
        self.certs_dirs = tuple(certs_dirs)
        self._sleep = sleep
        self.pool_size = pool_size
        self.session = Session(pool_size=pool_size, user_agent=USER_AGENT, max_redirects=10)
        self._limits: dict[str, AdaptiveLimit] = {}
        self._limits_lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    def limit(self, host: str) -> AdaptiveLimit:
        """How many requests ``host`` gets at once (at most the pool size)."""
        with self._limits_lock:
            found = self._limits.get(host)
            if found is None:
                found = self._limits[host] = AdaptiveLimit(self.pool_size, name=host)
            return found

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

    def send(
        self,
        method: str,
        url: str,
        *,
        host: str,
        headers: Mapping[str, str] | None = None,
        auth_header: str | None = None,
        stream: bool = False,
        params: Mapping[str, str] | None = None,
    ) -> Response:
        """One request with retries on transient failures. Returns any final response."""
        sent_headers = dict(headers or {})
        if auth_header:
            sent_headers["Authorization"] = auth_header
        started = time.monotonic()
        attempt = failures = 0
        while True:
            attempt += 1
            resp, problem = self._try(method, url, host, sent_headers, stream, params)
            if resp is not None and not problem:
                return resp
            # A 429 is the registry asking to slow down, not a failure: only the time budget
            # bounds those (the limiter has meanwhile cut how many requests it gets at once).
            failures += resp is None or resp.status_code != 429
            wait, why_not = self._wait(attempt, failures, started, resp)
            if wait is None:
                problem += why_not
                break
            log.info("%s %s: %s; retrying in %.2fs", method, url, problem, wait)
            if resp is not None:
                resp.close()
            self._sleep(wait)
        if resp is not None:
            resp.close()
        elapsed = time.monotonic() - started
        raise RegistryError(
            f"{method} {url}: {problem}, after {attempt} attempt(s) in {elapsed:.1f}s",
            hint="is the registry running and reachable? "
            "PIPELINE_REGISTRY_ATTEMPTS / PIPELINE_REGISTRY_RETRY_SECONDS set the bounds",
        )

    def _try(
        self,
        method: str,
        url: str,
        host: str,
        headers: dict[str, str],
        stream: bool,
        params: Mapping[str, str] | None,
    ) -> tuple[Response | None, str]:
        """One try, in one of ``host``'s slots: the response (None if there was none), and
        what is transient about it ("" for a final answer)."""
        with self.limit(host).slot() as pushed_back:
            try:
                resp = self.session.request(
                    method,
                    url,
                    headers=headers,
                    params=params,
                    timeout=self.timeout,
                    verify=self._verify(host),
                    stream=stream,
                )
            except TooManyRedirects:
                raise RegistryError(
                    f"{method} {url}: too many redirects (a redirect loop)",
                    hint="the registry or a proxy in front of it is misconfigured",
                ) from None
            except TlsFailed as exc:
                raise RegistryError(
                    f"{method} {url}: TLS verification failed: {_one_line(exc.detail, 200)}",
                    hint="set REGISTRY_CA_BUNDLE or put the CA in certs.d/<host>/ca.crt",
                ) from None
            except HttpError as exc:
                return None, f"{exc.kind} ({exc.detail})"
            log.debug("%s %s -> %s", method, url, resp.status_code)
            throttled = resp.status_code in RETRY_STATUSES or resp.status_code == 429
            pushed_back(throttled)
        if not throttled:
            return resp, ""
        return resp, f"HTTP {resp.status_code}: {describe_error_body(resp)}"

    def _wait(
        self, attempt: int, failures: int, started: float, resp: Response | None
    ) -> tuple[float | None, str]:
        """Seconds to wait before the next try, or None (and why, if not plain) to give up."""
        retry = self.retry
        left = retry.total_seconds - (time.monotonic() - started)
        if failures >= retry.attempts or left <= 0:
            return None, ""
        if resp is None or resp.status_code != 429:
            return min(retry.delay(attempt), left), ""
        wait = _retry_after(resp.headers.get("Retry-After"))
        if wait is None:
            wait = retry.delay(attempt)
        if wait > min(left, retry.max_retry_after):
            return None, f" (Retry-After {wait:g}s is past the retry budget)"
        return wait, ""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        import email.utils  # only for a Retry-After given as a date

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_error_body(resp: Response) -> str:
    """A short, single-line description of an error response body."""
    ctype = resp.headers.get("Content-Type", "")
    body = resp.text if resp.content else ""
    if not body:
        return resp.reason or "no body"
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


def error_codes(resp: Response) -> set[str]:
    """The distribution-spec error codes in an error body (none if it is not such a body)."""
    try:
        data = resp.json()
    except ValueError:
        return set()
    if not isinstance(data, dict) or not isinstance(data.get("errors"), list):
        return set()
    return {str(e.get("code")) for e in data["errors"] if isinstance(e, dict)}


def not_found(ref: ImageReference, resp: Response, method: str) -> NotFound | None:
    """``NotFound`` for a registry's 404; a 404 page that is not the registry's is an error."""
    if resp.status_code != 404:
        return None
    if error_codes(resp) & NOT_FOUND_CODES:
        return NotFound(ref, describe_error_body(resp))
    if method == "HEAD" or not resp.content:
        return NotFound(ref, "HTTP 404")
    raise RegistryError(
        f"{method} {ref}: HTTP 404 with {describe_error_body(resp)}",
        hint="is this a registry (OCI distribution API)?",
    )


def expect_ok(resp: Response, method: str, ref: ImageReference) -> None:
    """Raise ``RegistryError`` unless ``resp`` is a 2xx."""
    if 200 <= resp.status_code < 300:
        return
    if resp.status_code == 403:
        raise RegistryError(
            f"{method} {ref}: access denied: {describe_error_body(resp)}",
            hint="the credentials lack permission for this repository",
        )
    raise RegistryError(f"{method} {ref}: HTTP {resp.status_code}: {describe_error_body(resp)}")


def manifest_media_type(resp: Response, ref: ImageReference, method: str) -> str:
    """The Content-Type of a manifest answer, which must be one of ``MANIFEST_TYPES``."""
    media_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
    if media_type not in MANIFEST_TYPES:
        raise RegistryError(
            f"{method} {ref}: unexpected Content-Type {media_type or '(none)'!r} for a manifest",
            hint="the server is not a registry, or the image uses an old (schema 1) format",
        )
    return media_type
