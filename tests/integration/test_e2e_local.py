"""The whole flow on the offline `local` target with the real tools: rpmbuild, createrepo_c,
buildah, zypper, the distribution registry. The session's one full build (shared with the
reliability suites), copied; the tests read what it made, publish it, change inputs and check
what is rebuilt. They run in
any order: every test that changes an input builds again before it ends, so the project is
always built as it stands, and the tests that need a published set ask for the fixture that
publishes it.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.release import ReleaseRecord
from pipeline.images.manifests import scan_files
from pipeline.images.reference import parse_reference
from pipeline.images.registry import NotFound, RegistryClient
from pipeline.obs.service import load_service
from pipeline.tools import buildah
from pipeline.tools import rpm as rpmtool
from tests.support.paths import ROOT
from tests.support.registry import delete_manifest
from tests.support.shared_build import SharedBuild
from tests.support.tools import need_tool

pytestmark = [pytest.mark.tools, pytest.mark.slow]

KUBEVIRT_PACKAGES = {
    "kubevirt-virtctl",
    "kubevirt-virt-api",
    "kubevirt-virt-controller",
    "kubevirt-virt-handler",
    "kubevirt-virt-launcher",
    "kubevirt-virt-operator",
    "kubevirt-container-disk",
    "kubevirt-virt-exportproxy",
    "kubevirt-virt-exportserver",
    "kubevirt-pr-helper-conf",
    "kubevirt-sidecar-shim",
    "kubevirt-virt-synchronization-controller",
    "kubevirt-manifests",
    "obs-service-kubevirt_containers_meta",
}
#: The `local` target's platforms, as rpm names them.
ARCHES = ("x86_64", "aarch64")
PLATFORMS = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}
CDI_PACKAGES = {
    f"containerized-data-importer-{sub}"
    for sub in (
        "api",
        "cloner",
        "controller",
        "importer",
        "operator",
        "uploadproxy",
        "uploadserver",
        "manifests",
    )
} | {"obs-service-cdi_containers_meta"}


@dataclass
class LocalBuild:
    project: Path
    #: The registry the build names and publishes to (the shared build's, behind its proxy).
    address: str

    def pipeline(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                *args,
                "--project",
                str(self.project / "pipeline.yaml"),
                "--registry",
                self.address,
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            timeout=3600,
        )

    def report(self) -> dict[str, Any]:
        return json.loads((self.project / "build/local/report.json").read_text())

    def rpms(self, arch: str = "x86_64") -> list[Path]:
        return sorted((self.project / f"build/local/repo/{arch}/RPMS").glob("*.rpm"))


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, shared: SharedBuild) -> LocalBuild:
    """A copy of the session's one full build (tests/support/shared_build.py: built, published
    and verified once, with an interruption on the way); these tests change their copy."""
    need_tool("debootstrap")
    copied = shared.copy(tmp_path_factory.mktemp("e2e") / "project")
    return LocalBuild(copied.root, shared.address)


@pytest.fixture(scope="module")
def published(local: LocalBuild) -> LocalBuild:
    result = local.pipeline("publish")
    assert result.returncode == 0, result.stderr[-3000:]
    return local


def test_rpms_hold_every_subpackage_for_each_architecture(local: LocalBuild) -> None:
    for arch in ARCHES:
        infos = [rpmtool.query(path) for path in local.rpms(arch)]
        names = {info.name for info in infos}
        assert names >= KUBEVIRT_PACKAGES | CDI_PACKAGES, arch
        assert {info.arch for info in infos} == {arch}
    products = local.report()["rpms"]["products"]
    assert {tuple(p["arches"]) for p in products.values()} == {tuple(ARCHES)}
    for arch in ARCHES:  # one meta env file per architecture, and all alike
        for meta in ("kubevirt_containers_meta", "cdi_containers_meta"):
            path = local.project / f"build/local/sysroot/{arch}/usr/lib/obs/service/{meta}"
            x86 = local.project / f"build/local/sysroot/x86_64/usr/lib/obs/service/{meta}"
            assert path.read_text() == x86.read_text()


def test_manifests_and_meta_env_file_agree(local: LocalBuild, tmp_path: Path) -> None:
    report = local.report()["rpms"]["products"]
    registry_path = f"{local.address}/kubevirt"
    for product, package, manifest, pattern in (
        (
            "kubevirt",
            "kubevirt-manifests",
            "usr/share/kube-virt/manifests/release/kubevirt-operator.yaml",
            r"image: (\S+/virt-operator:\S+)",
        ),
        (
            "cdi",
            "containerized-data-importer-manifests",
            "usr/share/cdi/manifests/release/cdi-operator.yaml",
            r"(\S+/cdi-operator:\S+)",
        ),
    ):
        entry = report[product]
        tag = f"{entry['version']}-{entry['release']}"
        path = next(p for p in local.rpms() if rpmtool.query(p).name == package)
        rpmtool.extract(path, tmp_path / product)
        text = (tmp_path / product / manifest).read_text()
        assert (
            re.search(pattern, text).group(1) == f"{registry_path}/{manifest_image(product)}:{tag}"
        )
        env = entry["env"]
        assert env == {
            "REGISTRY": local.address,
            "TAGPREFIX": "kubevirt",
            "LABELPREFIX": "org.opensuse.kubevirt",
            "PKG_VERSION": entry["version"],
            "PKG_RELEASE": entry["release"],
        }
        if product == "kubevirt":
            assert f"value: {tag}" in text or f'value: "{tag}"' in text  # KUBEVIRT_VERSION
        else:
            for var, image in (
                ("CONTROLLER_IMAGE", "cdi-controller"),
                ("IMPORTER_IMAGE", "cdi-importer"),
                ("CLONER_IMAGE", "cdi-cloner"),
                ("APISERVER_IMAGE", "cdi-apiserver"),
                ("UPLOAD_SERVER_IMAGE", "cdi-uploadserver"),
                ("UPLOAD_PROXY_IMAGE", "cdi-uploadproxy"),
            ):
                assert re.search(
                    rf'name: {var}\s+value: "?{re.escape(registry_path)}/{image}:{tag}"?\n', text
                ), var


def manifest_image(product: str) -> str:
    return "virt-operator" if product == "kubevirt" else "cdi-operator"


def test_every_image_is_built_for_each_architecture_and_labelled(local: LocalBuild) -> None:
    images = local.report()["containers"]["images"]
    products = local.report()["rpms"]["products"]
    assert len(images) == 17
    for name, entry in images.items():
        assert entry["state"] in ("built", "up to date"), entry
        tag = products[entry["product"]]["tag"]
        assert entry["reference"] == f"{local.address}/kubevirt/{name}:{tag}"
        assert entry["reference"] in entry["tags"]
        assert set(entry["arches"]) == set(ARCHES), name
        for arch, built in entry["arches"].items():
            assert built["name"] == f"{entry['reference']}-{arch}"
            listed = buildah.inspect(built["name"])
            assert listed["FromImageID"].removeprefix("sha256:") == built["id"]
            assert f"linux/{listed['OCIv1']['architecture']}" == built["platform"]
            assert built["platform"] == PLATFORMS[arch]
            assert built["rpms"], f"{name} ({arch}) installed no RPM"
        labels = entry["labels"]
        version = products[entry["product"]]["version"]
        assert labels["org.opencontainers.image.version"] == version
        assert labels["org.opensuse.kubevirt.version"] == version
        assert labels["org.opensuse.reference"] == entry["reference"]
        assert labels["org.opensuse.kubevirt.reference"] == entry["reference"]


def own_package(image_dir: Path) -> str:
    """The RPM an image is about: the ``pkg=`` its _service's replace_using_env reads."""
    service = next(
        s for s in load_service(image_dir / "_service").services if s.name == "replace_using_env"
    )
    return service.values("eval")[0].split()[0].removeprefix("pkg=")


