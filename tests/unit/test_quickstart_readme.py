"""The README's quick start: two commands, the main job and the tests, through one bootstrap;
CI runs exactly the second. (tests/integration/test_quickstart.py runs the first on a fresh
Debian 12.)"""

from __future__ import annotations

import shlex

from tests.support.paths import ROOT
from tests.support.quickstart import readme_commands


def test_quick_start_is_two_commands_and_ci_runs_the_tests_one() -> None:
    main_job, tests = readme_commands()
    main_words, test_words = shlex.split(main_job), shlex.split(tests)
    assert main_words == ["./noxw", "-s", "build", "publish", "verify-tags"]
    assert test_words == ["./noxw", "-s", "tests"]
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == tests
    assert (ROOT / "noxw").stat().st_mode & 0o111
