"""The host's buildah store left as the test session found it, as far as the session's images go.

The pipeline builds into the machine's one store (as a user's build does), and the session's
builds add hundreds of images to it. Left there, they pile up run after run: on one workstation
the store held 6,900 images after a few dozen sessions, every buildah call read and rewrote its
11 MB index, and an image build took 26 s instead of 2 s. So at its end the session removes the
images it made: those that were not there when it started and whose every name is under a
loopback registry of a one-off port, as the tests' registries are. Never an image without a name
(it may be anyone's, half-way through a build), nor one under the local target's own registry
(127.0.0.1:5555, where a user's build names its images), nor the local bases and their
debootstrap trees: a cache keyed by their inputs, which the next session reuses. While another
test session runs on the machine, nothing is removed: what is new may be its images.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.core.errors import ToolError
from pipeline.tools import buildah

#: Images removed per buildah call: one call per image would pay buildah's start-up each time.
CHUNK = 200


#: Image names under these are the tests' own: their registries listen on one-off ports.
TEST_REGISTRY = "127.0.0.1:"
#: The local target's registry: a user's build names its images under it.
USER_REGISTRY = "127.0.0.1:5555/"


def made_since(before: set[str], now: dict[str, tuple[str, ...]]) -> list[str]:
    """The ids in ``now`` that ``before`` lacked and that only a test's registry names."""

    def tests_only(names: tuple[str, ...]) -> bool:
        return bool(names) and all(
            n.startswith(TEST_REGISTRY) and not n.startswith(USER_REGISTRY) for n in names
        )

    return sorted(
        image for image, names in now.items() if image not in before and tests_only(names)
    )


#: Every test session on the machine holds this lock shared while it runs; the clean-up needs it
#: alone, so it never removes what a session still running has built.
SESSIONS_LOCK = Path(tempfile.gettempdir()) / "kubevirt-pipeline-test-sessions.lock"


@pytest.fixture(scope="session", autouse=True)
def store_left_as_found() -> Iterator[None]:
    if shutil.which("buildah") is None:
        yield
        return
    with SESSIONS_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            before = set(buildah.stored_images())
        except ToolError:  # a store buildah cannot list: the tests say so, not this clean-up
            yield
            return
        yield
        fcntl.flock(handle, fcntl.LOCK_UN)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another session is running: the images new since may be its own
        try:
            made = made_since(before, buildah.stored_images())
        except ToolError:
            return
        for start in range(0, len(made), CHUNK):
            try:
                buildah.rmi(*made[start : start + CHUNK], force=True)
            except ToolError:  # one image another process still uses: the rest go on
                continue