def test_each_architecture_holds_its_rpm_and_its_entrypoint_runs(local: LocalBuild) -> None:
    """Every image of each architecture, run (the arm64 ones under qemu-user): its own RPM is
    of that architecture, and its entrypoint prints its name, version and GOOS/GOARCH."""
    report = local.report()
    qf = "%{NAME}-%{VERSION}-%{RELEASE} %{ARCH}\\n"
    for name, entry in report["containers"]["images"].items():
        product = report["rpms"]["products"][entry["product"]]
        image_dir = next((local.project / "dockerfiles").glob(f"*/{name}"))
        package = own_package(image_dir)
        nvr = f"{package}-{product['version']}-{product['release']}"
        for arch, built in entry["arches"].items():
            entrypoint = buildah.inspect(built["id"])["OCIv1"]["config"]["Entrypoint"]
            # qemu-pr-helper is a distribution binary: a stub on the local base
            run = "" if name == "pr-helper" else f" && {shlex.join(entrypoint)}"
            script = f"rpm -q --qf {shlex.quote(qf)} {package}{run}"
            done = buildah.run_in(built["id"], ["sh", "-c", script], prints=True)
            lines = done.stdout.splitlines()
            assert lines[0] == f"{nvr} {arch}", (name, arch)
            if name == "pr-helper":
                continue
            printed, version, platform = lines[1].split()
            assert (version, platform) == (f"v{product['version']}", built["platform"])
            binary = Path(entrypoint[0]).name
            # openSUSE installs CDI's binaries as virt-cdi-*; the cloner starts through a script
            assert binary.endswith(printed) or binary == "cloner_startup.sh", (binary, printed)


