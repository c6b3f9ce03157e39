"""prune on a real buildah store and a real loopback registry: it keeps exactly the last N
releases and the last build's, retires the others' release bundles, removes their images (store
images, registry manifests and, by garbage collection, their blobs) and frees the space it
reports.

The store is a private one (``CONTAINERS_STORAGE_CONF``, which the pipeline passes to buildah):
prune must never touch the host's store from a test. Images are small real ones, six releases of
virt-api, each tagged as a build tags it (``<version>-<release>``, OBS's
``<version>.<release>``); the newest also under the floating ``<version>``. One release that goes
is a two-architecture one, as the containers stage leaves it (``<version>-<release>-<arch>`` in
the store) and publish pushes it (an index per tag): its index and both images go.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.core.release import ReleaseBook, ReleaseRecord
from pipeline.core.report import ArchImage, ContainersSection, ImageBuild, Report
from pipeline.stages.prune import disk_bytes
from pipeline.tools import registry_server
from pipeline.tools.run import run
from tests.support.paths import copy_inputs
from tests.support.tools import need_tool

pytestmark = pytest.mark.tools

RELEASES = ("1.1", "2.1", "3.1", "4.1", "5.1", "6.1")
VERSION = "1.9.0"
#: 1.1 has a release bundle, 2.1 is the last build, 4.1-6.1 are the last three: 1.1 and 3.1
#: go, and 1.1's bundle is retired.
GOES = ("1.1", "3.1")


@dataclass(frozen=True)
class Store:
    """buildah on a private vfs store, selected the way the pipeline's buildah sees it."""

    conf: Path
    graphroot: Path

    @property
    def env(self) -> dict[str, str]:
        return {"CONTAINERS_STORAGE_CONF": str(self.conf)}

    def __call__(self, *args: str) -> str:
        return run(["buildah", *args], env=self.env, timeout=300).stdout.strip()

    def image(self, name: str, content: str, arch: str = "amd64") -> str:
        source = self.conf.parent / f"content-{uuid.uuid4().hex}"
        source.write_text(content)
        container = self("from", "scratch")
        try:
            self("copy", "--quiet", container, str(source), "/content.txt")
            self("config", "--os", "linux", "--arch", arch, container)
            return self("commit", "--quiet", container, name).removeprefix("sha256:")
        finally:
            self("rm", container)

    def ids(self) -> set[str]:
        listing = json.loads(self("images", "--json", "--no-trunc") or "[]")
        return {str(image["id"]).removeprefix("sha256:") for image in listing}


@dataclass(frozen=True)
class Setup:
    project: Path
    store: Store
    server: registry_server.RegistryServer
    ids: dict[str, str]
    digests: dict[str, str]
    #: The two-architecture release's arm64 image, and the manifests its index names.
    arm64: str
    entries: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"{self.server.address}/kubevirt"

    def prune(self, *args: str) -> dict[str, object]:
        argv = [sys.executable, "-m", "pipeline", "prune", "--json", *args]
        argv += ["--project", str(self.project / "pipeline.yaml")]
        argv += ["--registry", self.server.address]
        env = {**os.environ, **self.store.env}
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=600, check=False
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, object] = json.loads(done.stdout)
        return result

    def manifest_status(self, digest: str) -> str:
        url = f"{self.server.url}/v2/kubevirt/virt-api/manifests/{digest}"
        accept = "Accept: application/vnd.oci.image.manifest.v1+json"
        curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-I", "-H", accept, url]
        return run(curl).stdout

    def tags(self) -> list[str]:
        url = f"{self.server.url}/v2/kubevirt/virt-api/tags/list"
        out = run(["curl", "-sf", url]).stdout
        return sorted(json.loads(out)["tags"])


def _project(destination: Path) -> Path:
    return copy_inputs(destination)


def _store(tmp: Path) -> Store:
    graphroot = tmp / "storage"
    conf = tmp / "storage.conf"
    conf.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{graphroot}"\nrunroot = "{tmp / "run"}"\n'
    )
    return Store(conf, graphroot)


