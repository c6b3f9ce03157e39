"""build = rpms, then containers: the whole of step 1 and step 2 for a target."""

from __future__ import annotations

from dataclasses import asdict

from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.stages import containers, rpms


def main(ctx: Context) -> int:
    built = rpms.run_stage(ctx)
    console().print(rpms.summary(built))
    images = containers.run_stage(ctx)
    console().print(containers.summary(images))
    emit(
        ctx.options, {"rpms": [asdict(r) for r in built], "containers": [asdict(r) for r in images]}
    )
    containers.raise_for_failures(images)
    return 0