def test_hygiene_nothing_of_the_build_stays_in_an_image(local: LocalBuild) -> None:
    for name, entry in local.report()["containers"]["images"].items():
        out = buildah.run_in(
            entry["arches"]["x86_64"]["id"],
            [
                "sh",
                "-c",
                "ls /etc/zypp/repos.d; find /var/cache/zypp -type f; ls /var/log/zypper.log "
                "/var/lib/obs-repositories 2>/dev/null; true",
            ],
        ).stdout
        assert out.strip() == "", f"{name} keeps build leftovers: {out}"


def test_publish_then_verify_is_green(published: LocalBuild) -> None:
    verified = published.pipeline("verify-tags", "--json", "-")
    assert verified.returncode == 0, verified.stderr[-3000:]
    result = json.loads(verified.stdout)
    assert result["ok"] is True
    assert len(result["references"]) >= 17


def test_every_tag_is_an_index_of_both_architectures(published: LocalBuild) -> None:
    """Each image's every tag names one OCI image index with an amd64 and an arm64 entry, each
    that architecture's image as built (its config is the image's id)."""
    images = published.report()["containers"]["images"]
    assert {e["product"] for e in images.values()} == {"kubevirt", "cdi"}
    with RegistryClient() as client:
        for name, entry in images.items():
            for tag in entry["tags"]:
                answer = client.get_manifest_document(tag)
                assert not isinstance(answer, NotFound), tag
                info, doc = answer
                assert info.is_index and info.digest == entry["digest"], tag
                assert info.media_type == "application/vnd.oci.image.index.v1+json"
                assert info.platforms == ("linux/amd64", "linux/arm64"), tag
            ref = parse_reference(entry["reference"])
            for item in doc["manifests"]:
                arch = next(
                    a for a, p in PLATFORMS.items() if item["platform"]["architecture"] in p
                )
                config = client.config_digest(ref.with_digest(item["digest"]))
                assert config == f"sha256:{entry['arches'][arch]['id']}", (name, arch)
    # The release records say so too: the audit holds each image to what it was published with.
    records = ReleaseRecord.load_all(published.project / "build/local")
    recorded = {ref: p for record in records for ref, p in record.platforms.items()}
    for entry in images.values():
        assert recorded[entry["reference"]] == ("linux/amd64", "linux/arm64"), entry["reference"]


def test_a_deleted_architecture_is_caught_and_a_republish_restores_it(
    published: LocalBuild,
) -> None:
    """kubevirt#15779: an index whose arm64 image is not there. verify-tags names the image
    and the platform (exit 1); publish pushes the missing image again."""
    local = published
    entry = local.report()["containers"]["images"]["virt-api"]
    ref = parse_reference(entry["reference"])
    with RegistryClient() as client:
        answer = client.get_manifest_document(ref)
        assert not isinstance(answer, NotFound)
        arm64 = next(m for m in answer[1]["manifests"] if m["platform"]["architecture"] == "arm64")
        assert delete_manifest(client, str(ref.with_digest(arm64["digest"])))
    verified = local.pipeline("verify-tags", "--json", "-")
    assert verified.returncode == 1, verified.stderr[-3000:]
    bad = [r for r in json.loads(verified.stdout)["references"] if not r["ok"]]
    assert {r["reference"].split("@")[0] for r in bad} == {entry["reference"]}
    for finding in bad:
        assert any("lacks platforms linux/arm64" in p for p in finding["problems"]), finding
    assert local.pipeline("publish").returncode == 0
    again = local.pipeline("verify-tags")
    assert again.returncode == 0, again.stderr[-3000:]


