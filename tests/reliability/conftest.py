"""Fixtures of the reliability suites. The shared build, its registry and the fault proxy are
session fixtures of tests/support/shared_build.py (the end-to-end tests copy the same build)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.faultproxy import Proxy
from tests.support.shared_build import SharedBuild


@pytest.fixture
def proxy(rel_proxy: Proxy, shared: SharedBuild) -> Iterator[Proxy]:
    """The session's proxy, without faults before and after the test; the registry running."""
    shared.restart_registry()
    rel_proxy.reset()
    yield rel_proxy
    rel_proxy.reset()
    shared.restart_registry()
