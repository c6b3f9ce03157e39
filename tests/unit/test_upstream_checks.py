"""``stages/upstream``: the version read back from a Go binary's build settings, and what counts
as an entrypoint that started (run for real on the real trees: README, local-upstream)."""

from __future__ import annotations

import pytest

from pipeline.core.errors import ContainersError
from pipeline.stages.upstream import VERSION_FLAG, EntrypointRun, raise_for_entrypoints

# `go version -m` lines of the binaries the specs built from the real trees.
KUBEVIRT = (
    '\tbuild\t-ldflags="-X kubevirt.io/client-go/version.buildDate=2026-07-27T00:00:00Z '
    "-X kubevirt.io/client-go/version.gitCommit=v1.9.0 "
    '-X kubevirt.io/client-go/version.gitVersion=v1.9.0"'
)
CDI = (
    "\tbuild\t-ldflags=\"-X 'kubevirt.io/containerized-data-importer/pkg/version.gitCommit=v1.66.0'"
    " -X 'kubevirt.io/containerized-data-importer/pkg/version.gitVersion=v1.66.0'\""
)


@pytest.mark.parametrize(("settings", "version"), [(KUBEVIRT, "1.9.0"), (CDI, "1.66.0")])
def test_the_stamped_version_is_read_from_the_linker_flags(settings: str, version: str) -> None:
    found = VERSION_FLAG.search(settings)
    assert found is not None and found.group(1) == version


def test_an_unstamped_binary_has_no_version() -> None:
    assert VERSION_FLAG.search('\tbuild\t-ldflags="-s -w"') is None


@pytest.mark.parametrize(
    ("status", "output", "started"),
    [
        (0, "Usage of virt-api:", True),
        (2, "flag provided but not defined: -help", True),
        (1, "cloner_startup.sh: line 19: VOLUME_MODE: unbound variable", True),
        (127, "virt-launcher: error while loading shared libraries: libvirt.so.0", False),
        (126, "permission denied", False),
    ],
)
def test_an_entrypoint_started_unless_loader_or_kernel_refused_it(
    status: int, output: str, started: bool
) -> None:
    assert EntrypointRun("i", "/usr/bin/x", status, "", output).started is started


def test_an_entrypoint_of_another_version_or_one_that_did_not_start_fails_in_one_line() -> None:
    good = EntrypointRun("virt-api", "/usr/bin/virt-api", 0, "1.9.0", "Usage of virt-api:")
    script = EntrypointRun("cdi-cloner", "/usr/bin/cloner_startup.sh", 1, "", "VOLUME_MODE")
    raise_for_entrypoints([good, script], {"1.9.0", "1.66.0"})
    master = EntrypointRun("virt-handler", "/usr/bin/virt-handler", 0, "0.0.0-master", "Usage")
    with pytest.raises(ContainersError, match=r"virt-handler carries version 0\.0\.0-master"):
        raise_for_entrypoints([good, master], {"1.9.0", "1.66.0"})
    missing = EntrypointRun(
        "virt-launcher",
        "/usr/bin/virt-launcher",
        127,
        "1.9.0",
        "error while loading shared libraries: libvirt.so.0",
    )
    with pytest.raises(ContainersError, match="1 of 2 entrypoints did not start; virt-launcher"):
        raise_for_entrypoints([good, missing], {"1.9.0"})
