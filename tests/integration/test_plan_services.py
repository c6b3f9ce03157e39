"""Every malformed ``_service`` stops ``plan`` and ``build`` before any work: broken XML, an
unknown element, an unknown service, a bad parameter. One ``file:line:col: message`` line naming
the image's own ``_service``, exit 2, no traceback, and no rpmbuild ever started (no rpmbuild
tree, no RPM). Each run is on a fresh copy of the project, so nothing was checked before."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.project import copy_project
from tests.support.paths import ROOT
from tests.support.tools import need_tool

pytestmark = pytest.mark.tools

SERVICE = "dockerfiles/kubevirt/virt-api/_service"

#: (case, text replaced, replacement, what the error says)
BROKEN = [
    ("broken-xml", "</services>", "</service>", "not well-formed XML"),
    ("unknown-element", "<service ", "<servic ", "unexpected element <servic>"),
    (
        "unknown-service",
        'name="replace_using_env"',
        'name="replace_using_envv"',
        "unknown buildtime service 'replace_using_envv'",
    ),
    (
        "bad-param",
        '<param name="var">REGISTRY</param>',
        '<param name="var">REGISTRY</param><param name="varr">TAGPREFIX</param>',
        "unrecognized arguments: --varr",
    ),
    (
        "bad-param-value",
        '<param name="var">REGISTRY</param>',
        '<param name="var">NOT-A-NAME</param>',
        "invalid variable name 'NOT-A-NAME'",
    ),
]


def broken_project(destination: Path, old: str, new: str) -> Path:
    project = copy_project(destination)
    service = project / SERVICE
    text = service.read_text()
    assert old in text
    service.write_text(text.replace(old, new, 1))
    return project


def run_verb(project: Path, verb: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pipeline", verb, "--project", str(project / "pipeline.yaml")]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)


@pytest.mark.parametrize("verb", ["plan", "build"])
@pytest.mark.parametrize(("case", "old", "new", "says"), BROKEN, ids=[c[0] for c in BROKEN])
def test_malformed_service_stops_before_any_work(
    tmp_path: Path, verb: str, case: str, old: str, new: str, says: str
) -> None:
    need_tool("rpmspec")
    project = broken_project(tmp_path / case, old, new)
    result = run_verb(project, verb)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    location = re.escape(str(project / SERVICE))
    assert re.match(rf"{location}:\d+(:\d+)?: .*{re.escape(says)}", last), last
    build_dir = project / "build" / "local"
    assert not (build_dir / "rpmbuild").exists(), "rpmbuild ran"
    assert not list(project.glob("build/**/*.rpm")), "an RPM was built"