def test_a_deleted_tag_is_caught_and_a_republish_restores_it(published: LocalBuild) -> None:
    local = published
    entry = local.report()["containers"]["images"]["virt-handler"]
    with RegistryClient() as client:
        assert delete_manifest(client, entry["reference"])
    verified = local.pipeline("verify-tags", "--json", "-")
    assert verified.returncode == 1
    bad = [r for r in json.loads(verified.stdout)["references"] if not r["ok"]]
    # The tagged reference of the manifests RPM and the pinned one of the release bundle.
    assert {r["reference"].split("@")[0] for r in bad} == {entry["reference"]}
    assert {"@" in r["reference"] for r in bad} == {True, False}
    assert all(".yaml:" in r["where"] for r in bad)
    assert local.pipeline("publish").returncode == 0
    assert local.pipeline("verify-tags").returncode == 0


def test_a_second_build_builds_nothing(local: LocalBuild) -> None:
    result = local.pipeline("build", "--json", "-")
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert {r["state"] for r in data["rpms"]} == {"up to date"}
    assert {r["state"] for r in data["containers"]} == {"up to date"}


def _site_packages(venv: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in venv.glob("lib/python*/site-packages/*")}


def test_nox_build_makes_then_reuses_its_virtualenv(local: LocalBuild, tmp_path: Path) -> None:
    """``nox -s build`` runs in its own virtualenv under the envdir: made, with the project
    installed, on the first run; reused on the next, which installs nothing and builds
    nothing. Nothing is ever installed into the interpreter running nox."""
    argv = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py")]
    argv += ["--envdir", str(tmp_path / "nox"), "-s", "build", "--", "--json", "-"]
    argv += [
        "--project",
        str(local.project / "pipeline.yaml"),
        "--registry",
        local.address,
    ]
    freeze = [sys.executable, "-m", "pip", "freeze", "--all"]
    interpreter = subprocess.run(freeze, capture_output=True, text=True, check=True).stdout
    runs = []
    for _ in range(2):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-3000:]
        data = json.loads(done.stdout)
        assert {r["state"] for r in data["rpms"] + data["containers"]} == {"up to date"}
        runs.append((done.stderr, _site_packages(tmp_path / "nox" / "build")))
    (first, installed), (second, still) = runs
    assert "Creating virtual environment" in first and "pip install" in first
    assert (tmp_path / "nox" / "build" / "bin" / "python").is_file()
    assert "Reusing existing virtual environment" in second
    assert "pip install" not in second
    assert still == installed
    after = subprocess.run(freeze, capture_output=True, text=True, check=True).stdout
    assert after == interpreter


def head(reference: str) -> str | None:
    with RegistryClient() as client:
        found = client.head_manifest(reference)
    return None if isinstance(found, NotFound) else found.digest


def test_an_image_only_change_is_a_new_release_of_its_product(published: LocalBuild) -> None:
    local = published
    before = local.report()
    old_tag = before["rpms"]["products"]["kubevirt"]["tag"]
    old = {n: e for n, e in before["containers"]["images"].items() if e["product"] == "kubevirt"}
    old_digests = {e["reference"]: head(e["reference"]) for e in old.values()}
    cdi_release = before["rpms"]["products"]["cdi"]["release"]
    dockerfile = local.project / "dockerfiles/kubevirt/virt-api/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\n# a maintainer's comment\n")

    planned = json.loads(local.pipeline("plan", "--json", "-").stdout)
    kubevirt = next(p for p in planned["products"] if p["name"] == "kubevirt")
    assert kubevirt["changed"] == ["image virt-api"]
    result = local.pipeline("build", "--json", "-")
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    states = {r["product"]: r["state"] for r in data["rpms"]}
    assert states == {"kubevirt": "built", "cdi": "up to date"}
    after = local.report()
    new_tag = after["rpms"]["products"]["kubevirt"]["tag"]
    assert new_tag != old_tag
    assert after["rpms"]["products"]["cdi"]["release"] == cdi_release
    for r in data["containers"]:
        image = after["containers"]["images"][r["name"]]
        if image["product"] == "kubevirt":
            assert r["state"] == "built" and image["reference"].endswith(f":{new_tag}"), r
        else:
            assert r["state"] == "up to date", r

    assert local.pipeline("publish").returncode == 0
    verified = local.pipeline("verify-tags")
    assert verified.returncode == 0, verified.stderr[-3000:]
    # The old set is untouched: same digests under its tags, its pinned manifests still prove.
    assert {ref: head(ref) for ref in old_digests} == old_digests
    old_bundle = local.project / "build/local/releases" / f"kubevirt-{old_tag}" / "manifests"
    pinned = [str(p) for p in sorted(old_bundle.glob("*.yaml"))]
    again = local.pipeline("verify-tags", "--manifests", *pinned)
    assert again.returncode == 0, again.stderr[-3000:]


