"""The spec files, built for real: rpmbuild on the samples, the way the rpms stage calls it.

Each build packs a sample into the tarball a GitHub tag archive would be (top directory
``<name>-<version>/``), puts it next to the other files of ``specs/<product>/`` as the
source directory, rewrites ``Release:`` as OBS's build script does, and runs
``rpmbuild -ba --nodeps`` with the pinned version and, when given, the prjconf's container
macros. The checks read the built RPMs only: the subpackage list, the manifests, the meta
env file, a binary, and rpmlint.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.core.plan import host_platform
from pipeline.tools.run import run, tool_env
from tests.support.paths import ROOT
from tests.support.tools import need_tool

pytestmark = [pytest.mark.tools, pytest.mark.slow]

EXPLICIT = {
    "container_registry": "localhost:5000",
    "container_tagprefix": "kubevirt/test",
    "container_labelprefix": "org.example.kubevirt",
}
# What the openSUSE/SLE defaults must give when the prjconf sets no container macros.
SLE_15_SP3 = {"sle_version": "150300", "is_opensuse": "0"}
OPENSUSE_DEFAULTS = ("registry.opensuse.org", "kubevirt", "org.opensuse.kubevirt")
SLE_15_SP3_DEFAULTS = ("registry.suse.com", "suse/sles/15.3", "com.suse.kubevirt")

KUBEVIRT_CORE = [
    "kubevirt-container-disk",
    "kubevirt-manifests",
    "kubevirt-virt-api",
    "kubevirt-virt-controller",
    "kubevirt-virt-handler",
    "kubevirt-virt-launcher",
    "kubevirt-virt-operator",
    "kubevirt-virtctl",
    "obs-service-kubevirt_containers_meta",
]
KUBEVIRT_SINCE_0_55 = ["kubevirt-virt-exportproxy", "kubevirt-virt-exportserver"]
KUBEVIRT_SINCE_1 = [
    "kubevirt-pr-helper-conf",
    "kubevirt-sidecar-shim",
    "kubevirt-virt-synchronization-controller",
]
CDI_ALL = [
    "containerized-data-importer-api",
    "containerized-data-importer-cloner",
    "containerized-data-importer-controller",
    "containerized-data-importer-importer",
    "containerized-data-importer-manifests",
    "containerized-data-importer-operator",
    "containerized-data-importer-uploadproxy",
    "containerized-data-importer-uploadserver",
    "obs-service-cdi_containers_meta",
]
CDI_IMAGE_ENV = {
    "CONTROLLER_IMAGE": "cdi-controller",
    "IMPORTER_IMAGE": "cdi-importer",
    "CLONER_IMAGE": "cdi-cloner",
    "APISERVER_IMAGE": "cdi-apiserver",
    "UPLOAD_SERVER_IMAGE": "cdi-uploadserver",
    "UPLOAD_PROXY_IMAGE": "cdi-uploadproxy",
}


@dataclass(frozen=True)
class Case:
    """One rpmbuild: product, pinned version, release as the pipeline sets it, macros."""

    product: str
    version_macro: str
    version: str
    release: str
    macros: dict[str, str] = field(default_factory=dict)
    expected: tuple[str, str, str] = OPENSUSE_DEFAULTS
    packages: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.product}-{self.version}"

    @property
    def tag(self) -> str:
        return f"{self.version}-{self.release}"

    @property
    def prefix(self) -> str:
        registry, tagprefix, _ = self.expected
        return f"{registry}/{tagprefix}"


CASES = {
    "kubevirt-1.9.0-explicit": Case(
        "kubevirt",
        "kubevirt_version",
        "1.9.0",
        "4.2",
        EXPLICIT,
        (
            EXPLICIT["container_registry"],
            EXPLICIT["container_tagprefix"],
            EXPLICIT["container_labelprefix"],
        ),
        tuple(KUBEVIRT_CORE + KUBEVIRT_SINCE_0_55 + KUBEVIRT_SINCE_1),
    ),
    "kubevirt-0.40.0-sle-defaults": Case(
        "kubevirt",
        "kubevirt_version",
        "0.40.0",
        "1.1",
        SLE_15_SP3,
        SLE_15_SP3_DEFAULTS,
        tuple(KUBEVIRT_CORE),
    ),
    "cdi-1.66.0-defaults": Case(
        "containerized-data-importer",
        "cdi_version",
        "1.66.0",
        "2.5",
        {},
        OPENSUSE_DEFAULTS,
        tuple(CDI_ALL),
    ),
    "cdi-1.30.0-explicit": Case(
        "containerized-data-importer",
        "cdi_version",
        "1.30.0",
        "3.1",
        EXPLICIT,
        (
            EXPLICIT["container_registry"],
            EXPLICIT["container_tagprefix"],
            EXPLICIT["container_labelprefix"],
        ),
        tuple(CDI_ALL),
    ),
}


@dataclass(frozen=True)
class Built:
    case: Case
    rpms: dict[str, Path]  # package name -> binary RPM
    srpm: Path


#: Build output a local run of the sample's scripts may leave behind (the samples' .gitignore).
BUILD_OUTPUT = {
    "kubevirt": {"_out"},
    "containerized-data-importer": {"_out", "bin", "manifests/generated"},
}


def _pack_sample(product: str, version: str, dest: Path) -> Path:
    """The sample as a GitHub tag archive: one top directory ``<product>-<version>/``."""
    sample = ROOT / "samples" / product
    tarball = dest / f"{product}-{version}.tar.gz"
    top = f"{product}-{version}"

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        relative = info.name.removeprefix(top).lstrip("/")
        return None if relative in BUILD_OUTPUT[product] else info

    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(sample, arcname=top, filter=keep)
    return tarball


def _rpmbuild(case: Case, work: Path) -> Built:
    top, sources = work / "T", work / "S"
    (top / "SPECS").mkdir(parents=True)
    sources.mkdir()
    _pack_sample(case.product, case.version, sources)
    spec_dir = ROOT / "specs" / case.product
    for item in spec_dir.iterdir():
        (sources / item.name).write_bytes(item.read_bytes())
    spec_text = (spec_dir / f"{case.product}.spec").read_text()
    # As OBS's build script does: the release number replaces the spec's "Release: 0".
    spec_text, count = re.subn(r"(?m)^Release:\s+0$", f"Release:        {case.release}", spec_text)
    assert count == 1, "the spec must keep exactly one literal 'Release:        0' line"
    spec = top / "SPECS" / f"{case.product}.spec"
    spec.write_text(spec_text)

    argv = [
        "rpmbuild",
        "-ba",
        "--nodeps",
        "--define",
        f"_topdir {top}",
        "--define",
        f"_sourcedir {sources}",
        "--define",
        f"{case.version_macro} {case.version}",
        "--define",
        "source_date_epoch_from_changelog 1",
        "--define",
        "clamp_mtime_to_source_date_epoch 1",
        "--define",
        "use_source_date_epoch_as_buildtime 1",
    ]
    for name, value in case.macros.items():
        argv += ["--define", f"{name} {value}"]
    # The spec's %build runs `go`: the pipeline's own (setup-host puts it in the user cache).
    go_dir = Path(need_tool("go")).parent
    run([*argv, str(spec)], env={"PATH": f"{go_dir}:{tool_env()['PATH']}"}, timeout=900)

    rpms = {}
    for path in sorted((top / "RPMS").glob("*/*.rpm")):
        name = run(["rpm", "-qp", "--qf", "%{NAME}\n", str(path)]).stdout.strip()
        rpms[name] = path
    (srpm,) = (top / "SRPMS").glob("*.src.rpm")
    return Built(case, rpms, srpm)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Built]]:
    for tool in ("rpmbuild", "rpm", "rpm2cpio", "cpio", "rpmlint", "go", "gcc"):
        need_tool(tool)
    root = tmp_path_factory.mktemp("specs")
    # Two at a time: the machine has two cores, and each build is mostly one go process.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(_rpmbuild, case, root / key) for key, case in CASES.items()}
        yield {key: future.result() for key, future in futures.items()}


def _extract(rpm: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    payload = run(["rpm2cpio", str(rpm)], text=False).stdout
    run(["cpio", "-idm", "--quiet"], input=payload, cwd=dest, text=False)
    return dest


def _env_value(manifest: str, name: str) -> str:
    match = re.search(rf"- name: {name}\n\s+value: \"?([^\"\n]+)\"?\n", manifest)
    assert match, f"{name} is not set in the manifest"
    return match.group(1)


@pytest.mark.parametrize("key", CASES)
def test_every_subpackage_is_built(builds: dict[str, Built], key: str) -> None:
    built = builds[key]
    assert sorted(built.rpms) == sorted(built.case.packages)
    assert all(f"-{built.case.tag}." in p.name for p in built.rpms.values())


@pytest.mark.parametrize("key", CASES)
def test_meta_env_file_holds_exactly_the_build_values(
    builds: dict[str, Built], key: str, tmp_path: Path
) -> None:
    built = builds[key]
    short = "kubevirt" if built.case.product == "kubevirt" else "cdi"
    meta_pkg = f"obs-service-{short}_containers_meta"
    root = _extract(built.rpms[meta_pkg], tmp_path)
    service_dir = root / "usr/lib/obs/service"
    env_file = service_dir / f"{short}_containers_meta"
    assert (service_dir / f"{short}_containers_meta.service").is_file()

    lines = env_file.read_text().splitlines()
    assert lines[0] == "#!/bin/sh"
    body = [line for line in lines[1:] if not line.startswith("#")]
    values = dict(line.split("=", 1) for line in body)
    assert len(body) == len(values) == 5
    registry, tagprefix, labelprefix = built.case.expected
    assert values == {
        "REGISTRY": registry,
        "TAGPREFIX": tagprefix,
        "LABELPREFIX": labelprefix,
        "PKG_VERSION": built.case.version,
        "PKG_RELEASE": built.case.release,
    }
    # Still a shell file: running it does nothing and succeeds.
    assert run(["sh", str(env_file)]).stdout == ""


@pytest.mark.parametrize("key", [k for k, c in CASES.items() if c.product == "kubevirt"])
def test_kubevirt_operator_manifest_names_the_build_tag(
    builds: dict[str, Built], key: str, tmp_path: Path
) -> None:
    built = builds[key]
    root = _extract(built.rpms["kubevirt-manifests"], tmp_path)
    release_dir = root / "usr/share/kube-virt/manifests/release"
    assert sorted(p.name for p in release_dir.iterdir()) == [
        "kubevirt-cr.yaml",
        "kubevirt-operator.yaml",
    ]
    operator = (release_dir / "kubevirt-operator.yaml").read_text()
    image = f"{built.case.prefix}/virt-operator:{built.case.tag}"
    assert f"image: {image}\n" in operator
    assert _env_value(operator, "VIRT_OPERATOR_IMAGE") == image
    assert _env_value(operator, "KUBEVIRT_VERSION") == built.case.tag
    # Upstream sets the per-component image variables only when asked to; nobody asked.
    assert "VIRT_API_IMAGE" not in operator


@pytest.mark.parametrize("key", [k for k, c in CASES.items() if c.product != "kubevirt"])
def test_cdi_operator_env_names_every_image_with_the_build_tag(
    builds: dict[str, Built], key: str, tmp_path: Path
) -> None:
    built = builds[key]
    root = _extract(built.rpms["containerized-data-importer-manifests"], tmp_path)
    release_dir = root / "usr/share/cdi/manifests/release"
    assert sorted(p.name for p in release_dir.iterdir()) == ["cdi-cr.yaml", "cdi-operator.yaml"]
    operator = (release_dir / "cdi-operator.yaml").read_text()
    assert f"image: {built.case.prefix}/cdi-operator:{built.case.tag}\n" in operator
    assert _env_value(operator, "OPERATOR_VERSION") == built.case.tag
    for env, image in CDI_IMAGE_ENV.items():
        assert _env_value(operator, env) == f"{built.case.prefix}/{image}:{built.case.tag}"


@pytest.mark.parametrize(
    ("key", "package", "binary", "reported"),
    [
        ("kubevirt-1.9.0-explicit", "kubevirt-virt-operator", "virt-operator", "virt-operator"),
        ("kubevirt-1.9.0-explicit", "kubevirt-sidecar-shim", "sidecar-shim", "sidecar-shim"),
        ("kubevirt-0.40.0-sle-defaults", "kubevirt-virtctl", "virtctl", "virtctl"),
        (
            "cdi-1.66.0-defaults",
            "containerized-data-importer-operator",
            "virt-cdi-operator",
            "cdi-operator",
        ),
        (
            "cdi-1.66.0-defaults",
            "containerized-data-importer-importer",
            "cdi-containerimage-server",
            "cdi-containerimage-server",
        ),
    ],
)
def test_packaged_binary_reports_name_and_version(
    builds: dict[str, Built],
    key: str,
    package: str,
    binary: str,
    reported: str,
    tmp_path: Path,
) -> None:
    built = builds[key]
    root = _extract(built.rpms[package], tmp_path)
    out = run([str(root / "usr/bin" / binary), "--version"]).stdout
    assert out == f"{reported} v{built.case.version} {host_platform()}\n"


def test_version_conditionals_pick_the_component_files(
    builds: dict[str, Built], tmp_path: Path
) -> None:
    new = _extract(builds["kubevirt-1.9.0-explicit"].rpms["kubevirt-virt-launcher"], tmp_path / "n")
    old = _extract(
        builds["kubevirt-0.40.0-sle-defaults"].rpms["kubevirt-virt-launcher"], tmp_path / "o"
    )
    assert (new / "usr/share/kube-virt/virt-launcher/virtqemud.conf").is_file()
    assert (new / "usr/bin/virt-tail").is_file()
    assert not (old / "usr/bin/virt-tail").exists()
    assert (old / "usr/share/kube-virt/virt-launcher/libvirtd.conf").is_file()
    old_importer = _extract(
        builds["cdi-1.30.0-explicit"].rpms["containerized-data-importer-importer"], tmp_path / "ci"
    )
    assert sorted(p.name for p in (old_importer / "usr/bin").iterdir()) == ["virt-cdi-importer"]


@pytest.mark.parametrize("key", CASES)
def test_rpmlint_reports_no_errors(builds: dict[str, Built], key: str) -> None:
    built = builds[key]
    rc_file = ROOT / "specs" / built.case.product / f"{built.case.product}-rpmlintrc"
    result = run(
        ["rpmlint", "-r", str(rc_file), str(built.srpm), *map(str, built.rpms.values())],
        check=False,
        timeout=300,
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " 0 errors" in summary, result.stdout
    assert result.returncode == 0, result.stdout
