"""The buildah wrapper against the real buildah: build, inspect, tag, push, import a tree, run.

Images are named ``localhost/pipeline-test/...`` in the default storage (the storage the
pipeline uses) and removed by the fixtures. ``run_in`` needs an image with a shell: it uses the
cached `local` base image from ``build/base`` (built on first use, about 2 minutes).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pipeline.core.errors import ToolError
from pipeline.stages import local_base as base_image
from pipeline.tools import buildah
from pipeline.tools.registry_server import RegistryServer
from pipeline.tools.run import run
from tests.support.buildah import PrivateStore
from tests.support.paths import ROOT
from tests.support.tools import need_tool, unavailable

pytestmark = pytest.mark.tools


@pytest.fixture
def names() -> Iterator[list[str]]:
    """Image names a test creates; whatever of them exists afterwards is removed."""
    created: list[str] = []
    yield created
    leftover = [name for name in created if buildah.exists(name)]
    if leftover:
        buildah.rmi(*leftover, force=True)


def _name(names: list[str], suffix: str = "") -> str:
    name = f"localhost/pipeline-test/buildah-{uuid.uuid4().hex[:10]}{suffix}"
    names.append(name)
    return name


@pytest.fixture
def context(tmp_path: Path) -> Path:
    need_tool("buildah")
    (tmp_path / "payload.txt").write_text("payload\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM scratch\nARG FLAVOUR\nLABEL flavour=$FLAVOUR\nCOPY payload.txt /payload.txt\n"
    )
    return tmp_path


def test_version() -> None:
    need_tool("buildah")
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?.*", buildah.version())


def test_build_tags_labels_and_reproducible_id(context: Path, names: list[str]) -> None:
    first, second = _name(names, ":1"), _name(names, ":2")
    kwargs = {
        "build_args": {"FLAVOUR": "mint"},
        "labels": {"org.example.extra": "yes"},
        "timestamp": 0,
        "layers": False,
        "pull_policy": "never",
    }
    image_id = buildah.build(context, context / "Dockerfile", [first, second], **kwargs)  # type: ignore[arg-type]
    assert re.fullmatch(r"[0-9a-f]{64}", image_id)
    assert buildah.exists(first) and buildah.exists(second) and buildah.exists(image_id)
    info = buildah.inspect(second)
    assert info["FromImageID"] == image_id
    oci = info["OCIv1"]
    assert oci["config"]["Labels"]["flavour"] == "mint"
    assert oci["config"]["Labels"]["org.example.extra"] == "yes"
    assert oci["created"].startswith("1970-01-01T00:00:00")
    assert set(buildah.stored_images()[image_id]) >= {first, second}
    # same inputs, same timestamp: the same image, so a rebuild makes no new digest
    again = _name(names, ":3")
    assert buildah.build(context, context / "Dockerfile", [again], **kwargs) == image_id  # type: ignore[arg-type]


def test_tag_and_rmi(context: Path, names: list[str]) -> None:
    name, alias = _name(names), _name(names, ":alias")
    image_id = buildah.build(context, context / "Dockerfile", [name], pull_policy="never")
    buildah.tag(name, alias)
    assert buildah.inspect(alias)["FromImageID"] == image_id
    buildah.rmi(alias)
    assert not buildah.exists(alias)
    assert buildah.exists(name)


def test_failed_build_is_a_tool_error_with_the_cause(context: Path, names: list[str]) -> None:
    (context / "Dockerfile").write_text("FROM scratch\nCOPY missing.txt /\n")
    with pytest.raises(ToolError) as info:
        buildah.build(context, context / "Dockerfile", [_name(names)], pull_policy="never")
    line = info.value.one_line()
    assert "\n" not in line
    assert line.startswith("Tool: buildah failed (exit")
    assert "missing.txt" in line


def test_import_rootfs_keeps_owners_modes_and_links(tmp_path: Path, names: list[str]) -> None:
    need_tool("buildah")
    if os.geteuid() != 0:
        unavailable("import_rootfs mounts the container: needs root")
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr/bin").mkdir(parents=True)
    tool = rootfs / "usr/bin/tool"
    tool.write_text("#!/bin/sh\n")
    os.chown(tool, 1234, 5678)
    tool.chmod(0o4750)
    (rootfs / "bin").symlink_to("usr/bin")
    name = _name(names)
    image_id = buildah.import_rootfs(rootfs, name, timestamp=0, config={"cmd": "/usr/bin/tool"})
    assert buildah.inspect(name)["FromImageID"] == image_id
    assert buildah.inspect(name)["OCIv1"]["config"]["Cmd"] == ["/usr/bin/tool"]
    container = run(["buildah", "from", "--pull=never", "--quiet", name]).stdout.strip()
    try:
        mount = Path(run(["buildah", "mount", container]).stdout.strip())
        stat = (mount / "usr/bin/tool").stat()
        assert (stat.st_uid, stat.st_gid, stat.st_mode & 0o7777) == (1234, 5678, 0o4750)
        assert os.readlink(mount / "bin") == "usr/bin"
    finally:
        run(["buildah", "rm", container])


def test_import_rootfs_refuses_a_missing_tree(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="not a directory"):
        buildah.import_rootfs(tmp_path / "nope", "localhost/pipeline-test/never")


def test_run_in_returns_output_and_exit_status() -> None:
    for tool in ("buildah", "debootstrap", "rpmbuild"):
        need_tool(tool)
    if os.geteuid() != 0:
        pytest.skip("the local base image needs root to build")
    base = base_image.ensure_local_base(ROOT / "build")
    done = buildah.run_in(base.name, ["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (done.returncode, done.stdout, done.stderr.splitlines()[0]) == (3, "out\n", "err")
    with pytest.raises(ToolError):
        buildah.run_in(base.name, ["false"])


def test_push_to_the_registry_with_digest(
    context: Path, names: list[str], registry: RegistryServer, tmp_path: Path
) -> None:
    name = _name(names)
    buildah.build(context, context / "Dockerfile", [name], pull_policy="never", timestamp=0)
    digest = buildah.push(
        name,
        f"docker://{registry.address}/pipeline-test/pushed:v1",
        digestfile=tmp_path / "digest",
        tls_verify=False,
    )
    assert digest is not None and re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    answer = requests.head(
        f"{registry.url}/v2/pipeline-test/pushed/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.headers["Docker-Content-Digest"] == digest


def test_push_to_an_oci_layout(context: Path, names: list[str], tmp_path: Path) -> None:
    name = _name(names)
    buildah.build(context, context / "Dockerfile", [name], pull_policy="never")
    layout = tmp_path / "layout"
    digest = buildah.push(name, f"oci:{layout}:v1", digestfile=tmp_path / "digest")
    index = json.loads((layout / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [digest]
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v1"


def _index_entry(image_id: str, *big_data: str) -> dict[str, object]:
    return {"id": image_id, "layer": "l" + image_id, "big-data-names": list(big_data)}


def test_abandoned_images_are_old_images_without_any_manifest(tmp_path: Path) -> None:
    """The store index as containers/storage writes it; the times are the directories'."""
    entries = {
        "complete": _index_entry("complete", "sha256:c", "manifest-sha256:m", "manifest"),
        "digest-manifest-only": _index_entry("digest-manifest-only", "manifest-sha256:m"),
        "killed-long-ago": {"id": "killed-long-ago", "layer": "x", "created": "2026-07-27"},
        "killed-just-now": _index_entry("killed-just-now", "sha256:c"),
    }
    (tmp_path / "images.json").write_text(json.dumps(list(entries.values())))
    now = 1_000_000.0
    for name in entries:
        (tmp_path / name).mkdir()
        age = 60.0 if name == "killed-just-now" else 3600.0
        os.utime(tmp_path / name, (now - age, now - age))
    assert buildah.abandoned_images(tmp_path, older_than=600, now=now) == ["killed-long-ago"]
    # A commit that may still be running (another build on the store) is never taken.
    assert buildah.abandoned_images(tmp_path, older_than=30, now=now) == [
        "killed-long-ago",
        "killed-just-now",
    ]
    assert buildah.abandoned_images(tmp_path / "missing") == []


def test_an_abandoned_image_in_a_real_store_is_found_and_removed(tmp_path: Path) -> None:
    """What a killed commit left in this machine's store (id, layer, created: no manifest),
    made in a private store from a real image; found, removed by id, the other image kept."""
    need_tool("buildah")
    store = PrivateStore(tmp_path)
    killed = store.image("localhost/killed:1", content="half-committed\n")
    kept = store.image("localhost/kept:1", content="whole\n")
    images_dir = tmp_path / "storage" / "vfs-images"
    index = json.loads((images_dir / "images.json").read_text())
    for entry in index:
        if entry["id"] == killed:
            for key in [k for k in entry if k not in ("id", "layer", "created")]:
                del entry[key]
    (images_dir / "images.json").write_text(json.dumps(index))
    for item in (images_dir / killed).iterdir():
        item.unlink()
    assert buildah.abandoned_images(images_dir, older_than=0) == [killed]
    store("rmi", "--force", killed)
    assert buildah.abandoned_images(images_dir, older_than=0) == []
    assert kept in store("images", "--quiet", "--no-trunc")