def test_pinned_manifests_name_only_digests_that_verify_tags_proves(published: LocalBuild) -> None:
    local = published
    report = local.report()
    tag = report["rpms"]["products"]["kubevirt"]["tag"]
    bundle = local.project / "build/local/releases" / f"kubevirt-{tag}"
    record = json.loads((bundle / "record.json").read_text())
    components = [
        n for n, e in report["containers"]["images"].items() if e["product"] == "kubevirt"
    ]
    scan = scan_files(sorted(bundle.glob("manifests/*.yaml")), components)
    assert scan.images
    for image in scan.images:
        assert image.reference.digest, f"{image.reference} is not pinned"
        if image.reference.tag:
            assert (
                record["images"][str(replace(image.reference, digest=None))]
                == image.reference.digest
            )
    assert "VIRT_API_IMAGE" in record["operator_env"]
    assert "VIRT_SYNCHRONIZATIONCONTROLLER_IMAGE" in record["operator_env"]
    summary = (bundle / "summary.txt").read_text().splitlines()
    listed = [line for line in summary if line.startswith(local.address)]
    assert len(listed) == len(components) and all("@sha256:" in line for line in listed)
    pinned = [str(p) for p in sorted(bundle.glob("manifests/*.yaml"))]
    verified = local.pipeline("verify-tags", "--manifests", *pinned)
    assert verified.returncode == 0, verified.stderr[-3000:]

    # A pinned manifest naming a digest nobody published is caught by name.
    forged = bundle.parent / "forged.yaml"
    digest = record["images"][f"{local.address}/kubevirt/virt-api:{tag}"]
    operator = next(Path(p) for p in pinned if digest in Path(p).read_text())
    text = operator.read_text()
    forged.write_text(text.replace(digest, "sha256:" + "0" * 64))
    bad = local.pipeline("verify-tags", "--manifests", str(forged), "--json", "-")
    assert bad.returncode == 1
    failing = {r["reference"] for r in json.loads(bad.stdout)["references"] if not r["ok"]}
    assert failing and all("0" * 64 in ref for ref in failing)

    # A bundle edited by hand is refused, naming the file, before anything is checked.
    edited = operator
    original = edited.read_bytes()
    edited.write_bytes(original + b"# edited\n")
    try:
        refused = local.pipeline("verify-tags")
        assert refused.returncode == 2
        last = refused.stderr.strip().splitlines()[-1]
        assert str(edited) in last and "edited since publish" in last, last
    finally:
        edited.write_bytes(original)


def test_a_unique_tag_someone_moved_refuses_the_publish(published: LocalBuild) -> None:
    local = published
    images = local.report()["containers"]["images"]
    victim, other = images["cdi-cloner"], images["cdi-importer"]
    original = head(victim["reference"])
    assert original == victim["digest"]
    moved = head(other["reference"])
    tls = "--dest-tls-verify=false"
    skopeo = ["skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false", tls]
    source = other["reference"].rsplit(":", 1)[0] + f"@{moved}"
    subprocess.run([*skopeo, f"docker://{source}", f"docker://{victim['reference']}"], check=True)
    try:
        tags = {ref: head(ref) for entry in images.values() for ref in entry["tags"]}
        result = local.pipeline("publish")
        assert result.returncode == 4, result.stderr[-3000:]
        last = result.stderr.strip().splitlines()[-1]
        assert victim["reference"] in last and moved in last and original in last, last
        assert "nothing was pushed" in last
        assert {ref: head(ref) for ref in tags} == tags
    finally:
        back = victim["reference"].rsplit(":", 1)[0] + f"@{original}"
        subprocess.run([*skopeo, f"docker://{back}", f"docker://{victim['reference']}"], check=True)
    assert local.pipeline("publish").returncode == 0
