"""Build roots for real (``stages/build_roots.py``): debootstrap makes a Debian root once per
package set and reuses it; rpmbuild runs chrooted in it with nothing of the host's environment
and only the host directories it is given, mounted for it alone; and a BuildRequires the root's
suite cannot meet stops the rpms stage with one line, before any compile and before a release
is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config.project import Target
from pipeline.core.release import ReleaseBook
from pipeline.stages import build_roots
from pipeline.tools import rpm
from tests.support.releases import project_copy
from tests.support.targets import rooted_target
from tests.support.tools import need_tool, run_pipeline

pytestmark = [pytest.mark.tools, pytest.mark.slow]

#: A spec whose %build proves where it runs: in the trixie root (the host is not trixie),
#: without the host's environment, with the root's rpm.
PROBE_SPEC = """\
Name:           root-probe
Version:        1
Release:        1
Summary:        Where does rpmbuild run
License:        Apache-2.0
BuildArch:      noarch

%description
Probe.

%build
. /etc/os-release
test "$VERSION_CODENAME" = trixie
test -z "${PIPELINE_HOST_ONLY:-}"
mkdir -p %{buildroot}/usr/share/probe
rpm --version > %{buildroot}/usr/share/probe/rpm-version
echo seen from the root > /mnt/host/note

%files
/usr/share/probe
"""


def small_target(tmp_path: Path) -> Target:
    packages = tmp_path / "map.txt"
    packages.write_text("pkgconfig pkgconf\n")
    return rooted_target("probe", packages)


def test_a_root_is_made_once_reused_after_and_rpmbuild_runs_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_tool("debootstrap")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a root of this test's own
    monkeypatch.setenv("PIPELINE_HOST_ONLY", "must not reach the root")
    spec = tmp_path / "root-probe.spec"
    spec.write_text(PROBE_SPEC)
    target = small_target(tmp_path)
    wanted = [build_roots.Requirement("pkgconfig")]
    plan = build_roots.plan_root(spec, wanted, target, [])
    rootfs = build_roots.make_root(spec, plan, target)
    assert (rootfs / "usr/bin/pkgconf").exists() and (rootfs / "usr/bin/rpmbuild").exists()
    marker = rootfs / "made-by-this-test"
    marker.write_text("a root made again would not hold this")
    stamp = rootfs.parent / "complete"
    made = stamp.stat().st_mtime_ns
    assert build_roots.make_root(spec, plan, target) == rootfs
    assert marker.exists() and stamp.stat().st_mtime_ns == made
    # Another package set is another root; the first stays.
    other = build_roots.RootPlan((*plan.packages, "sed"), (), None)
    assert build_roots.make_root(spec, other, target) != rootfs and marker.exists()

    work = rootfs / build_roots.BUILDS_IN_ROOT / "probe"
    for part in ("SPECS", "SOURCES", "BUILD", "RPMS", "SRPMS", "BUILDROOT"):
        (work / part).mkdir(parents=True)
    (work / "SPECS" / spec.name).write_text(PROBE_SPEC)
    env = build_roots.root_env(f"/{work.relative_to(rootfs)}", 1700000000, go=False)
    host = tmp_path / "host"  # bind-mounted at /mnt/host for this build only
    host.mkdir()
    (rootfs / "mnt/host").mkdir(parents=True)
    binds = [(host, "/mnt/host")]
    spec_in_root = work / "SPECS" / spec.name
    rpm.rpmbuild(spec_in_root, work, work / "SOURCES", [], env, root=rootfs, binds=binds)
    assert (host / "note").read_text() == "seen from the root\n"
    assert str(rootfs) not in Path("/proc/self/mountinfo").read_text()  # nothing left mounted
    built = next((work / "RPMS").rglob("root-probe-1-1.noarch.rpm"))
    rpm.extract(built, tmp_path / "unpacked")
    inside = (tmp_path / "unpacked/usr/share/probe/rpm-version").read_text()
    assert inside.startswith("RPM version 4.20"), inside  # trixie's rpm, not the host's


def test_a_buildrequires_the_suite_cannot_meet_stops_rpms_before_any_compile(
    tmp_path: Path,
) -> None:
    """The issue's case: libnbd-devel >= 1.18 in a bookworm root (1.14)."""
    need_tool("debootstrap")
    project = project_copy(tmp_path / "project")
    text = project.read_text()
    assert "build_root: {suite: trixie," in text
    project.write_text(text.replace("build_root: {suite: trixie,", "build_root: {suite: bookworm,"))
    done = run_pipeline("rpms", "--project", str(project), "--platforms", "host")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert (
        "kubevirt.spec: BuildRequires libnbd-devel >= 1.18 (target local) is not met: "
        in (lines[0])
    )
    assert "Debian bookworm has libnbd-dev 1.14" in lines[0]
    assert "targets.local.build_root.suite" in lines[0]
    build = project.parent / "build/local"
    assert not (build / "rpmbuild").exists()  # nothing compiled
    assert ReleaseBook(build).taken("kubevirt") == []  # no release used up
