"""Prints the differential suite's agreement counts per file kind at the end of the run."""

from __future__ import annotations

import pytest

from tests.obs_differential.compare import TALLY, summary
from tests.obs_differential.reference import OBS_BUILD_DIRS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY:
        return
    found = next((d for d in OBS_BUILD_DIRS if (d / "version").is_file()), None)
    version = (found / "version").read_text().strip() if found else "?"
    terminalreporter.section(f"OBS differential: this project vs obs-build {version}")
    for line in summary():
        terminalreporter.write_line(line)
