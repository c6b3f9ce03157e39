"""OCI distribution API client: manifests, configs and tags, over one pooled session.

What a registry can do to us, and what we do about it:
- ask for credentials: ``WWW-Authenticate: Basic`` (we resend with the stored credentials) or
  ``Bearer realm=...,service=...,scope=...`` (we fetch a token from the realm, with basic
  credentials when we have some, and cache it per registry and scope until it expires);
- fail for a moment: connection errors, timeouts and 5xx are retried with exponential backoff and
  jitter, ``429`` waits for ``Retry-After``; both bounded by attempts and by total time;
- answer wrongly: an HTML page, truncated JSON, a wrong Content-Type, a digest that does not match
  the body, a redirect loop. Each becomes one ``RegistryError`` line, never a traceback.

"Not found" is an answer, not a failure: it comes back as a ``NotFound`` value.

Secrets (passwords, tokens, Authorization headers) never reach a log line, an exception message or
a ``repr``: credentials and tokens live in objects whose repr hides them, we log only method, URL
and status, and URLs never carry credentials.

``models`` holds the media types and the answers, ``transport`` the session and the retrying,
``auth`` the credentials and challenges, ``client`` the API on top.
"""

from pipeline.images.registry.auth import Credentials, auth_files, find_credentials, parse_challenge
from pipeline.images.registry.client import RegistryClient
from pipeline.images.registry.models import (
    ACCEPT,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Failed,
    ImageDetails,
    ManifestInfo,
    NotFound,
    RetryPolicy,
)

__all__ = [
    "ACCEPT",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Credentials",
    "Failed",
    "ImageDetails",
    "ManifestInfo",
    "NotFound",
    "RegistryClient",
    "RetryPolicy",
    "auth_files",
    "find_credentials",
    "parse_challenge",
]
