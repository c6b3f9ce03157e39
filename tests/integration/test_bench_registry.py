"""The bench's HEAD floor and upload count against a real registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import build as build_figures
from bench.scale import ProductSet, ScratchImages, copy_tag
from bench.verify_tags import head_floor, requests_since
from pipeline.tools import registry_server
from tests.support.tools import need_tool

KUBEVIRT = ProductSet(
    "kubevirt",
    "virt-operator",
    {"1.9.0": ("virt-api", "virt-controller", "virt-handler", "virt-launcher", "virt-operator")},
)
CDI = ProductSet(
    "cdi",
    "cdi-operator",
    {"1.66.0": ("cdi-apiserver", "cdi-controller", "cdi-importer", "cdi-operator")},
)


# --------------------------------------------------------------------------- real registry


@pytest.fixture
def private_registry(tmp_path: Path) -> Iterator[registry_server.RegistryServer]:
    need_tool(registry_server.BINARY)
    root = tmp_path / "registry"
    server = registry_server.start(root)
    try:
        yield server
    finally:
        registry_server.stop(root)


@pytest.mark.tools
def test_head_floor_and_upload_count_on_a_real_registry(
    tmp_path: Path, private_registry: registry_server.RegistryServer
) -> None:
    need_tool("buildah")
    import requests

    images = ScratchImages(tmp_path / "buildah")
    server = private_registry
    refs = []
    offset = server.log_path.stat().st_size
    try:
        for name in ("virt-api", "cdi-importer"):
            images.make(f"localhost/bench/{name}:1", f"{name}\n", {"version": "1"})
            ref = f"{server.address}/kubevirt/{name}:1.0-1.1"
            images.push(f"localhost/bench/{name}:1", ref)
            refs.append(ref)
    finally:
        images.remove()
    pushed = build_figures.uploads_in(server.log_path.read_bytes()[offset:].decode())
    assert len(pushed.completed) == 4  # one layer and one config per image
    assert pushed.bytes(server.root / "storage") > 0
    with requests.Session() as session:
        copy_tag(session, server.url, "kubevirt/virt-api", "1.0-1.1", "1.0-2.1")
    refs.append(f"{server.address}/kubevirt/virt-api:1.0-2.1")
    copied = build_figures.uploads_in(server.log_path.read_bytes()[offset:].decode())
    assert copied.completed == pushed.completed, "a tag copy uploads no blob"

    before = server.log_path.stat().st_size
    seconds, missing = head_floor(refs, workers=4)
    assert missing == 0 and seconds > 0
    assert requests_since(server.log_path, before) == {"HEAD": 3}
    _, missing = head_floor([*refs, f"{server.address}/kubevirt/virt-api:absent"], workers=4)
    assert missing == 1