#: The release built for two architectures.
INDEXED = "3.1"


def _index(store: Store, path: str) -> tuple[str, str, str, tuple[str, ...]]:
    """INDEXED's images (one per architecture, named as the containers stage names them) and
    its index pushed to both unique tags: (amd64 id, arm64 id, index digest, entry digests)."""
    unique = f"{path}/virt-api:{VERSION}-{INDEXED}"
    made = {
        arch: store.image(
            f"{unique}-{rpm}", f"virt-api {INDEXED} {arch} {uuid.uuid4()}\n" * 4096, arch
        )
        for arch, rpm in (("amd64", "x86_64"), ("arm64", "aarch64"))
    }
    listed = f"localhost/prune-test/virt-api:{uuid.uuid4().hex}"
    store("manifest", "create", listed)
    for image in made.values():
        store("manifest", "add", listed, f"containers-storage:{image}")
    digest_file = store.conf.parent / f"digest-{INDEXED}"
    for tag in (unique, f"{path}/virt-api:{VERSION}.{INDEXED}"):
        store(
            "manifest",
            "push",
            "--all",
            "--format",
            "oci",
            "--tls-verify=false",
            "--digestfile",
            str(digest_file),
            listed,
            f"docker://{tag}",
        )
    store("manifest", "rm", listed)
    # The entries as pushed (the images' manifests in the registry, compressed layers).
    url = f"http://{unique.split('/', 1)[0]}/v2/kubevirt/virt-api/manifests/{VERSION}-{INDEXED}"
    index = run(["curl", "-sf", "-H", "Accept: application/vnd.oci.image.index.v1+json", url])
    entries = tuple(m["digest"] for m in json.loads(index.stdout)["manifests"])
    return made["amd64"], made["arm64"], digest_file.read_text().strip(), entries


def _images(setup_store: Store, path: str) -> tuple[dict[str, str], dict[str, str]]:
    """Each release's image in the store and pushed with its tags; ids and digests."""
    ids, digests = {}, {}
    for release in RELEASES:
        if release == INDEXED:
            continue
        unique = f"{path}/virt-api:{VERSION}-{release}"
        ids[release] = setup_store.image(unique, f"virt-api {release} {uuid.uuid4()}\n" * 4096)
        tags = [unique, f"{path}/virt-api:{VERSION}.{release}"]
        if release == RELEASES[-1]:
            tags.append(f"{path}/virt-api:{VERSION}")
        setup_store("tag", unique, *tags[1:])
        digest_file = setup_store.conf.parent / f"digest-{release}"
        for tag in tags:
            setup_store("push", "--tls-verify=false", "--digestfile", str(digest_file), tag)
        digests[release] = digest_file.read_text().strip()
    return ids, digests


def _state(project: Path, path: str, ids: dict[str, str], digests: dict[str, str]) -> None:
    """The release book, a bundle for 1.1, and a last build of 2.1."""
    build_dir = project / "build" / "local"
    book = ReleaseBook(build_dir)
    for ci_cnt in range(1, len(RELEASES) + 1):
        book.take("kubevirt", ci_cnt, lambda ci, b: f"{ci}.{b}")
    oldest = f"{path}/virt-api:{VERSION}-1.1"
    ReleaseRecord(
        product="kubevirt",
        target="local",
        version=VERSION,
        release="1.1",
        tag=f"{VERSION}-1.1",
        published="2026-01-01T00:00:00Z",
        manifests={},
        images={oldest: digests["1.1"]},
    ).save(build_dir)
    reference = f"{path}/virt-api:{VERSION}-2.1"
    built = ArchImage("linux/amd64", ids["2.1"], f"{reference}-x86_64", 0, 0, (), 0.0)
    image = ImageBuild(
        "virt-api", "kubevirt", "built", reference, (reference,), {"x86_64": built}, release="2.1"
    )
    section = ContainersSection(bases={}, images={"virt-api": image}, timings={})
    Report(build_dir / "report.json", "local").write("containers", section)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    for tool in ("buildah", "docker-registry", "curl"):
        need_tool(tool)
    tmp = tmp_path_factory.mktemp("prune")
    project = _project(tmp / "project")
    store = _store(tmp)
    # Started as a user does, in another process: prune stops and restarts it (for the garbage
    # collection), so it must not be a child of this one.
    address = f"127.0.0.1:{registry_server.free_port()}"
    yaml = str(project / "pipeline.yaml")
    registry = [sys.executable, "-m", "pipeline", "registry", "--project", yaml]
    subprocess.run([*registry, "start", "--registry", address], check=True, capture_output=True)
    server = registry_server.status(project / "build" / "registry")
    assert server is not None
    try:
        ids, digests = _images(store, f"{server.address}/kubevirt")
        ids[INDEXED], arm64, digests[INDEXED], entries = _index(store, f"{server.address}/kubevirt")
        _state(project, f"{server.address}/kubevirt", ids, digests)
        yield Setup(project, store, server, ids, digests, arm64, entries)
    finally:
        subprocess.run([*registry, "stop"], check=True, capture_output=True)
        shutil.rmtree(store.graphroot, ignore_errors=True)


