"""The `local` base image, the real thing built with debootstrap, rpmbuild and buildah, proven by
zypper installing real RPMs into images built FROM it; and the manifest list of every
architecture's base, from which ``buildah build --platform`` takes that platform's (the arm64
one run under qemu-user).

The images are cached in the repository's ``build/base`` (the same cache the pipeline uses), so a
second run of this module, or a pipeline run after it, reuses them: cold about 2 minutes for the
host's and 6 for arm64 (debootstrap's second stage emulated), cached about 2 seconds.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.core.errors import ContainersError
from pipeline.stages import debian_tree
from pipeline.stages import local_base as base_image
from pipeline.tools import buildah
from pipeline.tools.run import run
from tests.support.paths import ROOT
from tests.support.tools import need_tool, unavailable

DOCKERFILES = ROOT / "dockerfiles"
#: An existing, empty directory of every base (Debian and openSUSE alike): mounting the repo
#: there leaves no mount point behind in the image layer.
REPO_MOUNT = "/mnt"
REPO_FILE = """\
[pipeline]
name=pipeline build repository
baseurl=file://{mount}
enabled=1
autorefresh=1
gpgcheck=0
repo_gpgcheck=0
pkg_gpgcheck=0
"""


def need_root() -> None:
    if os.geteuid() == 0:
        return
    unavailable("debootstrap and `buildah mount` need root")


# --- the real image ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def local_base() -> base_image.BaseImage:
    for tool in ("debootstrap", "buildah", "rpmbuild", "/usr/lib/rpm/elfdeps"):
        need_tool(tool)
    need_root()
    return base_image.ensure_local_base(ROOT / "build")


@pytest.fixture(scope="session")
def local_bases() -> base_image.LocalBases:
    for tool in ("debootstrap", "buildah", "rpmbuild", "/usr/lib/rpm/elfdeps"):
        need_tool(tool)
    need_root()
    return base_image.ensure_local_bases(ROOT / "build", ("x86_64", "aarch64"))


@pytest.mark.tools
def test_unreachable_mirror_is_one_line_naming_it(tmp_path: Path) -> None:
    need_tool("debootstrap")
    need_root()
    mirror = "http://127.0.0.1:9/debian"
    with pytest.raises(ContainersError) as info:
        debian_tree.debootstrap(
            tmp_path, ["zypper"], suite="bookworm", mirror=mirror, arch="x86_64"
        )
    line = info.value.one_line()
    assert "\n" not in line
    assert line.startswith(
        f"Containers: debootstrap of Debian bookworm (amd64) with zypper from {mirror} failed"
    )
    assert "connect to it or pass another mirror" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.tools
@pytest.mark.slow
def test_second_call_reuses_the_image(local_base: base_image.BaseImage) -> None:
    again = base_image.ensure_local_base(ROOT / "build")
    assert again.built is False
    assert (again.name, again.image_id, again.inputs_hash) == (
        local_base.name,
        local_base.image_id,
        local_base.inputs_hash,
    )
    assert local_base.name == f"{base_image.IMAGE}:{base_image.inputs_hash()}-{local_base.arch}"
    assert buildah.inspect(local_base.name)["FromImageID"] == local_base.image_id


@pytest.mark.tools
@pytest.mark.slow
def test_the_list_gives_each_platform_its_base(
    local_bases: base_image.LocalBases, tmp_path: Path, image_name: str
) -> None:
    """``FROM`` the list with ``--platform``: each build runs on its architecture's base (the
    arm64 one under qemu-user), and ``latest`` names the same list."""
    assert local_bases.name == f"{base_image.IMAGE}:{base_image.inputs_hash()}"
    listed = buildah.manifest_inspect(f"{base_image.IMAGE}:latest")
    assert listed == buildah.manifest_inspect(local_bases.name)
    assert listed is not None
    assert [m["platform"]["architecture"] for m in listed["manifests"]] == ["arm64", "amd64"]
    (tmp_path / "Dockerfile").write_text(
        "ARG KUBEVIRTFROM\nFROM $KUBEVIRTFROM\nRUN uname -m > /arch && rpm --eval '%{_arch}'"
        " > /rpm-arch\n"
    )
    for arch, oci in (("x86_64", "amd64"), ("aarch64", "arm64")):
        built = buildah.build(
            tmp_path,
            tmp_path / "Dockerfile",
            [image_name],
            build_args={"KUBEVIRTFROM": local_bases.name},
            pull_policy="never",
            layers=False,
            platform=f"linux/{oci}",
        )
        assert buildah.inspect(built)["OCIv1"]["architecture"] == oci
        out = buildah.run_in(built, ["sh", "-c", "cat /arch /rpm-arch"]).stdout
        assert out.split() == [arch, arch]
        base = local_bases.images[arch]
        assert base.arch == arch and base.name.endswith(f"-{arch}")


@pytest.mark.tools
@pytest.mark.slow
def test_image_has_rpm_zypper_and_the_provides(local_base: base_image.BaseImage) -> None:
    out = buildah.run_in(
        local_base.name,
        [
            "sh",
            "-c",
            "rpm --version && zypper --version && "
            "rpm -q --qf '%{NAME}\\n' --whatprovides libvirt-client qemu-x86 shadow /bin/sh "
            "'libc.so.6(GLIBC_2.34)(64bit)' && . /etc/os-release && echo \"os=$ID\"",
        ],
    ).stdout
    assert "RPM version 4." in out
    assert "zypper 1." in out
    providers = out.splitlines()[2:7]
    assert providers == ["pipeline-local-base-stubs"] * 2 + ["pipeline-local-base"] * 3
    assert out.splitlines()[-1] == "os=pipeline-local-base"


@dataclass(frozen=True)
class Repo:
    path: Path
    reposd: Path

    def volumes(self) -> list[buildah.Volume]:
        return [
            buildah.Volume(self.path, REPO_MOUNT),
            buildah.Volume(self.reposd, "/etc/zypp/repos.d"),
        ]


def _rpm(topdir: Path, name: str, requires: list[str], files: dict[str, str]) -> None:
    install = "\n".join(
        f"mkdir -p %{{buildroot}}{Path(path).parent}\n"
        f"printf '%s' {shlex.quote(body)} > %{{buildroot}}{path}\nchmod 755 %{{buildroot}}{path}"
        for path, body in files.items()
    )
    spec = topdir / f"{name}.spec"
    spec.write_text(
        "\n".join(
            [
                f"Name: {name}",
                "Version: 1.9.0",
                "Release: 7.1",
                "Summary: test payload",
                "License: Apache-2.0",
                "BuildArch: noarch",
                *(f"Requires: {r}" for r in requires),
                "%description",
                "test payload",
                "%install",
                install,
                "%files",
                *files,
                "",
            ]
        )
    )
    run(
        [
            "rpmbuild",
            "-bb",
            "--define",
            f"_topdir {topdir}",
            "--define",
            f"_rpmdir {topdir / 'repo'}",
            str(spec),
        ]
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """A createrepo_c repository of small real RPMs shaped like the product's, each requiring
    capabilities the base provides for real (/bin/sh, glibc) and stubs (libvirt-client)."""
    need_tool("createrepo_c")
    top = tmp_path_factory.mktemp("rpms")
    _rpm(
        top,
        "pipeline-hello",
        ["libvirt-client", "/bin/sh", "glibc >= 2.17"],
        {"/usr/share/pipeline-hello/greeting": "hello from an RPM\n"},
    )
    _rpm(
        top,
        "kubevirt-virt-launcher",
        ["libvirt-client", "libvirt-daemon-driver-qemu", "/bin/sh"],
        {"/usr/bin/virt-launcher": "#!/bin/sh\necho virt-launcher\n"},
    )
    _rpm(
        top,
        "kubevirt-container-disk",
        ["/bin/sh"],
        {"/usr/bin/container-disk": "#!/bin/sh\necho container-disk\n"},
    )
    _rpm(top, "kubevirt-virt-api", ["/bin/sh"], {"/usr/bin/virt-api": "#!/bin/sh\necho virt-api\n"})
    run(["createrepo_c", "--quiet", str(top / "repo")])
    reposd = top / "repos.d"
    reposd.mkdir()
    (reposd / "pipeline.repo").write_text(REPO_FILE.format(mount=REPO_MOUNT))
    return Repo(top / "repo", reposd)


def _assert_nothing_of_the_build_stays(image: str) -> None:
    leftovers = buildah.run_in(
        image,
        [
            "sh",
            "-c",
            "find /etc/zypp/repos.d /mnt -mindepth 1; find /var/cache/zypp -type f; "
            "ls /var/log/zypper.log /var/log/zypp 2>/dev/null; true",
        ],
    ).stdout
    assert leftovers.split() == []


@pytest.fixture
def image_name() -> Iterator[str]:
    name = f"localhost/pipeline-test/base-consumer:{os.getpid()}"
    yield name
    if buildah.exists(name):
        buildah.rmi(name)


@pytest.mark.tools
@pytest.mark.slow
def test_zypper_installs_from_the_mounted_repo_in_a_run_step(
    local_base: base_image.BaseImage, repo: Repo, tmp_path: Path, image_name: str
) -> None:
    (tmp_path / "Dockerfile").write_text(
        "ARG KUBEVIRTFROM\nFROM $KUBEVIRTFROM\n"
        "RUN zypper -n refresh && zypper -n install pipeline-hello && zypper -n clean -a && \\\n"
        "    rm -rf /var/log/zypper.log /var/log/zypp /var/cache/zypp/*\n"
    )
    image_id = buildah.build(
        tmp_path,
        tmp_path / "Dockerfile",
        [image_name],
        build_args={"KUBEVIRTFROM": local_base.name},
        volumes=repo.volumes(),
        pull_policy="never",
        layers=False,
    )
    assert buildah.inspect(image_name)["FromImageID"] == image_id
    out = buildah.run_in(
        image_name, ["sh", "-c", "rpm -q pipeline-hello && cat /usr/share/pipeline-hello/greeting"]
    ).stdout
    assert out == "pipeline-hello-1.9.0-7.1.noarch\nhello from an RPM\n"
    _assert_nothing_of_the_build_stays(image_name)


@pytest.mark.tools
@pytest.mark.slow
@pytest.mark.parametrize("image", ["virt-launcher", "virt-api"])
def test_project_dockerfile_builds_on_the_local_base(
    local_base: base_image.BaseImage, repo: Repo, image: str, image_name: str
) -> None:
    """The real Dockerfiles, unsubstituted (placeholders sit in comments and label values),
    resolve their distribution packages against the base's stubs."""
    context = DOCKERFILES / "kubevirt" / image
    buildah.build(
        context,
        context / "Dockerfile",
        [image_name],
        build_args={"KUBEVIRTFROM": local_base.name},
        volumes=repo.volumes(),
        pull_policy="never",
        layers=False,
    )
    config = buildah.inspect(image_name)["OCIv1"]["config"]
    assert config["Entrypoint"] == [f"/usr/bin/{image}"]
    out = buildah.run_in(image_name, [f"/usr/bin/{image}"]).stdout
    assert out == f"{image}\n"
    if image == "virt-api":
        assert config["User"] == "1001"
        passwd = buildah.run_in(image_name, ["getent", "passwd", "1001"]).stdout
        assert passwd.startswith("virt-api:x:1001:")
    else:
        assert config.get("User", "") in ("", "0", "root")
    _assert_nothing_of_the_build_stays(image_name)
