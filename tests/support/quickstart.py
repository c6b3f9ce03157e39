"""The README's quick start, read from the README itself (the tests run what it says)."""

from __future__ import annotations

import re

from tests.support.paths import ROOT


def readme_commands() -> tuple[str, str]:
    """The two commands of the README's quick start: the main job, then the tests."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the quick start has no sh block"
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    main_job, tests = [command for command in commands if command]
    return main_job, tests