def test_dry_run_lists_what_goes_and_removes_nothing(setup: Setup) -> None:
    ids, tags = setup.store.ids(), setup.tags()
    result = setup.prune("--dry-run")
    kept = {v["release"]: v["kept"] for v in result["releases"]}  # type: ignore[attr-defined]
    assert kept == {
        "1.1": "",
        "2.1": "the last build",
        "3.1": "",
        "4.1": "one of the last 3",
        "5.1": "one of the last 3",
        "6.1": "one of the last 3",
    }
    removed = {(r["where"], r["key"]) for r in result["removed"]}  # type: ignore[attr-defined]
    assert removed == {
        *(("buildah", setup.ids[release]) for release in GOES),
        ("buildah", setup.arm64),
        *(("registry", f"virt-api@{setup.digests[release]}") for release in GOES),
    }
    assert result["retired"] == [f"kubevirt-{VERSION}-1.1"]  # type: ignore[comparison-overlap]
    assert [setup.manifest_status(entry) for entry in setup.entries] == ["200", "200"]
    assert (setup.store.ids(), setup.tags()) == (ids, tags)
    assert (setup.project / "build/local/releases" / f"kubevirt-{VERSION}-1.1").is_dir()


def test_prune_keeps_what_it_promises_and_frees_what_it_reports(setup: Setup) -> None:
    store_before = disk_bytes(setup.store.graphroot)
    registry_storage = setup.project / "build" / "registry" / "storage"
    registry_before = disk_bytes(registry_storage)
    result = setup.prune()
    assert setup.store.ids() == {i for r, i in setup.ids.items() if r not in GOES}
    retired = setup.project / "build/local/retired" / f"kubevirt-{VERSION}-1.1" / "record.json"
    assert retired.is_file()
    assert not (setup.project / "build/local/releases" / f"kubevirt-{VERSION}-1.1").exists()
    expected = sorted(
        tag
        for release in RELEASES
        if release not in GOES
        for tag in (f"{VERSION}-{release}", f"{VERSION}.{release}")
    )
    assert setup.tags() == sorted([*expected, VERSION])
    # The index's images went with it, not only its tags.
    assert [setup.manifest_status(entry) for entry in setup.entries] == ["404", "404"]
    freed = result["freed"]
    assert freed == {  # type: ignore[comparison-overlap]
        "buildah": store_before - disk_bytes(setup.store.graphroot),
        "registry": registry_before - disk_bytes(registry_storage),
    }
    # The release's own layer (its content is unique) went with the garbage collection.
    assert freed["registry"] > 64 * 1024  # type: ignore[index]
    assert freed["buildah"] > 64 * 1024  # type: ignore[index]
    # The registry was running before: it runs again, on the same port, with what was kept.
    assert registry_server.status(setup.project / "build" / "registry") is not None
    again = setup.prune("--dry-run")
    assert again["removed"] == []
