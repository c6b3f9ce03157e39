"""The host's buildah store left as the test session found it, but for the local bases.

The pipeline builds into the machine's one store (as a user's build does), and the session's
builds add hundreds of images to it. Left there, they pile up run after run: on one workstation
the store held 6,900 images after a few dozen sessions, every buildah call read and rewrote its
11 MB index, and an image build took 26 s instead of 2 s. So every image the session made goes at
its end, except the local bases and their debootstrap trees: a cache keyed by their inputs, which
the next session (and the user's next build) reuses instead of running debootstrap again.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from pipeline.core.errors import ToolError
from pipeline.stages.local_base import IMAGE, ROOTFS_IMAGE
from pipeline.tools import buildah

#: Images removed per buildah call: one call per image would pay buildah's start-up each time.
CHUNK = 200


def made_since(before: set[str], now: dict[str, tuple[str, ...]]) -> list[str]:
    """The ids in ``now`` that ``before`` lacked, but for images named as a local base or its
    tree."""
    kept = (f"{IMAGE}:", f"{ROOTFS_IMAGE}:")
    return sorted(
        image
        for image, names in now.items()
        if image not in before and not any(name.startswith(kept) for name in names)
    )


@pytest.fixture(scope="session", autouse=True)
def store_left_as_found() -> Iterator[None]:
    if shutil.which("buildah") is None:
        yield
        return
    before = set(buildah.stored_images())
    yield
    made = made_since(before, buildah.stored_images())
    for start in range(0, len(made), CHUNK):
        try:
            buildah.rmi(*made[start : start + CHUNK], force=True)
        except ToolError:  # one image another process still uses: the rest go on
            continue
