"""Shared fixtures: the real registry on loopback, and buildah on a private store. The helpers
behind them live in ``tests/support``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.tools import registry_server
from tests.support.registry import TLS_AUTH, Buildah, running_registry
from tests.support.tools import need_tool

#: The session's one full local build (and its registry behind the fault proxy); the host's
#: buildah store cleared of the images the session made.
pytest_plugins = ["tests.support.shared_build", "tests.support.store"]


@pytest.fixture(scope="session")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Buildah:
    need_tool("buildah")
    return Buildah(tmp_path_factory.mktemp("buildah"))


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[registry_server.RegistryServer]:
    """A plain-http registry on a free loopback port, for the whole session."""
    yield from running_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="session")
def registry_tls_auth(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[registry_server.RegistryServer]:
    """A registry with htpasswd basic auth (``TLS_AUTH``) over TLS (self-signed certificate)."""
    need_tool("openssl")
    yield from running_registry(tmp_path_factory.mktemp("registry-tls"), auth=TLS_AUTH, tls=True)
