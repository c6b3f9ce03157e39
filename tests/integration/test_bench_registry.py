"""The bench's HEAD floor and upload count against a real registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import build as build_figures
from bench.floor import head_requests, head_stdlib
from bench.scale import ProductSet, ScratchImages, copy_tag, plan_releases, write_tags
from bench.verify_tags import requests_since
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

    for floor in (head_requests, head_stdlib):
        before = server.log_path.stat().st_size
        seconds, missing = floor(refs, workers=4)
        assert missing == 0 and seconds > 0
        assert requests_since(server.log_path, before) == {"HEAD": 3}
        _, missing = floor([*refs, f"{server.address}/kubevirt/virt-api:absent"], workers=4)
        assert missing == 1


@pytest.mark.tools
def test_tags_written_into_the_storage_are_served_like_pushed_ones(
    tmp_path: Path, private_registry: registry_server.RegistryServer
) -> None:
    """The large sizes' shortcut: the registry answers a tag ``write_tags`` wrote with the
    digest it was written with, as it does one copied through its API."""
    need_tool("buildah")
    server = private_registry
    one = ProductSet("kubevirt", "virt-operator", {"1.9.0": ("virt-api",)})
    scale = plan_releases(server.address, [one], 4, ("local", "sle15-sp3"))
    images = ScratchImages(tmp_path / "buildah")
    try:
        images.make("localhost/bench/virt-api:1", "virt-api\n", {"version": "1.9.0"})
        first = scale.seeds()[0][2]
        digest = images.push("localhost/bench/virt-api:1", scale.reference("virt-api", first))
    finally:
        images.remove()
    assert write_tags(server.root / "storage", scale, {("virt-api", "1.9.0"): digest}) == 3
    refs = list(scale.recorded())
    assert len(refs) == 4
    for floor in (head_requests, head_stdlib):
        assert floor(refs, workers=2)[1] == 0
    import requests

    from pipeline.images.registry import ACCEPT

    last = refs[-1].split("/", 1)[1].rsplit(":", 1)
    resp = requests.head(
        f"{server.url}/v2/{last[0]}/manifests/{last[1]}", headers={"Accept": ACCEPT}, timeout=10
    )
    assert resp.headers["Docker-Content-Digest"] == digest
