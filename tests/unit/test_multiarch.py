"""Multi-arch logic at the project's edges: which platforms a run builds, the architecture
names, ``#!ArchExclusiveLine``/``#!ArchExcludedLine`` per architecture, the binfmt handlers the
kernel has registered (read from a directory shaped like ``/proc/sys/fs/binfmt_misc``), and
the local names of a release's per-architecture images."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import InputError, SetupError
from pipeline.core.plan import HOST, host_platform, oci_arch, rpm_arch, select_platforms
from pipeline.obs.dockerfile import parse_dockerfile
from pipeline.obs.dockerfile_arch import for_arch
from pipeline.stages import setup_host
from pipeline.stages.prune import release_of, versions_of
from pipeline.tools import binfmt

BOTH = ("linux/amd64", "linux/arm64")


def test_the_target_platforms_unless_chosen_explicitly() -> None:
    assert select_platforms(BOTH, None, "local") == BOTH
    assert select_platforms(BOTH, HOST, "local") == (host_platform(),)
    # Chosen ones keep the declared order.
    assert select_platforms(BOTH, "linux/arm64,linux/amd64", "local") == BOTH
    with pytest.raises(InputError) as info:
        select_platforms(("linux/amd64",), "linux/s390x", "sle15-sp3")
    line = info.value.one_line()
    assert "target 'sle15-sp3' does not declare linux/s390x" in line
    assert "'host'" in line and "linux/amd64" in line


def test_architecture_names_both_ways() -> None:
    assert [rpm_arch(p) for p in BOTH] == ["x86_64", "aarch64"]
    assert [oci_arch(a) for a in ("x86_64", "aarch64", "s390x")] == ["amd64", "arm64", "s390x"]


DOCKERFILE = """\
FROM scratch
#!ArchExclusiveLine: x86_64
RUN zypper -n install sevctl && \\
# a comment inside the continuation
    zypper -n clean
#!ArchExcludedLine: x86_64 s390x
RUN echo not on x86_64

#!ArchExclusiveLine: aarch64
# a comment between the magic line and its instruction
COPY arm.conf /etc/
RUN echo everywhere
"""


def test_arch_lines_leave_their_instruction_out_of_the_other_architectures() -> None:
    x86 = for_arch(DOCKERFILE, "x86_64").splitlines()
    arm = for_arch(DOCKERFILE, "aarch64").splitlines()
    source = DOCKERFILE.splitlines()
    assert len(x86) == len(arm) == len(source)  # every line keeps its number
    assert x86[2:5] == source[2:5]
    assert x86[6] == "# (left out for x86_64) RUN echo not on x86_64"
    assert x86[10] == "# (left out for x86_64) COPY arm.conf /etc/"
    assert arm[2] == "# (left out for aarch64) RUN zypper -n install sevctl && \\"
    assert arm[3] == source[3] and arm[4] == "# (left out for aarch64)     zypper -n clean"
    assert arm[6] == source[6] and arm[10] == source[10]
    assert x86[11] == arm[11] == "RUN echo everywhere"
    parsed = parse_dockerfile("\n".join(arm), "Dockerfile").instructions
    assert [(i.keyword, i.line) for i in parsed] == [
        ("FROM", 1),
        ("RUN", 7),
        ("COPY", 11),
        ("RUN", 12),
    ]


def _binfmt(tmp_path: Path, handler: str | None) -> Path:
    root = tmp_path / "binfmt_misc"
    root.mkdir(parents=True)
    (root / "register").write_text("")
    if handler is not None:
        (root / "qemu-aarch64").write_text(handler)
    return root


def test_binfmt_handler_states(tmp_path: Path) -> None:
    enabled = "enabled\ninterpreter /nonexistent/qemu-aarch64\nflags: PF\noffset 0\n"
    assert binfmt.problem("aarch64", _binfmt(tmp_path / "a", enabled)) is None
    missing = enabled.replace("flags: PF", "flags: P")
    assert "emulator /nonexistent/qemu-aarch64 is missing" in str(
        binfmt.problem("aarch64", _binfmt(tmp_path / "b", missing))
    )
    disabled = enabled.replace("enabled", "disabled")
    assert "disabled" in str(binfmt.problem("aarch64", _binfmt(tmp_path / "c", disabled)))
    assert "no qemu-aarch64 handler" in str(
        binfmt.problem("aarch64", _binfmt(tmp_path / "d", None))
    )
    assert binfmt.problem("aarch64", tmp_path / "none") == (
        f"binfmt_misc is not mounted at {tmp_path / 'none'}"
    )


def test_a_host_that_cannot_emulate_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No fallback: the foreign platform is refused, naming why and the explicit choice."""
    monkeypatch.setenv("PIPELINE_BINFMT_DIR", str(tmp_path / "not-mounted"))
    foreign = "linux/arm64" if host_platform() == "linux/amd64" else "linux/amd64"
    monkeypatch.setattr(setup_host, "ensure_tools", lambda *args, **kwargs: None)
    with pytest.raises(SetupError) as info:
        setup_host.ensure_foreign((host_platform(), foreign), install=False)
    line = info.value.one_line()
    assert "\n" not in line
    assert line.startswith(f"Setup: {foreign} cannot be built on this")
    assert "binfmt_misc is not mounted" in line and "--platforms host" in line
    assert setup_host.ensure_foreign((host_platform(),), install=False) == []


