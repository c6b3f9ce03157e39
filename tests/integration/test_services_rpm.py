"""``pkg=`` in eval: PKG_VERSION and PKG_RELEASE from real RPMs built with rpmbuild."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import need_tool

from pipeline.core.errors import InputError
from pipeline.obs.service import load_service
from pipeline.services.base import ServiceContext
from pipeline.services.evalparam import find_package
from pipeline.services.runner import run_services
from pipeline.tools.run import run
from tests.support.paths import DATA as TEST_DATA

pytestmark = pytest.mark.tools
DATA = TEST_DATA / "services"

SPEC = """\
Name:           %{pkg_name}
Version:        %{pkg_version}
Release:        %{pkg_release}
Summary:        Test package for the pkg= lookup
License:        MIT
BuildArch:      noarch

%description
Test package.

%files
"""


def build_rpm(topdir: Path, name: str, version: str, release: str) -> Path:
    need_tool("rpmbuild")
    spec = topdir / "SPECS" / f"{name}.spec"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(SPEC)
    run(
        [
            "rpmbuild",
            "-bb",
            "--quiet",
            "--define",
            f"_topdir {topdir}",
            "--define",
            f"pkg_name {name}",
            "--define",
            f"pkg_version {version}",
            "--define",
            f"pkg_release {release}",
            str(spec),
        ],
        timeout=120,
    )
    return topdir / "RPMS" / "noarch" / f"{name}-{version}-{release}.noarch.rpm"


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wanted package, and one whose name starts with the wanted one's."""
    topdir = tmp_path_factory.mktemp("rpmbuild")
    assert build_rpm(topdir, "kubevirt-virt-api", "1.1.0", "5.2").is_file()
    assert build_rpm(topdir, "kubevirt-virt-api-extra", "9.9.9", "9.9").is_file()
    return topdir / "RPMS"


def test_find_package_by_exact_name(rpms: Path) -> None:
    found = find_package(rpms, "kubevirt-virt-api")
    assert (found.name, found.version, found.release) == ("kubevirt-virt-api", "1.1.0", "5.2")
    assert found.rpm.name == "kubevirt-virt-api-1.1.0-5.2.noarch.rpm"
    assert find_package(rpms, "kubevirt-virt-api-extra").version == "9.9.9"


def test_no_candidate(rpms: Path) -> None:
    with pytest.raises(InputError) as info:
        find_package(rpms, "kubevirt-virt-handler")
    assert "no binary RPM named 'kubevirt-virt-handler'" in info.value.one_line()
    assert "run the rpms stage first" in info.value.one_line()


def test_several_candidates(rpms: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "RPMS"
    shutil.copytree(rpms, mixed)
    older = build_rpm(tmp_path / "older", "kubevirt-virt-api", "1.0.0", "1.1")
    shutil.copy(older, mixed / "noarch")
    with pytest.raises(InputError) as info:
        find_package(mixed, "kubevirt-virt-api")
    assert "2 RPMs named 'kubevirt-virt-api'" in info.value.one_line()


def test_real_shaped_package_takes_version_from_the_rpm(rpms: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "img"
    shutil.copytree(DATA / "kubevirt-virt-api", workdir)
    context = ServiceContext(
        sysroot=DATA / "sysroot",
        rpms_dir=rpms,
        source_date_epoch=1700000000,
        release="5.2",
        disturl="obs://localhost/KubeVirt/local/abc-kubevirt-virt-api",
    )
    results = run_services(load_service(workdir / "_service"), workdir, context)
    text = (workdir / "Dockerfile").read_text()
    # the meta file says 1.1.0 / 3.7; pkg=kubevirt-virt-api overrides with the RPM's
    assert "#!BuildTag: kubevirt/virt-api:1.1.0-5.2\n" in text
    assert 'org.opensuse.reference="registry.opensuse.org/kubevirt/virt-api:1.1.0-5.2"' in text
    assert ("pkg", "kubevirt-virt-api-1.1.0-5.2") in results[3].details
    assert "%" not in text


def test_wrong_pkg_points_at_the_eval_line(rpms: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "img"
    shutil.copytree(DATA / "kubevirt-virt-api", workdir)
    service = workdir / "_service"
    service.write_text(service.read_text().replace("pkg=kubevirt-virt-api", "pkg=kubevirt-virt"))
    context = ServiceContext(
        sysroot=DATA / "sysroot",
        rpms_dir=rpms,
        source_date_epoch=0,
        release="1.1",
        disturl="obs://localhost/P/R/abc-x",
    )
    with pytest.raises(InputError) as info:
        run_services(load_service(service), workdir, context)
    message = info.value.one_line()
    assert message.startswith(f"{service}:9: replace_using_env: {rpms}: no binary RPM named")
    assert "run the rpms stage first" in message
