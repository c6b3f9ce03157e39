"""The build report, ``build/<target>/report.json``: each stage records what it made.

Later stages read it instead of recomputing (NEVRAs, env values, image ids, digests). A stage
replaces only its own section, under the lock, so a concurrent or killed build cannot leave a
mixed or half-written file. A section is written only when its stage succeeded for the entries
it claims: a failed product or image is recorded as failed, never as built.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pipeline.core.errors import PipelineError
from pipeline.core.state import locked_update, read_json

FORMAT = 1


def read_report(path: Path) -> dict[str, Any]:
    return read_json(path)


def section(path: Path, stage: str) -> dict[str, Any]:
    """A stage's section of the report, ``{}`` if that stage never ran."""
    found = read_json(path).get(stage, {})
    return found if isinstance(found, dict) else {}


def require_section(path: Path, stage: str, hint: str) -> dict[str, Any]:
    found = section(path, stage)
    if not found:
        raise PipelineError(f"{path} has no {stage!r} results", hint=hint)
    return found


def write_section(path: Path, stage: str, data: dict[str, Any], target: str) -> None:
    with locked_update(path) as report:
        report["format"] = FORMAT
        report["target"] = target
        report[stage] = {**data, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