def test_foreign_tools_name_each_distribution_package() -> None:
    tools = {tool.name: tool for tool in setup_host.foreign_tools("aarch64")}
    assert tools["qemu-aarch64"].apt == "qemu-user-static"
    assert tools["binfmt"].apt == "binfmt-support"
    assert tools["aarch64-gcc"].apt == "gcc-aarch64-linux-gnu"
    assert tools["aarch64-libc"].apt == "libc6-dev-arm64-cross"
    x86 = {tool.name: tool for tool in setup_host.foreign_tools("x86_64")}
    assert x86["x86_64-gcc"].apt == "gcc-x86-64-linux-gnu"
    assert x86["x86_64-libc"].apt == "libc6-dev-amd64-cross"


def test_a_releases_per_architecture_images_belong_to_it() -> None:
    tags = ["1.9.0-3.1-x86_64", "1.9.0-3.1-aarch64", "1.9.0.3.1", "1.9.0"]
    versions = versions_of(tags)
    assert versions == {"1.9.0"}
    assert [release_of(tag, versions) for tag in tags] == ["3.1", "3.1", "3.1", None]


RECIPE_DOCKERFILE = """\
#!BuildTag: k/virt-api:1.9.0-1.1
#!ExclusiveArch: x86_64 aarch64
FROM scratch
#!ArchExclusiveLine: aarch64
COPY arm.conf /etc/
"""


def test_the_recipe_of_each_architecture(tmp_path: Path) -> None:
    """``prepare`` per architecture: the arch lines left out for the others, and an
    ``#!ExclusiveArch`` that leaves an architecture out excludes the image on it."""
    from pipeline.config.project import Image
    from pipeline.stages.recipe import Facts, prepare

    source = tmp_path / "virt-api"
    source.mkdir()
    (source / "Dockerfile").write_text(RECIPE_DOCKERFILE)
    (source / "_service").write_text("<services/>\n")
    facts = Facts("local", "r", "r/k", "1.9.0", "1.1", "1.9.0-1.1", 1_700_000_000, None)
    image = Image("virt-api", source)

    def recipe(arch: str) -> tuple[bool, str]:
        work = tmp_path / "work" / arch
        made = prepare(image, tmp_path, work, facts, tmp_path, tmp_path, arch)
        return made.excluded, (work / "Dockerfile").read_text().splitlines()[-1]

    assert recipe("aarch64") == (False, "COPY arm.conf /etc/")
    assert recipe("x86_64") == (False, "# (left out for x86_64) COPY arm.conf /etc/")
    assert recipe("s390x")[0] is True
    (source / "Dockerfile").write_text(RECIPE_DOCKERFILE.replace("ExclusiveArch", "ExcludeArch"))
    assert recipe("aarch64")[0] is True and recipe("s390x")[0] is False


def test_verify_expects_the_platforms_each_image_was_built_for() -> None:
    """An image an ``#!ExclusiveArch`` kept from arm64 is complete without it; every other
    reference is held to the build's platforms."""
    from pipeline.images.reference import parse_reference
    from pipeline.stages.verify import Expectations

    tag = "127.0.0.1:5555/k/only-x86:1-1.1"
    expect = Expectations(platforms=BOTH, image_platforms={tag: ("linux/amd64",)})
    assert expect.platforms_of(parse_reference(tag)) == ("linux/amd64",)
    pinned = parse_reference(f"{tag}@sha256:" + "a" * 64)
    assert expect.platforms_of(pinned) == ("linux/amd64",)
    assert expect.platforms_of(parse_reference("127.0.0.1:5555/k/virt-api:1-1.1")) == BOTH
