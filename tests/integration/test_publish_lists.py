"""The manifest lists a killed publish leaves in the host's store are removed by the next one."""

from __future__ import annotations

import os
import subprocess
import uuid

from pipeline.stages.index import LIST_PREFIX, abandoned_lists, remove_abandoned_lists
from pipeline.tools import buildah
from tests.support.tools import need_tool


def test_only_lists_of_processes_that_are_gone_are_abandoned() -> None:
    names = [
        f"{LIST_PREFIX}/virt-api:101-0a1b2c3d",
        f"{LIST_PREFIX}/virt-api:202-0a1b2c3d",
        f"{LIST_PREFIX}/virt-api:latest",
        "127.0.0.1:5555/kubevirt/virt-api:303-0a1b2c3d",
    ]
    assert abandoned_lists(names, alive=lambda pid: pid == 202) == [names[0]]


def test_a_list_a_killed_publish_left_goes_and_a_running_ones_stays() -> None:
    need_tool("buildah")
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = f"{LIST_PREFIX}/test-image:{gone.pid}-{uuid.uuid4().hex[:8]}"
    live = f"{LIST_PREFIX}/test-image:{os.getpid()}-{uuid.uuid4().hex[:8]}"
    buildah.manifest_create(stale, [])
    buildah.manifest_create(live, [])
    try:
        removed = remove_abandoned_lists()
        assert stale in removed and live not in removed
        names = buildah.stored_names()
        assert stale not in names and live in names
    finally:
        buildah.manifest_rm(stale)
        buildah.manifest_rm(live)
